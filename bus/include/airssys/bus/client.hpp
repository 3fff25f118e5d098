#pragma once
// bus::Client — a connection to a bus::Broker.
//
// Publishes are buffered and sent in batches: when the buffer passes
// flush_threshold (by the publishing thread), from a background flusher
// thread flush_delay after the buffer became non-empty, and on flush(). A reader thread receives
// messages and runs subscription handlers; handlers must not block for long
// and must not call request() or flush() (they would wait on their own
// thread; flush() and stats() there, or in on_error, fail at once with
// invalid_argument). All member functions are thread-safe.
//
// When the broker goes away the client reconnects with exponential backoff
// and re-sends its subscriptions; publishes made while disconnected fail with
// ErrorCategory::not_connected, and buffered bytes not yet written are lost (delivery
// is at most once, like NATS core).

#include <airssys/bus/error.hpp>
#include <airssys/bus/headers.hpp>
#include <airssys/bus/policy.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace airssys::bus {

namespace detail {
class ClientCore;
struct PullQueue;
}  // namespace detail

// A received message; views valid only during the handler call.
struct MessageView {
  std::string_view subject, reply_to, payload, correlation_id, content_type;
  Headers headers;  // user headers (airssys/bus/headers.hpp)
};

struct Message {
  std::string subject, reply_to, payload, correlation_id, content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // name, value; in order
  [[nodiscard]] static Message from(const MessageView& v);
};

struct PublishOptions {
  std::string_view reply_to{};        // where a responder should publish its answer
  std::string_view correlation_id{};  // header, carried unchanged
  std::string_view content_type{};    // header, carried unchanged
  // Any number of user headers, carried unchanged in order; each checked by
  // validate_header (invalid_argument). The caller's storage must outlive
  // the publish() call only.
  std::span<const Header> headers{};
};

struct SubscribeOptions {
  std::string queue{};  // non-empty: queue group; each message goes to one member
  Policy policy = Policy::drop_newest;
  std::uint32_t max_msgs = 0;   // broker-side queue bound; 0 = broker default
  std::uint64_t max_bytes = 0;  // broker-side queue bound; 0 = broker default
  std::size_t pull_capacity = 65536;  // pull subscriptions: messages held client-side
};

using Handler = std::function<void(const MessageView&)>;

// Unsubscribes when destroyed (or on unsubscribe()). After unsubscribe()
// returns, a handler call already under way on the reader thread may finish.
class Subscription {
 public:
  Subscription();
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;
  ~Subscription();
  void unsubscribe();
  // Pull subscriptions: the next message, or nullopt after `timeout` or once
  // unsubscribed.
  [[nodiscard]] std::optional<Message> next(std::chrono::milliseconds timeout);
  // Pull subscriptions: messages dropped because pull_capacity was full.
  [[nodiscard]] std::uint64_t dropped() const;
  [[nodiscard]] std::uint64_t sid() const noexcept { return sid_; }

 private:
  friend class Client;
  std::weak_ptr<detail::ClientCore> core_;
  std::uint64_t sid_ = 0;
  std::shared_ptr<detail::PullQueue> pull_;
};

struct ClientOptions {
  std::filesystem::path socket_path{};
  bool reconnect = true;
  std::chrono::milliseconds reconnect_initial{10};
  std::chrono::milliseconds reconnect_max{2000};
  std::chrono::milliseconds handshake_timeout{5000};
  // How long destroying the client waits for the broker to take what is
  // buffered (and for a write already under way on another thread). Past
  // it the connection is shut and what was not written is lost: a broker
  // that stopped reading (stopped, wedged) would otherwise hold the
  // destructor, and a publisher blocked on the full socket, forever.
  std::chrono::milliseconds close_timeout{5000};
  std::size_t flush_threshold = 256 * 1024;
  // How long the background flusher lets publishes accumulate after the
  // buffer becomes non-empty (fewer, larger writes; less lock traffic).
  // request(), flush() and replies sent from handlers do not wait for it.
  std::chrono::microseconds flush_delay{100};
  // The largest frame this client sends or accepts. Receiving: keep it at
  // least the broker's max_frame_bytes; the broker relays MSG frames up to
  // its own limit, and a larger frame makes this client drop the connection.
  // Sending: a publish whose MSG as relayed (the publish plus a subscription
  // id, at most 11 bytes more) exceeds this fails with frame_too_large here;
  // the broker refuses the same above its own limit (ERR, frame_too_large).
  std::size_t max_frame_bytes = 1024 * 1024;
  // Called on the thread reading the socket (the reader thread, or one
  // waiting in request(), which reads its own reply while the client has no
  // subscription with a handler): errors the broker
  // reports asynchronously (refused publish/subscribe), lost connections,
  // failed reconnects.
  std::function<void(const Error&)> on_error{};
  std::function<void()> on_reconnect{};  // after subscriptions were restored
};

class Client {
 public:
  // Connects and completes a PING/PONG handshake; a broker that refuses our
  // credentials gives ErrorCategory::not_authorized. The first connect is not retried.
  [[nodiscard]] static std::expected<std::unique_ptr<Client>, Error> connect(ClientOptions options);
  // Sends what is buffered (best effort), stops both threads and waits for
  // a thread reading in request() to stop reading, so no handler or
  // on_error call runs once it returns. Calls waiting in other threads
  // (request, flush, stats) return ErrorCategory::closed. A handler or
  // on_error may destroy its own client: the call under way finishes after
  // the destructor returns, and no further one runs.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] std::expected<void, Error> publish(std::string_view subject, std::string_view payload,
                                                   const PublishOptions& options = {});
  [[nodiscard]] std::expected<Subscription, Error> subscribe(std::string_view pattern, Handler handler,
                                                             SubscribeOptions options = {});
  [[nodiscard]] std::expected<Subscription, Error> subscribe_pull(std::string_view pattern,
                                                                  SubscribeOptions options = {});
  // Publishes with a reply inbox and waits for the first reply.
  [[nodiscard]] std::expected<Message, Error> request(std::string_view subject, std::string_view payload,
                                                      std::chrono::milliseconds timeout,
                                                      const PublishOptions& options = {});
  // Sends everything buffered and waits until the broker has processed it
  // (PING/PONG). Returns the first error the broker reported since the last
  // flush (e.g. permission_denied for a publish or subscribe), if any.
  // From a handler or on_error: invalid_argument at once (the PONG would be
  // read by the calling thread itself).
  [[nodiscard]] std::expected<void, Error> flush(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The broker's stats JSON (docs/bus.md "Stats").
  [[nodiscard]] std::expected<std::string, Error> stats(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  [[nodiscard]] bool connected() const;
  [[nodiscard]] std::uint64_t reconnects() const;

 private:
  explicit Client(std::shared_ptr<detail::ClientCore> core);
  std::shared_ptr<detail::ClientCore> core_;
};

}  // namespace airssys::bus
