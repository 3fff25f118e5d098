#pragma once
// The --keep-fd N list of a command line - process::Options::keep_fds typed
// by a person (airssys-osl exec, task-watchdog start) - checked in the
// command line's own words: each fd above 2, listed once, open in this
// process. Check it before the program opens anything: once it has opened
// a policy, a log or a socket, one of those may sit on a number the caller
// left closed and pass for the caller's fd. run() checks the list again
// when it spawns (invalid_argument); this tells the person at the terminal
// first, naming the option. Header-only, so that every CLI shares it
// without a library of its own.

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include <airssys/osl/error.hpp>

namespace airssys::osl::process {

// How the messages name the command's parts.
struct KeepFdWords {
  std::string_view child;    // whose stdin, stdout and stderr fds 0-2 are: "the task's"
  std::string_view set_by;   // the command that sets those: "start"
  std::string_view program;  // what the caller starts with the fd open: "task-watchdog"
};

// invalid_argument naming the first bad fd: "--keep-fd 1: the task's stdin,
// stdout and stderr are set by start, name an fd above 2", "--keep-fd 9 is
// given twice", "--keep-fd 5: fd 5 is not open (open it where task-watchdog
// is started, e.g. `5>FILE`)" (errno_value EBADF).
[[nodiscard]] inline std::expected<void, Error> check_keep_fd_option(const std::vector<int>& fds,
                                                                     const KeepFdWords& words) {
  for (auto it = fds.begin(); it != fds.end(); ++it) {
    const std::string n = std::to_string(*it);
    if (*it <= 2) {
      return std::unexpected(Error::make(ErrorCategory::invalid_argument,
                                         "--keep-fd " + n + ": " + std::string(words.child) +
                                             " stdin, stdout and stderr are set by " + std::string(words.set_by) +
                                             ", name an fd above 2"));
    }
    if (std::find(fds.begin(), it, *it) != it) {
      return std::unexpected(Error::make(ErrorCategory::invalid_argument, "--keep-fd " + n + " is given twice"));
    }
    if (::fcntl(*it, F_GETFD) < 0) {
      const int err = errno;
      Error e = Error::make(ErrorCategory::invalid_argument,
                            "--keep-fd " + n + ": fd " + n + " is not open (open it where " +
                                std::string(words.program) + " is started, e.g. `" + n + ">FILE`)");
      e.errno_value = err;
      return std::unexpected(std::move(e));
    }
  }
  return {};
}

}  // namespace airssys::osl::process
