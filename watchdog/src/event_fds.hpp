#pragma once
// The fds a monitor's event loop sleeps on: timerfds, a signalfd, an epoll
// set — each CLOEXEC and owned by an osl::UniqueFd. Used by the task
// monitor (task_monitor.hpp) and the daemon (daemon.cpp). Internal.

#include <airssys/osl/unique_fd.hpp>

#include <chrono>
#include <initializer_list>
#include <string_view>

namespace airssys::watchdog::detail {

// Writes all of `s` to `fd`, retrying on EINTR; gives up silently on error
// (used for the handshake pipe and log copies, where the reader may be gone).
void write_all_fd(int fd, std::string_view s);

// (Re-)arms a one-shot timerfd to expire `after` from now (at least 1 ms).
void arm_timer(int fd, std::chrono::milliseconds after);
// A CLOCK_MONOTONIC timerfd armed for `after`; invalid on failure.
[[nodiscard]] osl::UniqueFd make_timer(std::chrono::milliseconds after);

// Blocks `signals` in the calling thread (call it before any thread starts:
// threads inherit the mask), ignores SIGPIPE (a reader that went away, e.g.
// the `start` caller on the handshake pipe, must not kill us) and returns a
// signalfd to read them from; invalid on failure. osl resets every
// disposition to the default in a spawned task.
[[nodiscard]] osl::UniqueFd block_into_signalfd(std::initializer_list<int> signals);

// An epoll fd watching each of `fds` that is valid (>= 0) for EPOLLIN, with
// data.fd = that fd; invalid if epoll_create1 failed.
[[nodiscard]] osl::UniqueFd epoll_of(std::initializer_list<int> fds);

// Blocks until `fd` is readable or `bound` passes; true if readable.
[[nodiscard]] bool wait_readable(int fd, std::chrono::milliseconds bound);

}  // namespace airssys::watchdog::detail
