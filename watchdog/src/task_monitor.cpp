#include "task_monitor.hpp"

#include "event_fds.hpp"
#include "task_logs.hpp"

#include <airssys/watchdog/units.hpp>

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace airssys::watchdog::detail {

TaskMonitor::TaskMonitor(bool foreground, bool reap_children)
    : foreground_(foreground),
      sigfd_(reap_children ? block_into_signalfd({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD})
                           : block_into_signalfd({SIGINT, SIGTERM, SIGHUP, SIGQUIT})) {}

MonitorOutcome TaskMonitor::run(MonitorTarget& target, const MonitorWatch& watch) {
  osl::UniqueFd deadline;
  if (watch.deadline_in) deadline = make_timer(*watch.deadline_in);
  const int idle_timer = watch.idle != nullptr ? watch.idle->timer_fd() : -1;
  const int idle_inotify = watch.idle != nullptr ? watch.idle->inotify_fd() : -1;
  if (watch.idle != nullptr) watch.idle->arm();
  const osl::UniqueFd ep = epoll_of({target.ended_fd(), sigfd_.get(), deadline.get(), idle_timer, idle_inotify});
  MonitorOutcome out;
  auto stop = [&](MonitorEnd why, StopCause cause, std::string note) {
    out.end = why;
    out.note = std::move(note);
    target.stop(watch.grace, cause);
  };
  for (;;) {
    epoll_event evs[8];
    const int n = ::epoll_wait(ep.get(), evs, 8, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      stop(MonitorEnd::killed, StopCause::failure, fmt::format("epoll_wait failed: {}", std::strerror(errno)));
      return out;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == target.ended_fd()) return out;
      if (fd == deadline.get()) {
        stop(MonitorEnd::timed_out, StopCause::deadline, "");
        return out;
      }
      if (fd == idle_inotify) {
        watch.idle->on_output();
      } else if (fd == idle_timer) {
        stop(MonitorEnd::timed_out, StopCause::idle_timeout, fmt::format("no output for {} (--idle-timeout)", format_duration(watch.idle_timeout.value_or(
                                                                                          std::chrono::milliseconds(0)))));
        return out;
      } else if (fd == sigfd_.get()) {
        signalfd_siginfo si{};
        if (::read(sigfd_.get(), &si, sizeof si) != sizeof si) continue;
        const int signo = static_cast<int>(si.ssi_signo);
        if (signo == SIGCHLD) {
          target.on_child_exit();
        } else if (foreground_ && (signo == SIGINT || signo == SIGTERM)) {
          target.forward(signo);  // like timeout(1): pass it on, keep waiting
        } else if (signo != SIGHUP) {
          stop(MonitorEnd::killed, StopCause::signal, fmt::format("the monitor received signal {}", signo));
          return out;
        }
      }
    }
  }
}

}  // namespace airssys::watchdog::detail
