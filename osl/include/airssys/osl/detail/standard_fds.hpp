#pragma once
// For the command-line programs of this repository: the first call in main
// (open_closed_standard_fds), and a message to stderr that cannot throw.
// A program started with fd 0, 1 or 2 closed (`airssys-osl fs read F >&-`)
// hands that number to the first file it opens: the audit log opened as fd
// 1, and the file's contents, printed to "stdout", went into the audit log
// between its JSON records, exit 0.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string_view>

namespace airssys::osl::detail {

// Opens each of fd 0, 1 and 2 that is closed on /dev/null: 0 and 2
// write-only, 1 read-only, so each fails or works as the closed fd did where
// it matters. A read of stdin fails with EBADF (`airssys-osl fs write F <&-`
// is an error, not an empty F: /dev/null opened for reading would read as
// end of file). A write to stdout fails with EBADF, so a closed stdout is
// reported as output that cannot be written (exit 1). A message to a closed
// stderr is lost, as the caller asked, but does not fail
// (fmt::print(stderr, ...) would throw, and the program abort, on EBADF).
// Either way no file opened later can take their numbers. Call it before
// anything opens a file or starts a thread. Not O_CLOEXEC: these are the
// standard streams a child inherits. False if /dev/null could not be opened
// (the caller exits at once).
[[nodiscard]] inline bool open_closed_standard_fds() noexcept {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // NOLINTNEXTLINE(android-cloexec-open): inherited on purpose
    const int got = ::open("/dev/null", fd == 1 ? O_RDONLY : O_WRONLY);
    if (got < 0) return false;
    if (got != fd) {  // only if another thread opened one meanwhile
      const bool moved = ::dup2(got, fd) == fd;
      ::close(got);
      if (!moved) return false;
    }
  }
  return true;
}

// Writes TEXT to fd 2 and ignores a failure. For a message whose stderr may
// itself be unwritable (`run >/dev/full 2>&1`): fmt::print(stderr, ...)
// throws then, and an exception from a catch handler, or out of a daemon's
// log callback, ends the program (abort, 134). stderr is unbuffered, so
// these lines keep their order with fmt::print(stderr, ...)'s.
inline void write_stderr_ignoring_failure(std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t n = ::write(2, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace airssys::osl::detail
