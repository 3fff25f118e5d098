#include "monitor_support.hpp"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

namespace airssys::watchdog::detail {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool terminal_state(const std::string& s) { return s == "exited" || s == "timed_out" || s == "killed" || s == "failed"; }

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

std::expected<void, Error> insert_new_task(const Registry& reg, TaskRecord t) {
  return reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    if (auto it = d.tasks.find(t.id); it != d.tasks.end() && !terminal_state(it->second.state)) {
      return std::unexpected(Error{ErrorCode::already_exists, fmt::format("task '{}' already exists in {} and is {}; choose another id",
                                                                          t.id, reg.path().string(), it->second.state)});
    }
    const std::string id = t.id;
    d.tasks.insert_or_assign(id, std::move(t));
    return {};
  });
}

void report_start_failure(const Registry& reg, const std::string& id, int handshake, const Error& e) {
  (void)update_task(reg, id, [&](TaskRecord& t) {
    t.state = "failed";
    t.error = e.message;
    t.ended_ms = now_ms();
  });
  if (handshake < 0) {
    fmt::print(stderr, "task-watchdog: {}\n", e.message);
  } else {
    write_all_fd(handshake, fmt::format("ERR {}\n{}", e.exit_code(), e.message));
  }
}

}  // namespace airssys::watchdog::detail
