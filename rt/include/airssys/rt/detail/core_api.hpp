#pragma once
// Out-of-line entry points into the system core used by header templates.
// Keeping them here lets the public headers stay free of scheduler internals.
#include <airssys/rt/error.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>

namespace airssys::rt {
class ActorSystem;
namespace detail {
class SystemCore;
class CellBase;

[[nodiscard]] ActorSystem& system_of(SystemCore* core) noexcept;
// Registers a freshly constructed cell (live list, id) and schedules its start.
[[nodiscard]] std::expected<void, Error> start_cell(SystemCore* core, CellBase* cell) noexcept;
// Timers (thread-safe). fn runs on the timer thread and must be short: it
// typically enqueues a message.
// period > 0 repeats until cancelled. Returns 0 if the system is stopping.
std::uint64_t timer_add(SystemCore* core, std::chrono::nanoseconds delay,
                        std::move_only_function<void()> fn,
                        std::chrono::nanoseconds period = std::chrono::nanoseconds{0});
bool timer_cancel(SystemCore* core, std::uint64_t id) noexcept;
// Periodic timer whose tick ends it by returning false.
std::uint64_t timer_add_periodic(SystemCore* core, std::chrono::nanoseconds period,
                                 std::move_only_function<bool()> tick);
// True on a worker thread of any system (blocking calls are refused there).
[[nodiscard]] bool on_worker_thread() noexcept;
// Unique per process; no shared counter on the hot path.
[[nodiscard]] std::uint64_t next_envelope_id() noexcept;

}  // namespace detail
}  // namespace airssys::rt
