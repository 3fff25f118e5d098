#pragma once
// For the command-line programs of this repository: the one way a
// diagnostic (an error, a warning, a note) goes to stderr. It cannot throw,
// so a message that cannot be written never changes the exit code.
//
// fmt::print(stderr, ...) throws std::system_error when stderr cannot be
// written (`2>/dev/full`, a reader of `2>&1 |` that went away). The message
// that came with an exit code then replaced it: `airssys-osl exec --timeout
// 1s -- sleep 5 2>/dev/full` exited 1, not 124; task-watchdog's usage
// errors 1, not 2; daemoneye-cli, with no handler, aborted (134). A message
// that cannot be written is lost; the program goes on as if it had been.
//
// Header-only. print_stderr formats with fmt (a program that calls it links
// fmt::fmt); write_stderr_ignoring_failure needs nothing.

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace airssys::osl::detail {

// Writes TEXT to fd 2 and ignores a failure. stderr is unbuffered, so these
// lines keep their order with anything else printed to stderr through stdio
// (CLI11's usage errors, spdlog). Also for a daemon's log callback, where an
// exception would end the program.
inline void write_stderr_ignoring_failure(std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
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
