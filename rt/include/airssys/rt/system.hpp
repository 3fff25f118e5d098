#pragma once
// The actor system: workers, timers, the set of live actors.
//
//   rt::ActorSystem sys;                       // one worker per core
//   auto counter = sys.spawn<Counter>().value();
//   counter.tell(Inc{1});
//   auto n = counter.ask(Get{}, 1s);           // std::expected<int, Error>
//
// Deterministic mode (SystemConfig::deterministic) runs no worker threads:
// messages are processed only inside run_until_idle(), on the calling
// thread, in FIFO scheduling order. Use it for message-passing tests; with
// virtual_time, timers (send_after, schedule, ask timeouts, supervisor
// backoff and shutdown timeouts) fire only in advance_time().
//
// Thread-safety: every member function is thread-safe except
// run_until_idle(), which one thread at a time may call (deterministic mode only).
#include <airssys/rt/actor.hpp>
#include <airssys/rt/actor_ref.hpp>
#include <airssys/rt/detail/cell.hpp>
#include <airssys/rt/detail/core_api.hpp>
#include <airssys/rt/error.hpp>
#include <airssys/rt/mailbox_config.hpp>
#include <airssys/rt/registry.hpp>
#include <airssys/rt/stats.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <type_traits>

namespace airssys::rt {

struct SystemConfig {
  unsigned workers = 0;             // 0: std::thread::hardware_concurrency()
  bool deterministic = false;       // no threads; drive with run_until_idle()
  bool virtual_time = false;        // deterministic only: timers wait for advance_time(), not the clock
  std::uint32_t batch = 64;         // default messages per activation
  std::chrono::milliseconds shutdown_timeout{5000};
  // Bytes of actor and message memory prepared (mapped and faulted in) when
  // the system is constructed, so that a burst of spawns and messages soon
  // after does not wait for fresh memory: the cost moves to construction,
  // it does not go away, and the memory is resident from then on. The
  // allocator is shared by every system in the process and never returns
  // memory, so this is a floor for the process, not an amount per system.
  // 0 (default): none; ignored in deterministic mode. The constructor
  // throws std::bad_alloc if the memory cannot be mapped.
  std::size_t memory_reserve = 0;
};

struct SpawnOptions {
  MailboxConfig mailbox{};
  AnyRef link_to{};  // linked before the actor runs (how supervisors start children)
};

using TimerId = std::uint64_t;

class ActorSystem {
 public:
  explicit ActorSystem(SystemConfig cfg = {});
  ActorSystem(const ActorSystem&) = delete;
  ActorSystem& operator=(const ActorSystem&) = delete;
  // Calls shutdown().
  ~ActorSystem();

  // Spawns T(args...). The actor object is constructed and pre_start runs on
  // a worker; spawning from inside an actor queues it on that worker.
  // Errors: system_stopped.
  template <class T, class... Args>
  [[nodiscard]] std::expected<typename T::ref_type, Error> spawn(Args&&... args) {
    return spawn_with<T>(SpawnOptions{}, std::forward<Args>(args)...);
  }
  template <class T, class... Args>
  [[nodiscard]] std::expected<typename T::ref_type, Error> spawn_with(const SpawnOptions& opts, Args&&... args) {
    static_assert(std::is_base_of_v<ActorBase, T>, "T must derive from rt::Actor");
    detail::IntrusivePtr<detail::CellBase> cell(
        new detail::Cell<T, std::decay_t<Args>...>(core_.get(), opts.mailbox, std::forward<Args>(args)...),
        detail::AdoptRef{});
    if (opts.link_to.valid()) {
      cell->supervised = true;
      detail::CellBase::link(*cell, *opts.link_to.cell());
    }
    if (auto r = detail::start_cell(core_.get(), cell.get()); !r) {
      if (opts.link_to.valid()) detail::CellBase::unlink(*cell, *opts.link_to.cell());
      return std::unexpected(r.error());
    }
    return typename T::ref_type(std::move(cell));
  }

  // Timers (thread-safe): deliver msg to ref after delay / every period.
  template <class M, class... Ms>
  TimerId send_after(const ActorRef<Ms...>& ref, M msg, std::chrono::nanoseconds delay) {
    return detail::timer_add(core_.get(), delay, [ref, msg = std::move(msg)]() mutable {
      (void)ref.tell(std::move(msg));
    });
  }
  // send_interval ends by itself once ref has stopped (as an Erlang interval
  // timer dies with its process): no dead letter per tick, and the timer no
  // longer keeps the stopped actor's cell alive.
  template <class M, class... Ms>
  TimerId send_interval(const ActorRef<Ms...>& ref, M msg, std::chrono::nanoseconds period) {
    return detail::timer_add_periodic(core_.get(), period, [ref, msg = std::move(msg)]() {
      if (ref.stopped()) return false;
      (void)ref.tell(M(msg));
      return true;
    });
  }
  bool cancel_timer(TimerId id) noexcept { return detail::timer_cancel(core_.get(), id); }

  // Stops every live actor (top-level actors first, so supervisors stop their
  // children in order), waits up to the shutdown timeout, kills what is left,
  // and stops the workers. Idempotent. Returns ErrorCategory::timeout if actors had to
  // be killed or a handler was still running at the deadline.
  [[nodiscard]] std::expected<void, Error> shutdown() noexcept;

  // Deterministic mode only: process until no actor has work (or max_steps
  // activations); returns the number of activations.
  std::size_t run_until_idle(std::size_t max_steps = 10'000'000);
  // Deterministic mode with virtual_time only: moves the timers' clock
  // forward by d, running every timer that falls due (in due order; a
  // periodic one as often as it falls due) on the calling thread. Timer
  // callbacks only enqueue messages: call run_until_idle() to process them.
  // Returns the number of timer callbacks run (0 without virtual_time).
  std::size_t advance_time(std::chrono::nanoseconds d);

  // The runtime's clock: steady_clock, or the virtual clock of a
  // deterministic system with virtual_time (what supervisors measure
  // restart intensity periods with). Thread-safe.
  [[nodiscard]] std::chrono::steady_clock::time_point now() const noexcept;

  [[nodiscard]] SystemStats stats() const noexcept;
  // Counters of every live actor (takes each live-list shard lock briefly).
  [[nodiscard]] HealthSnapshot health() const;
  // Names and groups (registry.hpp).
  [[nodiscard]] Registry& registry() noexcept;
  [[nodiscard]] unsigned workers() const noexcept;

 private:
  std::unique_ptr<detail::SystemCore> core_;
};

}  // namespace airssys::rt
