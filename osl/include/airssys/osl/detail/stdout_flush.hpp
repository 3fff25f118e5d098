#pragma once
// For the command-line programs of this repository: whether what was
// printed through stdio reached standard output, checked once before exit,
// and how a command ends when it did not (exit_after_stdout_failure).

#include <signal.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace airssys::osl::detail {

// Flushes stdout. nullopt when everything printed was written; else the
// errno of the write that failed, or 0 when it is not known any more: the
// error flag was set by an earlier write nobody checked, and errno has
// changed since (it must not be read then: it names some later, unrelated
// call's failure).
[[nodiscard]] inline std::optional<int> stdout_flush_failure() noexcept {
  errno = 0;
  if (std::fflush(stdout) != 0) return errno;
  if (std::ferror(stdout) != 0) return 0;
  return std::nullopt;
}

// The reason printed for stdout_flush_failure's result.
[[nodiscard]] inline std::string write_failure_reason(int err) {
  return err == 0 ? std::string("write error") : std::string(std::strerror(err));
}

// How a command whose output could not be written ends (the rule of every
// CLI here; `err` as stdout_flush_failure gives it, `exit_code` the
// command's own). A reader that went away (EPIPE: `| head`) is not an
// error: a command that would exit 0 ends by SIGPIPE (status 141), as most
// Unix tools do, and this does not return; one that already failed keeps
// `exit_code`. Any other failure (a full disk, a closed stdout: EBADF) is
// `failed_code` unless the command had already failed; the caller says it
// on stderr (write_failure_reason), never for EPIPE. For programs that
// ignore SIGPIPE so that a write fails with EPIPE instead of killing them
// half-way: SIGPIPE is let through once, here.
[[nodiscard]] inline int exit_after_stdout_failure(int err, int exit_code, int failed_code) noexcept {
  if (err == EPIPE && exit_code == 0) {
    std::signal(SIGPIPE, SIG_DFL);
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &pipe_only, nullptr);
    std::raise(SIGPIPE);
  }
  return exit_code == 0 ? failed_code : exit_code;
}

}  // namespace airssys::osl::detail
