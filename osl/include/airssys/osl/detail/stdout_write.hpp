#pragma once
// For the command-line programs of this repository: output written to fd 1
// straight (write(2), not stdio) with the first failure kept, and main's
// end by the rule for stdout (stdout_flush.hpp, exit_after_stdout_failure)
// knowing the reason. stdio keeps only an error flag once it has written its
// buffer early (an output past a few KiB), and by the time main looks errno
// names some later call: a full disk read as "write error", and a reader
// that went away could not be told from it.
//
// The program ignores SIGPIPE (so a write to a reader that went away fails
// with EPIPE instead of killing it half-way) and ends with
// `return end_with_stdout_checked(code, ...)`. One stdout per process,
// written from one thread.

#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/osl/detail/stdout_flush.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::osl::detail {

namespace stdout_write_state {
inline std::optional<int> first_failure;  // errno; 0 when a write returned 0
}  // namespace stdout_write_state

// Writes all of TEXT to fd 1. False when it could not (EPIPE: the reader
// went away; ENOSPC; EBADF: a closed stdout, which open_closed_standard_fds
// made /dev/null read-only), and after that for every call: nothing is
// written past a failure.
inline bool write_stdout(std::string_view text) noexcept {
  if (stdout_write_state::first_failure) return false;
  while (!text.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stdout_write_state::first_failure = n < 0 ? errno : 0;
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The errno of the first write_stdout that failed, or nullopt.
[[nodiscard]] inline std::optional<int> stdout_write_failure() noexcept { return stdout_write_state::first_failure; }

// Counts as a write that failed with ERR, unless one already failed: for a
// program that learned otherwise that stdout's reader is gone (poll's
// POLLERR while it waits for something to print).
inline void note_stdout_failure(int err) noexcept {
  if (!stdout_write_state::first_failure) stdout_write_state::first_failure = err;
}

// The end of main. EXIT_CODE when everything printed reached stdout, both
// through write_stdout and through stdio (CLI11's --help and --version go
// through std::cout); else exit_after_stdout_failure's rule, a failure other
// than EPIPE said on stderr as MESSAGE_PREFIX and the reason
// ("airssys-ledger: io: writing standard output: No space left on device").
[[nodiscard]] inline int end_with_stdout_checked(int exit_code, int failed_code, std::string_view message_prefix) noexcept {
  std::optional<int> failed = stdout_write_failure();
  if (!failed) failed = stdout_flush_failure();
  if (!failed) return exit_code;
  if (*failed != EPIPE) {
    try {
      write_stderr_ignoring_failure(std::string(message_prefix) + write_failure_reason(*failed) + "\n");
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory loses the message, not the exit code
    }
  }
  return exit_after_stdout_failure(*failed, exit_code, failed_code);
}

}  // namespace airssys::osl::detail
