#pragma once
// For the command-line programs of this repository: the first call in main
// (open_closed_standard_fds). A message to stderr: stderr_message.hpp.
// A program started with fd 0, 1 or 2 closed (`airssys-osl fs read F >&-`)
// hands that number to the first file it opens: the audit log opened as fd
// 1, and the file's contents, printed to "stdout", went into the audit log
// between its JSON records, exit 0.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace airssys::osl::detail
