#pragma once
// For the command-line programs of this repository: the one way a
// diagnostic (an error, a warning, a note) goes to stderr. It cannot throw,
// so a message that cannot be written never changes the exit code.
//
// fmt::print(stderr, ...) throws std::system_error when stderr cannot be
// written (`2>/dev/full`, a reader of `2>&1 |` that went away), and a write
// to a pipe without a reader raises SIGPIPE. The message that came with an
// exit code then replaced it: `airssys-osl exec --timeout 1s -- sleep 5
// 2>/dev/full` exited 1, not 124; task-watchdog's usage errors 1, not 2;
// daemoneye-cli, with no handler, aborted (134); with stderr a pipe whose
// reader had gone, task-watchdog ended by SIGPIPE (141). A message that
// cannot be written is lost; the program goes on as if it had been.
//
// Header-only. print_stderr formats with fmt (a program that calls it links
// fmt::fmt); write_stderr_ignoring_failure needs nothing.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <ctime>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace airssys::osl::detail {

// Writes TEXT to fd 2 and ignores a failure. stderr is unbuffered, so these
// lines keep their order with anything else printed to stderr through stdio
// (CLI11's usage errors, spdlog). Also for a daemon's log callback, where an
// exception would end the program. A stderr pipe whose reader went away
// fails with EPIPE and raises SIGPIPE, which by default ends the program
// (141) in place of its own code: SIGPIPE is blocked in this thread for the
// write and, if the write raised it, taken back. errno is left as it was.
inline void write_stderr_ignoring_failure(std::string_view text) noexcept {
  const int saved_errno = errno;
  sigset_t pipe_only;
  sigset_t old_mask;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  const bool blocked = ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask) == 0;
  // One already pending (blocked by the caller) is the caller's, not ours.
  sigset_t pending;
  sigemptyset(&pending);
  const bool was_pending = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  bool broken_pipe = false;
  while (!text.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) broken_pipe = true;
    if (n <= 0) break;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  if (blocked) {
    if (broken_pipe && !was_pending) {
      const timespec now{0, 0};
      while (::sigtimedwait(&pipe_only, nullptr, &now) < 0 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  }
  errno = saved_errno;
}

// fmt::print(stderr, format, args...) that cannot throw: the line is
// formatted whole, then written by write_stderr_ignoring_failure. Out of
// memory while formatting loses the message too.
template <class... Args>
void print_stderr(fmt::format_string<Args...> format, Args&&... args) noexcept {
  try {
    write_stderr_ignoring_failure(fmt::format(format, std::forward<Args>(args)...));
  } catch (...) {  // NOLINT(bugprone-empty-catch): losing the message is the contract
  }
}

}  // namespace airssys::osl::detail
