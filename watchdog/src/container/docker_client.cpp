#include "container/docker_client.hpp"

#include <airssys/osl/unique_fd.hpp>

#include <curl/curl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

namespace airssys::watchdog::container {

namespace {

constexpr const char* kApiPrefix = "/v1.41";
constexpr const char* kDefaultHost = "unix:///var/run/docker.sock";

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

struct Transfer {
  const RequestOptions* opts;
  std::string body;
  bool sink_refused = false;
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * n;
  if (t->opts->sink) {
    if (!t->opts->sink(std::string_view(data, len))) {
      t->sink_refused = true;
      return 0;  // aborts the transfer
    }
  } else {
    t->body.append(data, len);
  }
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* t = static_cast<Transfer*>(user);
  return t->opts->cancel != nullptr && t->opts->cancel->load() ? 1 : 0;
}

// Why nothing answers on `path`: the errno of a plain connect().
std::string connect_reason(const std::string& path) {
  osl::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return std::strerror(errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return "socket path too long";
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return std::strerror(errno);
  return {};
}

}  // namespace

DockerClient::DockerClient(std::string socket_path) : socket_(std::move(socket_path)) {}

std::expected<DockerClient, Error> DockerClient::from_env() {
  const char* env = std::getenv("DOCKER_HOST");
  const std::string host = env != nullptr && *env != '\0' ? env : kDefaultHost;
  constexpr std::string_view scheme = "unix://";
  if (!host.starts_with(scheme) || host.size() == scheme.size()) {
    return std::unexpected(Error{ErrorCategory::usage, fmt::format("DOCKER_HOST '{}': only unix:///PATH is supported", host)});
  }
  return DockerClient(host.substr(scheme.size()));
}

std::expected<HttpResponse, Error> DockerClient::request(std::string_view method, const std::string& path,
                                                         const RequestOptions& opts) const {
  global_init();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    // libcurl is loaded on first use (src/curl_lazy.cpp); NULL here means it could not be.
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("no container engine at {}: libcurl could not be loaded "
                                                                 "(is libcurl.so.4 installed?)", endpoint())});
  }
  CURL* c = curl.get();
  Transfer t{&opts, {}, false};
  char errbuf[CURL_ERROR_SIZE] = {};
  // The host name is not used on a Unix socket; "docker" is what the docker CLI sends.
  const std::string url = fmt::format("http://docker{}{}", kApiPrefix, path);
  const std::string verb(method);
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, verb.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
  if (opts.cancel != nullptr) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  if (!opts.body.empty() || method == "POST") {
    headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, opts.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(opts.body.size()));
  }
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK && !(t.sink_refused && rc == CURLE_WRITE_ERROR) &&
      !(rc == CURLE_ABORTED_BY_CALLBACK && opts.cancel != nullptr)) {
    if (rc == CURLE_COULDNT_CONNECT) {
      std::string why = connect_reason(socket_);
      if (why.empty()) why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
      return std::unexpected(Error{ErrorCategory::failure, fmt::format("no container engine at {}: {}", endpoint(), why)});
    }
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("container engine at {}: {} {}: {}", endpoint(), verb, path,
                                                                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc))});
  }
  HttpResponse r;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  r.body = std::move(t.body);
  return r;
}

std::expected<void, Error> DockerClient::ping() const {
  auto r = request("GET", "/_ping", {.timeout = std::chrono::milliseconds(10'000)});
  if (!r) return std::unexpected(r.error());
  if (r->status != 200) {
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("no container engine at {}: /_ping answered HTTP {}: {}",
                                                                 endpoint(), r->status, engine_message(*r))});
  }
  return {};
}

std::string engine_message(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  std::string s = r.body;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? fmt::format("HTTP {}", r.status) : s;
}

std::string url_escape(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += ch;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

}  // namespace airssys::watchdog::container
