#pragma once
// NatsConnection — one libnats connection built from the NATS keys every
// DaemonEye NATS user shares (url, name, timeout, credentials / token /
// user + password, TLS files): the nats alert sink, process-event
// forwarding and live queries open their connections through it, so the
// keys mean the same everywhere (docs/daemoneye.md "Forwarding to NATS
// JetStream").
//
// connect() uses retry-on-failed-connect: a server that is not reachable
// yet is not an error (connected_at_start() is false and libnats keeps
// trying in the background, every second, across the servers in `url`,
// forever; it also reconnects on its own after an outage). Errors are for
// what no retry fixes: a malformed option, an unreadable credentials or TLS
// file (invalid_input), or libnats refusing outright (unavailable).
// Messages name the servers without user:password@ and never a token,
// password or credentials file content.
//
// The socket libnats opens (at connect and at every reconnect) is made
// close-on-exec here: libnats 3.4 creates it without, and the agent spawns
// procmond, which must not inherit it.
//
// Thread-safety: libnats connections are thread-safe; close() may be
// called from any thread to cut short a call waiting on the connection
// (a publish waiting for its ack, a request).

#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/error.hpp>

#include <nats/nats.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

struct NatsConnectionConfig {
  std::string url;                          // one or more nats:// / tls:// URLs, comma-separated
  std::string name = "daemoneye-agent";     // the client name the server shows
  std::chrono::milliseconds timeout{5000};  // connect timeout (and, for its users, their wait per call)
  std::filesystem::path credentials;        // a .creds file (JWT + NKey seed)
  std::string token;                        // or a token
  std::string user, password;               // or user + password
  std::filesystem::path tls_ca;             // CA bundle to verify the server (implies TLS)
  std::filesystem::path tls_cert, tls_key;  // client certificate (both or neither)
};

// The connection keys of a nats alert sink's entry.
[[nodiscard]] NatsConnectionConfig nats_connection_config(const SinkConfig& sink);

struct NatsMsgDeleter {
  void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
};
struct JsCtxDeleter {
  void operator()(jsCtx* j) const noexcept { jsCtx_Destroy(j); }
};
struct JsPubAckDeleter {
  void operator()(jsPubAck* a) const noexcept { jsPubAck_Destroy(a); }
};
using NatsMsgPtr = std::unique_ptr<natsMsg, NatsMsgDeleter>;
using JsCtxPtr = std::unique_ptr<jsCtx, JsCtxDeleter>;
using JsPubAckPtr = std::unique_ptr<jsPubAck, JsPubAckDeleter>;

class NatsConnection {
 public:
  // `who` starts every error message ("nats sink", "live queries").
  [[nodiscard]] static Result<std::unique_ptr<NatsConnection>> connect(const NatsConnectionConfig& config,
                                                                       std::string_view who);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  [[nodiscard]] natsConnection* get() const noexcept { return nc_; }
  // False when no server answered during connect(): libnats keeps trying.
  [[nodiscard]] bool connected_at_start() const noexcept { return connected_at_start_; }
  // A JetStream context on this connection (the caller owns it; destroy it
  // before the connection).
  [[nodiscard]] Result<JsCtxPtr> jetstream() const;
  // Reconnections libnats has made so far (0 if it cannot tell).
  [[nodiscard]] std::uint64_t reconnects() const noexcept;
  // Closes the connection for good: calls waiting on it return at once.
  void close() noexcept;

 private:
  NatsConnection() = default;
  natsConnection* nc_ = nullptr;
  bool connected_at_start_ = false;
  std::string who_;
};

[[nodiscard]] inline std::string nats_status_text(natsStatus s) { return natsStatus_GetText(s); }

}  // namespace airssys::daemoneye::detail
