#pragma once
// bus::Broker — the embeddable pub/sub broker on a Unix socket.
//
// start() creates (or checks) the socket's parent directory, mode 0700, and
// listens on a 0600 socket; with allowed_gids, the directory is 0770 and the
// socket 0660, both of group allowed_gids[0], so that group's members can
// connect. It runs one epoll thread until stop() or destruction. All
// connections are served by that thread with non-blocking I/O: a stalled
// subscriber never blocks a publisher or other subscribers, and memory is
// bounded by the limits below (docs/bus.md "Backpressure", "Defaults").
// Peers are admitted by SO_PEERCRED uid/gid; per-uid subject permissions
// restrict publish and subscribe (docs/bus.md "Permissions").

#include <airssys/bus/error.hpp>
#include <airssys/bus/policy.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::bus {

// Subject permissions of one uid. A uid without an entry may publish and
// subscribe to everything; a uid with an entry only to subjects matched
// (publish) or covered (subscribe) by one of its patterns. Reply inboxes are
// always allowed: publishing to `_INBOX.…`, and subscribing to `_INBOX.<tok>.…`
// with a literal second token.
struct Permission {
  uid_t uid = 0;
  std::vector<std::string> publish{};
  std::vector<std::string> subscribe{};
};

// The polling window of BrokerOptions::busy_poll left unset ("auto"): a
// little over a request's two hops through an idle responder on this
// project's machine (docs/BENCHMARKS.md), short enough that a requester
// that goes quiet costs the broker at most this much more.
inline constexpr std::chrono::microseconds kRequestReplyPoll{50};

struct BrokerOptions {
  std::filesystem::path socket_path{};
  // Admitted peers: uid in allowed_uids, or primary or supplementary gid in
  // allowed_gids. Both empty means {our effective uid, 0}. Reaching the socket
  // also takes filesystem access: our uid, root, or (with allowed_gids) a
  // member of allowed_gids[0]; other allowed uids/gids need a directory they
  // can enter, which the broker does not create for them.
  std::vector<uid_t> allowed_uids{};
  std::vector<gid_t> allowed_gids{};
  std::vector<Permission> permissions{};
  std::size_t max_frame_bytes = 1024 * 1024;
  std::size_t max_connections = 4096;
  std::size_t max_subscriptions_per_connection = 4096;
  // A subscription's queue limits when the client does not ask; and the caps
  // on what a client may ask for.
  std::uint32_t default_max_msgs = 65536;
  std::uint64_t default_max_bytes = 8ull * 1024 * 1024;
  std::uint32_t cap_max_msgs = 16u * 1024 * 1024;
  std::uint64_t cap_max_bytes = 256ull * 1024 * 1024;
  // Bytes the broker stages per connection for writing before messages wait
  // in their subscription's queue instead.
  std::size_t out_high_water = 256 * 1024;
  // Budgets for messages waiting in subscription queues: all of one
  // connection's subscriptions together, and all connections together. A
  // message that would exceed either counts as its subscription's queue being
  // full (its policy applies), so a client that never reads cannot make the
  // broker hold more than these whatever max_bytes it asked for.
  std::uint64_t max_queued_bytes_per_connection = 64ull * 1024 * 1024;
  std::uint64_t max_queued_bytes_total = 1024ull * 1024 * 1024;
  // Polling instead of sleeping after a turn of the broker's loop
  // (epoll_wait without sleeping, yielding the core between polls), so that a
  // frame arriving within the window is read without a wake-up from idle.
  // - unset (the default, "auto"): poll for kRequestReplyPoll after a turn
  //   that forwarded a request (a PUB with a reply subject that reached a
  //   subscriber: its reply is expected soon) or delivered a reply (a PUB to
  //   an `_INBOX.…` subject that reached its requester: a closed-loop
  //   requester sends its next request soon). Turns that carried only other
  //   publishes, subscriptions or control frames never start polling, so a
  //   steady publish stream costs what it did with polling off.
  // - 0: never poll; the broker always sleeps in epoll_wait.
  // - N > 0: poll for N after every turn that served a connection, whatever
  //   it carried (up to N of one core after each turn while clients are
  //   active).
  // Either way, a poll that lost the core for over 200 us (another process
  // ran: a busy machine, where polling takes the core from the threads it
  // waits for) stops polling for 100 ms. docs/bus.md "Broker".
  std::optional<std::chrono::microseconds> busy_poll{};
  // Where reasons for closed connections go (default: stderr). Called on the
  // broker thread.
  std::function<void(std::string_view)> log{};
};

class Broker {
 public:
  [[nodiscard]] static std::expected<std::unique_ptr<Broker>, Error> start(BrokerOptions options);
  // The socket directory check start() makes (owner and mode, the same
  // errors: unsafe_directory for those), creating and changing nothing, so
  // a caller can refuse a directory before it puts its own files there. A
  // missing directory passes if its parent is a directory we may write
  // (start creates it 0700, with one non-recursive mkdir), else it fails as
  // that mkdir would; an empty socket_path fails as in start(). With
  // allowed_gids, group bits pass (start sets 0770). start() checks again.
  [[nodiscard]] static std::expected<void, Error> check_directory(const BrokerOptions& options);
  ~Broker();  // stop() and unlink the socket
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Stops the thread, closes every connection, removes the socket file.
  // Thread-safe; idempotent.
  void stop();
  [[nodiscard]] const std::filesystem::path& socket_path() const noexcept;

  struct Impl;

 private:
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::bus
