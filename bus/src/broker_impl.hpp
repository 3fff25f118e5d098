#pragma once
// Broker internals shared by broker.cpp (thread, accept, socket I/O) and
// broker_frames.cpp (frame handling, routing, backpressure, permissions,
// stats). Everything here is touched only by the broker thread.

#include "frame.hpp"
#include "frame_queue.hpp"
#include "subject_index.hpp"
#include "unix_socket.hpp"

#include <airssys/bus/broker.hpp>

#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace airssys::bus {

namespace detail {

struct Conn;

// One subscription. Messages go straight into the connection's output
// buffer while it is below the high-water mark and this queue is empty;
// otherwise they wait here, bounded by max_msgs/max_bytes under `policy`.
struct Sub {
  Conn* conn = nullptr;
  std::uint64_t sid = 0;
  std::string subject, queue;
  Policy policy = Policy::drop_newest;
  std::uint32_t max_msgs = 0;
  std::uint64_t max_bytes = 0;
  FrameQueue q;  // encoded MSG frames, oldest first
  std::uint64_t delivered = 0, dropped = 0;
  bool in_backlog = false;
};

struct Conn {
  std::uint64_t id = 0;
  UniqueFd fd;
  ucred cred{};
  const Permission* perm = nullptr;  // null: no restrictions for this uid
  FrameDecoder in;
  ByteBuffer out;
  std::unordered_map<std::uint64_t, std::unique_ptr<Sub>> subs;
  std::deque<Sub*> backlog;  // subs with queued messages, served round robin
  std::uint64_t queued = 0;  // Σ q_bytes of subs (max_queued_bytes_per_connection)
  std::unordered_map<std::string, bool, StringHash, std::equal_to<>> pub_allowed;  // permission cache
  // Reply inbox prefixes `_INBOX.<tok>` this connection owns, with how many
  // of its subscriptions use each (released at zero).
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> inboxes;
  std::uint64_t msgs_in = 0, bytes_in = 0, msgs_out = 0, bytes_out = 0;
  // The last subject this connection published to, already validated and
  // permitted, and its route (valid while route_gen is unchanged): publishers
  // usually repeat a subject, and this skips validation and the hash lookup.
  std::string last_subject;
  const struct Route* last_route = nullptr;
  std::uint64_t last_route_gen = ~0ull;
  bool closing = false, dirty = false, writable = true, epollout = false;

  explicit Conn(std::size_t max_frame) : in(max_frame) {}
};

// One PUB as the MSG frames its subscriptions get: a relayable PUB's body
// copied with the sid appended (encode_relay), else re-encoded as a MSG.
class Relay {
 public:
  Relay(const Frame& pub, std::size_t max_frame);
  [[nodiscard]] std::size_t size(std::uint64_t sid);
  void encode(ByteBuffer& out, std::uint64_t sid);

 private:
  const Frame& pub_;
  std::optional<Frame> msg_;  // set when the body cannot be copied
};

// Where a published subject goes: plain subscriptions, and queue groups of
// which one member gets each message.
struct Route {
  std::vector<Sub*> plain;
  std::vector<std::vector<Sub*>> groups;
};

}  // namespace detail

struct Broker::Impl {
  BrokerOptions opt;
  detail::UniqueFd listen_fd, epoll_fd, wake_fd, reserve_fd;
  dev_t sock_dev = 0;
  ino_t sock_ino = 0;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::mutex stop_mu;
  bool stopped = false;

  std::unordered_map<uid_t, Permission> perms;
  std::uint64_t next_id = 2;  // 0 = listener, 1 = wake eventfd
  std::unordered_map<std::uint64_t, std::unique_ptr<detail::Conn>> conns;
  detail::SubjectIndex<detail::Sub*> index;
  std::unordered_map<std::string, detail::Route, detail::StringHash, std::equal_to<>> routes;
  detail::Route scratch_route;  // uncached_route's
  // Owner of each reply inbox prefix `_INBOX.<tok>`: the connection that first
  // subscribed under it; others are refused until it lets go.
  std::unordered_map<std::string, std::uint64_t, detail::StringHash, std::equal_to<>> inbox_owner;
  std::uint64_t rr = 0;
  std::uint64_t queued_total = 0;  // Σ Conn::queued (max_queued_bytes_total)
  std::uint64_t route_gen = 0;  // bumped whenever `routes` is cleared
  std::vector<detail::Conn*> dirty;
  std::vector<std::uint64_t> to_close;
  detail::ByteBuffer scratch;  // a frame being encoded for a subscription queue
  std::uint64_t accepted = 0, refused = 0, protocol_errors = 0, slow_consumers = 0;
  // Polling (BrokerOptions::busy_poll). request_reply_turn: this turn
  // forwarded a request or delivered a reply (set by publish). For stats:
  // poll_turns counts turns after which the broker was to poll (whether or
  // not a back-off then kept it from polling), polls the epoll_waits that
  // did not sleep, poll_backoffs the polls that lost the core.
  bool request_reply_turn = false;
  std::uint64_t poll_turns = 0, polls = 0, poll_backoffs = 0;

  // broker.cpp
  void run();
  void accept_all();
  void on_readable(detail::Conn& c);
  void flush(detail::Conn& c);
  void set_epollout(detail::Conn& c, bool on);
  void close_later(detail::Conn& c, const std::string& reason);
  void close_now(std::uint64_t id);
  void log(const std::string& line) const;
  [[nodiscard]] std::string who(const detail::Conn& c) const;
  // The peer's primary gid or one of its supplementary groups (SO_PEERGROUPS)
  // is in allowed_gids.
  [[nodiscard]] bool in_allowed_group(int fd, gid_t primary) const;

  // broker_frames.cpp
  void handle(detail::Conn& c, const detail::Frame& f);
  void publish(detail::Conn& c, const detail::Frame& f);
  void subscribe(detail::Conn& c, const detail::Frame& f);
  void unsubscribe(detail::Conn& c, std::uint64_t sid);
  void remove_sub(detail::Conn& c, detail::Sub& s);
  // Claims the inbox prefix of `pattern` for c (true if not an inbox, or free,
  // or c's already); release_inbox undoes one claim.
  [[nodiscard]] bool claim_inbox(detail::Conn& c, std::string_view pattern);
  void release_inbox(detail::Conn& c, std::string_view pattern);
  // The cached route of a subject (routes), and one matched afresh into
  // scratch_route, valid until the next call, for subjects used once (reply
  // inboxes).
  const detail::Route& route_for(std::string_view subject);
  const detail::Route& uncached_route(std::string_view subject);
  void match_route(std::string_view subject, detail::Route& r) const;
  void invalidate_routes() {
    routes.clear();
    ++route_gen;
  }
  void deliver(detail::Sub& s, detail::Relay& m);
  void refill(detail::Conn& c);
  // Takes `bytes` of s's queue off its connection's and the broker's accounting.
  void unqueue(detail::Conn& c, std::uint64_t bytes) {
    c.queued -= bytes;
    queued_total -= bytes;
  }
  void send_control(detail::Conn& c, const detail::Frame& f);
  void send_err(detail::Conn& c, std::uint64_t sid, const std::string& text);
  [[nodiscard]] bool may_publish(detail::Conn& c, std::string_view subject);
  [[nodiscard]] bool may_subscribe(const detail::Conn& c, std::string_view pattern) const;
  // What `viewer` may see: restricted uids do not see other connections'
  // reply inbox subscriptions.
  [[nodiscard]] std::string stats_json(const detail::Conn& viewer) const;
};

}  // namespace airssys::bus
