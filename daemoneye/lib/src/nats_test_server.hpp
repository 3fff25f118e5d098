#pragma once
// Test helper: a real nats-server with JetStream on 127.0.0.1 and a free
// port, its store in a temp dir, owned by the test (stopped by its pid, and
// killed with the Child if a test fails), plus libnats calls to make and
// read the stream the sink publishes to.

#include <airssys/testing/child.hpp>
#include <airssys/testing/eventually.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace airssys::daemoneye::testing {

// A port nothing listens on right now (the kernel's pick for 127.0.0.1:0).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

class NatsServer {
 public:
  // `extra`: more nats-server arguments (e.g. {"--auth", TOKEN}).
  NatsServer(std::filesystem::path store, std::filesystem::path log, std::vector<std::string> extra = {})
      : store_(std::move(store)), log_(std::move(log)), extra_(std::move(extra)), port_(free_port()) {}
  ~NatsServer() { stop(); }

  // Starts it (again, on the same port and store) and waits until it listens.
  void start() {
    ::airssys::testing::SpawnOptions o;
    o.stderr_path = log_;
    o.stdout_path = log_;
    std::vector<std::string> argv{"nats-server", "-js", "-sd", store_.string(), "-a", "127.0.0.1", "-p",
                                  std::to_string(port_)};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    child_.emplace(argv, o);
    ASSERT_TRUE(::airssys::testing::eventually([&] { return accepts_connections(port_) || child_->exited(); },
                                               std::chrono::seconds(30)));
    ASSERT_FALSE(child_->exited()) << "nats-server did not start; see " << log_;
  }
  // SIGTERM, then waits for it to exit.
  void stop() {
    if (!child_) return;
    child_->signal(SIGTERM);
    (void)child_->wait(std::chrono::seconds(30));
    child_.reset();
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  std::filesystem::path store_, log_;
  std::vector<std::string> extra_;
  int port_;
  std::optional<::airssys::testing::Child> child_;
};

struct StoredMsg {
  std::string subject, data, msg_id;
};

// A libnats connection of the test's own, to make and read streams.
class NatsClient {
 public:
  explicit NatsClient(const std::string& url) {
    if (natsConnection_ConnectTo(&nc_, url.c_str()) == NATS_OK) (void)natsConnection_JetStream(&js_, nc_, nullptr);
  }
  ~NatsClient() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  [[nodiscard]] bool ok() const { return js_ != nullptr; }

  // A file-backed stream over `subjects` (e.g. "daemoneye.alerts.>").
  [[nodiscard]] bool add_stream(const std::string& name, const std::string& subjects) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    const char* subj[] = {subjects.c_str()};
    cfg.Subjects = subj;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    if (si != nullptr) jsStreamInfo_Destroy(si);
    return s == NATS_OK;
  }

  // How many messages the stream holds (nullopt: no such stream / no answer).
  [[nodiscard]] std::optional<std::uint64_t> count(const std::string& stream) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &jerr) != NATS_OK) return std::nullopt;
    const std::uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
  }

  // Every stored message, by sequence.
  [[nodiscard]] std::vector<StoredMsg> messages(const std::string& stream) {
    std::vector<StoredMsg> out;
    const auto n = count(stream);
    for (std::uint64_t seq = 1; n && seq <= *n; ++seq) {
      natsMsg* m = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      if (js_GetMsg(&m, js_, stream.c_str(), seq, nullptr, &jerr) != NATS_OK) break;
      StoredMsg sm;
      sm.subject = natsMsg_GetSubject(m);
      sm.data.assign(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
      const char* id = nullptr;
      if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) sm.msg_id = id;
      natsMsg_Destroy(m);
      out.push_back(std::move(sm));
    }
    return out;
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace airssys::daemoneye::testing
