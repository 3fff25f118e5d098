#include "platform/linux_fork.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include <airssys/osl/proc.hpp>

namespace airssys::osl::detail {

namespace {

// What the monitor tells the caller before it runs the body.
struct Hello {
  pid_t pid;
  std::uint64_t start_time;
};

bool write_all(int fd, const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// In the monitor: stdio, hello, body. Never returns.
[[noreturn]] void run_monitor(const std::function<int(UniqueFd)>& body, int output_fd, int hello_fd, int ready_fd) {
  // Park the output above 2 first: it may itself be 0, 1 or 2.
  const int out = output_fd >= 0 ? ::fcntl(output_fd, F_DUPFD_CLOEXEC, 3) : -1;
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) ::dup2(null, 0);
  ::dup2(out >= 0 ? out : null, 1);
  ::dup2(out >= 0 ? out : null, 2);
  if (out >= 0) ::close(out);
  if (null > 2) ::close(null);
  const pid_t self = ::getpid();
  const auto st = proc::read_stat(self);
  const Hello hello{self, st ? st->starttime : 0};
  (void)write_all(hello_fd, &hello, sizeof hello);
  ::close(hello_fd);
  int status = 70;  // EX_SOFTWARE: the body threw
  try {
    status = body(UniqueFd(ready_fd));
  } catch (...) {
  }
  std::fflush(nullptr);
  ::_exit(status);
}

}  // namespace

std::expected<process::ForkedMonitor, Error> double_fork(const std::function<int(UniqueFd)>& body, int output_fd) {
  int ready[2];
  int hello[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return std::unexpected(Error::from_errno(errno, "pipe"));
  UniqueFd ready_rd(ready[0]);
  UniqueFd ready_wr(ready[1]);
  if (::pipe2(hello, O_CLOEXEC) != 0) return std::unexpected(Error::from_errno(errno, "pipe"));
  UniqueFd hello_rd(hello[0]);
  UniqueFd hello_wr(hello[1]);
  std::fflush(nullptr);  // or the monitor would write the caller's buffered output again
  const pid_t middle = ::fork();
  if (middle < 0) return std::unexpected(Error::from_errno(errno, "fork"));
  if (middle == 0) {
    ::close(ready_rd.release());
    ::close(hello_rd.release());
    ::setsid();
    const pid_t m = ::fork();
    if (m != 0) ::_exit(m < 0 ? 1 : 0);
    run_monitor(body, output_fd, hello_wr.release(), ready_wr.release());
  }
  ready_wr.reset();
  hello_wr.reset();
  int st = 0;
  while (::waitpid(middle, &st, 0) < 0 && errno == EINTR) {
  }
  Hello h{};
  std::size_t got = 0;
  while (got < sizeof h) {
    const ssize_t n = ::read(hello_rd.get(), reinterpret_cast<char*>(&h) + got, sizeof h - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got != sizeof h) {
    return std::unexpected(Error::make(ErrorCategory::resource_exhausted,
                                       "the monitor process could not be started (the second fork failed)"));
  }
  return process::ForkedMonitor{h.pid, h.start_time, std::move(ready_rd)};
}

}  // namespace airssys::osl::detail
