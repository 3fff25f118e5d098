#pragma once
// Circuit breaker: stop calling an actor (or anything fallible) that keeps
// failing, give it time, then try again carefully.
//
//  closed     calls pass; `failure_threshold` consecutive failures open it.
//  open       calls are refused at once with ErrorCategory::circuit_open (nothing is
//             sent) until `open_timeout` has passed; then half-open.
//  half_open  at most `half_open_trials` calls are let through at a time;
//             that many successes close the breaker, any failure opens it
//             again for another `open_timeout`.
//
//   rt::CircuitBreaker cb({.failure_threshold = 3, .open_timeout = 2s});
//   auto r = cb.ask(db, Query{...}, 500ms);   // std::expected<R, Error>; plain threads
//   // inside an actor (non-blocking ask):
//   if (auto p = cb.try_acquire()) {
//     ask(db, Query{...}, 500ms, [p = std::move(*p)](auto r) mutable { p.record(r.has_value()); ... });
//   }
//
// A failure is an error result: timeout, actor_stopped, mailbox_full,
// broken_promise (the handler threw), or whatever the callable returned.
// Thread-safety: CircuitBreaker is a cheap handle to shared state (copies
// share it); every member function is thread-safe. A Permit may be recorded
// from any thread.
#include <airssys/rt/actor_ref.hpp>
#include <airssys/rt/error.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace airssys::rt {

enum class BreakerState : std::uint8_t { closed, open, half_open };
[[nodiscard]] const char* to_string(BreakerState s) noexcept;

struct BreakerConfig {
  std::uint32_t failure_threshold = 5;           // consecutive failures that open a closed breaker
  std::chrono::milliseconds open_timeout{5000};  // how long it stays open
  std::uint32_t half_open_trials = 1;            // calls let through (and successes needed) when half-open
  // Time source; empty: steady_clock. Tests pass a manual clock.
  std::function<std::chrono::steady_clock::time_point()> clock{};
};

struct BreakerStats {
  BreakerState state = BreakerState::closed;
  std::uint64_t calls = 0;     // permits granted
  std::uint64_t failures = 0;  // recorded failures (including abandoned permits)
  std::uint64_t rejected = 0;  // refused with circuit_open
  std::uint64_t opened = 0;    // transitions to open
};

namespace detail {
struct BreakerCore;
}

class CircuitBreaker {
 public:
  // Permission for one call. Record its outcome once; a permit destroyed
  // unrecorded counts as a failure (the call was abandoned). Move-only.
  class Permit {
   public:
    Permit(Permit&& o) noexcept : core_(std::move(o.core_)), gen_(o.gen_) {}
    Permit& operator=(Permit&& o) noexcept {
      if (this != &o) {
        finish(false);
        core_ = std::move(o.core_);
        gen_ = o.gen_;
      }
      return *this;
    }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { finish(false); }
    void record(bool success) noexcept { finish(success); }

   private:
    friend class CircuitBreaker;
    Permit(std::shared_ptr<detail::BreakerCore> c, std::uint64_t gen) noexcept : core_(std::move(c)), gen_(gen) {}
    void finish(bool success) noexcept;
    std::shared_ptr<detail::BreakerCore> core_;
    std::uint64_t gen_ = 0;
  };

  explicit CircuitBreaker(BreakerConfig cfg = {});

  // ErrorCategory::circuit_open while open (or half-open with all trials in flight).
  [[nodiscard]] std::expected<Permit, Error> try_acquire();

  // Runs f() (returning std::expected<T, Error>) if the breaker allows it and
  // records the outcome; ErrorCategory::circuit_open without calling f otherwise.
  template <class F>
  auto call(F&& f) -> std::invoke_result_t<F&> {
    auto p = try_acquire();
    if (!p) return std::unexpected(p.error());
    auto r = std::forward<F>(f)();
    p->record(r.has_value());
    return r;
  }

  // Blocking ask through the breaker (plain threads; see ActorRef::ask).
  template <class M, class... Ms>
  auto ask(const ActorRef<Ms...>& ref, M&& m, std::chrono::nanoseconds timeout) {
    return call([&] { return ref.ask(std::forward<M>(m), timeout); });
  }

  [[nodiscard]] BreakerState state() const;
  [[nodiscard]] BreakerStats stats() const;

 private:
  std::shared_ptr<detail::BreakerCore> core_;
};

}  // namespace airssys::rt
