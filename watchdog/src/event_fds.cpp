#include "event_fds.hpp"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>

namespace airssys::watchdog::detail {

void write_all_fd(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

void arm_timer(int fd, std::chrono::milliseconds after) {
  itimerspec its{};
  const auto ms = std::max<std::int64_t>(after.count(), 1);
  its.it_value.tv_sec = ms / 1000;
  its.it_value.tv_nsec = (ms % 1000) * 1'000'000;
  ::timerfd_settime(fd, 0, &its, nullptr);
}

osl::UniqueFd make_timer(std::chrono::milliseconds after) {
  osl::UniqueFd t(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
  if (t) arm_timer(t.get(), after);
  return t;
}

osl::UniqueFd block_into_signalfd(std::initializer_list<int> signals) {
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : signals) sigaddset(&sigs, s);
  ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return osl::UniqueFd(::signalfd(-1, &sigs, SFD_CLOEXEC));
}

osl::UniqueFd epoll_of(std::initializer_list<int> fds) {
  osl::UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  for (int fd : fds) {
    if (fd < 0 || !ep) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  return ep;
}

bool wait_readable(int fd, std::chrono::milliseconds bound) {
  const osl::UniqueFd ep = epoll_of({fd});
  epoll_event out{};
  for (;;) {
    const int n = ::epoll_wait(ep.get(), &out, 1, static_cast<int>(bound.count()));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

}  // namespace airssys::watchdog::detail
