#pragma once
// The --keep-fd N list of a command line - process::Options::keep_fds typed
// by a person (airssys-osl exec, task-watchdog start) - checked in the
// command line's own words: each a decimal number (parse_keep_fd_option),
// above 2, listed once, open in this process. Check it before the program
// opens anything: once it has opened a policy, a log or a socket, one of
// those may sit on a number the caller left closed and pass for the
// caller's fd. run() checks the list again when it spawns
// (invalid_argument); this tells the person at the terminal first, naming
// the option. Header-only, so that every CLI shares it without a library of
// its own.

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include <airssys/osl/error.hpp>

namespace airssys::osl::process {

// How the messages name the command's parts.
struct KeepFdWords {
  std::string_view child{};    // whose stdin, stdout and stderr fds 0-2 are: "the task's"
  std::string_view set_by{};   // the command that sets those: "start"
  std::string_view program{};  // what the caller starts with the fd open: "task-watchdog"
};

// The --keep-fd words as typed, each an fd number in decimal digits (a
// leading '-' is let through for check_keep_fd_option to refuse as below 3).
// The CLIs take the words as strings and call this, because CLI11's own
// integer parsing reads '' as 0 and 0x9, 0o11 or 0b1001 as 9: a caller
// would get an fd they did not write. invalid_argument naming the word:
// "--keep-fd '0x9': not an fd number (write it in decimal digits, e.g. 9)".
[[nodiscard]] inline std::expected<std::vector<int>, Error> parse_keep_fd_option(
    const std::vector<std::string>& words) {
  std::vector<int> fds;
  fds.reserve(words.size());
  for (const std::string& w : words) {
    const std::string_view digits = w.starts_with('-') ? std::string_view(w).substr(1) : std::string_view(w);
    int fd = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), fd, 10);
    if (digits.empty() || !std::ranges::all_of(digits, [](char c) { return c >= '0' && c <= '9'; }) ||
        ec != std::errc{} || end != w.data() + w.size()) {
      return std::unexpected(Error::make(ErrorCategory::invalid_argument,
                                         "--keep-fd '" + w + "': not an fd number (write it in decimal digits, e.g. 9)"));
    }
    fds.push_back(fd);
  }
  return fds;
}

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
