#include "nats_connection.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>

#include "nats_names.hpp"

namespace airssys::daemoneye::detail {

namespace {

struct OptionsDeleter {
  void operator()(natsOptions* o) const noexcept { natsOptions_Destroy(o); }
};
using Options = std::unique_ptr<natsOptions, OptionsDeleter>;

// The address of `fd`'s local end as text and port; false if it is not an
// IPv4/IPv6 socket.
bool local_address(int fd, std::string& ip, int& port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    if (::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf) == nullptr) return false;
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf) == nullptr) return false;
    port = ntohs(a->sin6_port);
  } else {
    return false;
  }
  ip = buf;
  return true;
}

// libnats (3.4) opens its socket without SOCK_CLOEXEC and offers no hook
// to open it ourselves, so once it is connected the socket is found among
// this process's fds by its local address (what libnats reports) and
// marked. This is the second line only: the socket is unmarked from
// libnats's socket() through TCP connect, TLS and INFO, and a failed
// attempt's socket is never marked. What keeps it from procmond is osl's
// spawn, which marks every fd above 2 close-on-exec in the child before exec;
// this mark covers children started some other way (docs/daemoneye.md).
void make_socket_cloexec(natsConnection* nc) {
  char* raw_ip = nullptr;
  int port = 0;
  if (natsConnection_GetLocalIPAndPort(nc, &raw_ip, &port) != NATS_OK || raw_ip == nullptr) return;
  const std::string want_ip = raw_ip;
  std::free(raw_ip);
  DIR* dir = ::opendir("/proc/self/fd");  // glibc opens it O_CLOEXEC
  if (dir == nullptr) return;
  const int dir_fd = ::dirfd(dir);
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd <= 2 || fd == dir_fd) continue;
    const int flags = ::fcntl(static_cast<int>(fd), F_GETFD);
    if (flags < 0 || (flags & FD_CLOEXEC) != 0) continue;
    struct stat st{};
    if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    std::string ip;
    int p = 0;
    if (!local_address(static_cast<int>(fd), ip, p) || p != port || ip != want_ip) continue;
    (void)::fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC);
  }
  ::closedir(dir);
}

// Called by libnats when a connection made in the background (retry on
// failed connect) or a reconnection is up.
void on_connected(natsConnection* nc, void*) { make_socket_cloexec(nc); }

Result<Options> make_options(const NatsConnectionConfig& c, const std::string& who) {
  natsOptions* raw = nullptr;
  if (natsStatus s = natsOptions_Create(&raw); s != NATS_OK) {
    return fail(ErrorCategory::resource_exhausted, who + ": " + nats_status_text(s));
  }
  Options o(raw);
  const auto check = [&who](natsStatus s, std::string_view what) -> Result<void> {
    if (s == NATS_OK) return {};
    // What failed and libnats's words for it (a file name, an SSL error; never a secret).
    const char* detail = nats_GetLastError(nullptr);
    return fail(s == NATS_NOT_FOUND || s == NATS_SSL_ERROR || s == NATS_INVALID_ARG ? ErrorCategory::invalid_input
                                                                                    : ErrorCategory::unavailable,
                fmt::format("{}: {}: {}", who, what,
                            detail != nullptr && *detail != '\0' ? detail : nats_status_text(s).c_str()));
  };
  Result<void> r = check(natsOptions_SetURL(raw, c.url.c_str()), "url");
  if (r) r = check(natsOptions_SetName(raw, c.name.c_str()), "name");
  if (r) r = check(natsOptions_SetTimeout(raw, c.timeout.count()), "timeout");
  if (r) r = check(natsOptions_SetMaxReconnect(raw, -1), "max reconnect");
  if (r) r = check(natsOptions_SetReconnectWait(raw, 1000), "reconnect wait");
  // With retry-on-failed-connect, libnats connects in the background only if given a callback.
  if (r) r = check(natsOptions_SetRetryOnFailedConnect(raw, true, &on_connected, nullptr), "retry on failed connect");
  if (r) r = check(natsOptions_SetReconnectedCB(raw, &on_connected, nullptr), "reconnected callback");
  if (r && !c.credentials.empty()) {
    r = check(natsOptions_SetUserCredentialsFromFiles(raw, c.credentials.c_str(), nullptr), "credentials");
  }
  if (r && !c.token.empty()) r = check(natsOptions_SetToken(raw, c.token.c_str()), "token");
  if (r && !c.user.empty()) r = check(natsOptions_SetUserInfo(raw, c.user.c_str(), c.password.c_str()), "user");
  if (r && !c.tls_ca.empty()) {
    r = check(natsOptions_SetSecure(raw, true), "tls");
    if (r) r = check(natsOptions_LoadCATrustedCertificates(raw, c.tls_ca.c_str()), "tls_ca " + c.tls_ca.string());
  }
  if (r && !c.tls_cert.empty()) {
    r = check(natsOptions_LoadCertificatesChain(raw, c.tls_cert.c_str(), c.tls_key.c_str()),
              "tls_cert " + c.tls_cert.string());
  }
  if (!r) return std::unexpected(r.error());
  return o;
}

}  // namespace

NatsConnectionConfig nats_connection_config(const SinkConfig& sink) {
  NatsConnectionConfig c;
  c.url = sink.url;
  c.timeout = sink.timeout;
  c.credentials = sink.credentials;
  c.token = sink.token;
  c.user = sink.user;
  c.password = sink.password;
  c.tls_ca = sink.tls_ca;
  c.tls_cert = sink.tls_cert;
  c.tls_key = sink.tls_key;
  return c;
}

Result<std::unique_ptr<NatsConnection>> NatsConnection::connect(const NatsConnectionConfig& config,
                                                                std::string_view who) {
  std::unique_ptr<NatsConnection> out(new NatsConnection());
  out->who_ = who;
  auto options = make_options(config, out->who_);
  if (!options) return std::unexpected(options.error());
  const natsStatus s = natsConnection_Connect(&out->nc_, options->get());
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    return fail(ErrorCategory::unavailable,
                fmt::format("{}: connect to {}: {}", out->who_, redact_nats_url(config.url), nats_status_text(s)));
  }
  out->connected_at_start_ = s == NATS_OK;
  if (out->connected_at_start_) make_socket_cloexec(out->nc_);
  return out;
}

NatsConnection::~NatsConnection() {
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
}

Result<JsCtxPtr> NatsConnection::jetstream() const {
  jsCtx* raw = nullptr;
  if (const natsStatus s = natsConnection_JetStream(&raw, nc_, nullptr); s != NATS_OK) {
    return fail(ErrorCategory::unavailable, who_ + ": JetStream context: " + nats_status_text(s));
  }
  return JsCtxPtr(raw);
}

std::uint64_t NatsConnection::reconnects() const noexcept {
  natsStatistics* stats = nullptr;
  if (natsStatistics_Create(&stats) != NATS_OK) return 0;
  std::uint64_t n = 0;
  if (natsConnection_GetStats(nc_, stats) != NATS_OK ||
      natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &n) != NATS_OK) {
    n = 0;
  }
  natsStatistics_Destroy(stats);
  return n;
}

void NatsConnection::close() noexcept { natsConnection_Close(nc_); }

}  // namespace airssys::daemoneye::detail
