#pragma once
// Routers and pools: one ActorRef-like front for several actors accepting
// the same messages.
//   round_robin      next routee in turn
//   random           uniformly random routee
//   least_loaded     the routee with the shortest mailbox (pending count)
//   consistent_hash  tell_keyed(key, m): the same key goes to the same routee;
//                    jump consistent hash (Lamping & Veach), so adding a
//                    routee moves only ~1/n of the keys
//   broadcast        every routee gets a copy
// Thread-safety: tell()/tell_keyed() are thread-safe; the routee set is
// fixed at construction (rebuild the router to change it).
#include <airssys/rt/actor_ref.hpp>
#include <airssys/rt/system.hpp>
#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <vector>

namespace airssys::rt {

enum class Routing : std::uint8_t { round_robin, random, least_loaded, consistent_hash, broadcast };

namespace detail {
// Jump consistent hash: maps key to [0, buckets).
inline std::int32_t jump_hash(std::uint64_t key, std::int32_t buckets) noexcept {
  std::int64_t b = -1, j = 0;
  while (j < buckets) {
    b = j;
    key = key * 2862933555777941757ULL + 1;
    j = static_cast<std::int64_t>(static_cast<double>(b + 1) *
                                  (static_cast<double>(1LL << 31) / static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<std::int32_t>(b);
}
}  // namespace detail

template <class... Msgs>
class Router {
 public:
  Router(Routing how, std::vector<ActorRef<Msgs...>> routees) : how_(how), routees_(std::move(routees)) {}

  // Broadcast: succeeds if every routee accepted; otherwise the first error.
  template <class M>
    requires detail::one_of<std::remove_cvref_t<M>, Msgs...>
  [[nodiscard]] std::expected<void, Error> tell(M&& m, const SendOptions& o = {}) {
    if (routees_.empty())
      return std::unexpected(Error{ErrorCategory::actor_stopped, "router has no routees"});
    if (how_ == Routing::broadcast) {
      std::expected<void, Error> r{};
      for (auto& t : routees_) {
        auto one = t.tell(std::remove_cvref_t<M>(m), o);
        if (!one && r) r = one;
      }
      return r;
    }
    return routees_[pick()].tell(std::forward<M>(m), o);
  }

  template <class M>
    requires detail::one_of<std::remove_cvref_t<M>, Msgs...>
  [[nodiscard]] std::expected<void, Error> tell_keyed(std::uint64_t key, M&& m, const SendOptions& o = {}) {
    if (routees_.empty())
      return std::unexpected(Error{ErrorCategory::actor_stopped, "router has no routees"});
    auto i = detail::jump_hash(key, static_cast<std::int32_t>(routees_.size()));
    return routees_[static_cast<std::size_t>(i)].tell(std::forward<M>(m), o);
  }

  [[nodiscard]] const std::vector<ActorRef<Msgs...>>& routees() const noexcept { return routees_; }

 private:
  std::size_t pick() noexcept {
    const std::size_t n = routees_.size();
    switch (how_) {
      case Routing::round_robin:
      case Routing::consistent_hash:  // tell() without a key: round robin
      case Routing::broadcast:
        return next_->fetch_add(1, std::memory_order_relaxed) % n;
      case Routing::random: {
        // splitmix64 over a shared counter: cheap, thread-safe, good enough to spread load
        std::uint64_t z = next_->fetch_add(0x9E3779B97F4A7C15ULL, std::memory_order_relaxed);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return static_cast<std::size_t>((z ^ (z >> 31)) % n);
      }
      case Routing::least_loaded: {
        // Inside a handler, its own coalesced tells are not in the depths yet.
        detail::flush_outbox();
        std::size_t best = 0;
        std::uint32_t depth = UINT32_MAX;
        for (std::size_t i = 0; i < n; ++i) {
          if (routees_[i].stopped()) continue;
          auto d = routees_[i].stats().mailbox_depth;
          if (d < depth) {
            depth = d;
            best = i;
          }
        }
        return best;
      }
    }
    return 0;
  }

  Routing how_;
  std::vector<ActorRef<Msgs...>> routees_;
  std::unique_ptr<std::atomic<std::uint64_t>> next_ = std::make_unique<std::atomic<std::uint64_t>>(0);  // movable router
};

namespace detail {
template <class Ref>
struct RouterOf;
template <class... Ms>
struct RouterOf<ActorRef<Ms...>> {
  using type = Router<Ms...>;
};
}  // namespace detail

// A pool: n actors T(args...) behind a router. Errors: system_stopped.
template <class T>
using PoolOf = typename detail::RouterOf<typename T::ref_type>::type;

template <class T, class... Args>
[[nodiscard]] std::expected<PoolOf<T>, Error> make_pool(ActorSystem& sys, std::size_t n, Routing how, const SpawnOptions& opts,
                                          const Args&... args) {
  std::vector<typename T::ref_type> refs;
  refs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto r = sys.spawn_with<T>(opts, args...);
    if (!r) {
      for (auto& x : refs) x.stop();
      return std::unexpected(r.error());
    }
    refs.push_back(std::move(*r));
  }
  return PoolOf<T>(how, std::move(refs));
}

}  // namespace airssys::rt
