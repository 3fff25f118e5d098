#pragma once
// TaskMonitor — the one event loop that watches a task until it ends, for
// every kind of task: native (started by us), adopted (`register`) and
// container. Internal.
//
// The monitor sleeps in epoll on:
//   - the target's "ended" fd: the pidfd of a native or adopted process, an
//     eventfd the container's /wait thread writes;
//   - the deadline timerfd (--timeout, or the adopted task's deadline);
//   - the --idle-timeout watch (task_logs.hpp: inotify on the log files and a
//     timer each write re-arms), when the task has one;
//   - a signalfd: SIGINT/SIGTERM are passed on to the task in the foreground
//     (--wait, like timeout(1)); in the background they and SIGQUIT stop the
//     task (state killed); SIGHUP is ignored (the caller's terminal went
//     away); SIGCHLD lets a native monitor reap orphans re-parented to it.
// No polling: a task that runs for a day costs no CPU in its monitor.
//
// What differs between the kinds is behind MonitorTarget: how to stop the
// whole task, how to pass a signal on, what a SIGCHLD means.

#include <airssys/osl/unique_fd.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace airssys::watchdog::detail {

class IdleWatch;

// Why the monitor stops a task: told by the event that fired, so a target
// that records a reason (the container's kill audit) need not guess it
// from the clock afterwards.
enum class StopCause {
  deadline,      // the deadline timer fired
  idle_timeout,  // --idle-timeout: no output for that long
  signal,        // the monitor was told to stop (SIGTERM, SIGINT, SIGQUIT in the background)
  failure,       // the monitor cannot keep watching (epoll failed)
};

class MonitorTarget {
 public:
  virtual ~MonitorTarget() = default;
  // Readable once the task has ended by itself.
  [[nodiscard]] virtual int ended_fd() const = 0;
  // Ends the whole task: SIGTERM (or the engine's stop), `grace`, SIGKILL.
  // Blocks until done; the target keeps what it learnt for the record.
  virtual void stop(std::chrono::milliseconds grace, StopCause cause) = 0;
  // Passes SIGINT or SIGTERM on to the task (foreground monitors only).
  virtual void forward(int signo) = 0;
  // A child of the monitor ended (SIGCHLD); only native monitors ask for it.
  virtual void on_child_exit() {}
};

enum class MonitorEnd { exited, timed_out, killed };

struct MonitorOutcome {
  MonitorEnd end = MonitorEnd::exited;
  std::string note;  // why it was stopped, for the record's `error` ("" for the deadline)
};

struct MonitorWatch {
  std::optional<std::chrono::milliseconds> deadline_in;  // from now; none: no deadline
  IdleWatch* idle = nullptr;                            // armed by run(); null: no --idle-timeout
  std::optional<std::chrono::milliseconds> idle_timeout;  // its length, for the note
  std::chrono::milliseconds grace{10'000};
};

class TaskMonitor {
 public:
  // Blocks the monitor's signals (with SIGCHLD when `reap_children`) into a
  // signalfd. Construct it before any thread starts (osl's System, the
  // container's threads): threads inherit the signal mask.
  TaskMonitor(bool foreground, bool reap_children);

  // Sleeps until the task ends by itself, its deadline or idle timeout
  // passes (target.stop), or the monitor is told to stop (target.stop).
  [[nodiscard]] MonitorOutcome run(MonitorTarget& target, const MonitorWatch& watch);

 private:
  bool foreground_;
  osl::UniqueFd sigfd_;
};

}  // namespace airssys::watchdog::detail
