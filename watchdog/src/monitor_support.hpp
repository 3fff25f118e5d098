#pragma once
// Small helpers shared by the task monitors (runner.cpp for native tasks,
// container/container_task.cpp for container tasks) and the daemon
// (daemon.cpp). Internal to the library.

#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <initializer_list>
#include <string>
#include <string_view>

namespace airssys::watchdog::detail {

// Unix time in milliseconds (the registry's clock).
[[nodiscard]] std::int64_t now_ms();

// exited, timed_out, killed, failed.
[[nodiscard]] bool terminal_state(const std::string& state);

// Writes all of `s` to `fd`, retrying on EINTR; gives up silently on error
// (used for the handshake pipe and log copies, where the reader may be gone).
void write_all_fd(int fd, std::string_view s);

// (Re-)arms a one-shot timerfd to expire `after` from now (at least 1 ms).
void arm_timer(int fd, std::chrono::milliseconds after);
// A CLOCK_MONOTONIC timerfd (CLOEXEC) armed for `after`; invalid on failure.
[[nodiscard]] osl::UniqueFd make_timer(std::chrono::milliseconds after);

// The monitors' and the daemon's signal handling: blocks `signals` in the
// calling thread (call it before any thread starts: threads inherit the
// mask), ignores SIGPIPE (a reader that went away, e.g. the `start` caller
// on the handshake pipe, must not kill us) and returns a signalfd (CLOEXEC)
// to read them from; invalid on failure. osl resets every disposition to the
// default in a spawned task.
[[nodiscard]] osl::UniqueFd block_into_signalfd(std::initializer_list<int> signals);

// An epoll fd (CLOEXEC) watching each of `fds` that is valid (>= 0) for
// EPOLLIN, with data.fd = that fd; invalid if epoll_create1 failed.
[[nodiscard]] osl::UniqueFd epoll_of(std::initializer_list<int> fds);

// Records a new task under the registry lock, replacing an ended one with
// the same id; already_exists while one with that id is live.
[[nodiscard]] std::expected<void, Error> insert_new_task(const Registry& reg, TaskRecord t);

// Applies `f(TaskRecord&)` to the task's record under the registry lock;
// not_found if the record is gone.
template <class F>
std::expected<void, Error> update_task(const Registry& reg, const std::string& id, F f) {
  return reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    auto it = d.tasks.find(id);
    if (it == d.tasks.end()) return std::unexpected(Error{ErrorCode::not_found, fmt::format("task '{}' vanished from the registry", id)});
    f(it->second);
    return {};
  });
}

// A monitor could not start its task: records it `failed` with the message
// and tells the `start` caller — "ERR CODE\nMESSAGE" over `handshake`, or
// on stderr when there is none (--wait, handshake < 0).
void report_start_failure(const Registry& reg, const std::string& id, int handshake, const Error& e);

}  // namespace airssys::watchdog::detail
