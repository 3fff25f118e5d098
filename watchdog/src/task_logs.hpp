#pragma once
// The task's log files: logs/<id>.stdout.log, logs/<id>.stderr.log and
// logs/<id>.monitor.log beside the registry (docs/task-watchdog.md, "Log
// files"). One way to open them, for native and container tasks alike.
//
// The logs directory is made mode 0700 when missing; it must be a real
// directory (a symbolic link there is refused) owned by the effective user
// and not writable by group or others, so nobody else can plant anything in
// it. A log file is opened beneath that directory's fd with O_NOFOLLOW (a
// symbolic link in its place is refused, not followed), must be a regular
// file with no other hard link, and is created or set to mode 0600.
// Internal to the library.

#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <chrono>
#include <expected>
#include <optional>
#include <string>

namespace airssys::watchdog::detail {

// The checked logs directory (an O_DIRECTORY fd, CLOEXEC).
[[nodiscard]] std::expected<osl::UniqueFd, Error> open_logs_dir(const Registry& reg);

// One log file of task `id`; `stream` is "stdout", "stderr" or "monitor".
// `append`: keep what is there (O_APPEND); otherwise it is emptied. The fd
// is CLOEXEC and blocking.
[[nodiscard]] std::expected<osl::UniqueFd, Error> open_task_log(const Registry& reg, const std::string& id,
                                                                const char* stream, bool append);

struct TaskLogs {
  osl::UniqueFd out;
  osl::UniqueFd err;
};
// The task's stdout and stderr logs, emptied: what a start does first. A
// start fails when they cannot be opened (its output would be lost, and
// --idle-timeout could not see it).
[[nodiscard]] std::expected<TaskLogs, Error> open_task_logs(const Registry& reg, const std::string& id);

// --idle-timeout: inotify IN_MODIFY watches on the task's stdout and stderr
// logs and a timerfd that every write re-arms, so the task's output never
// passes through the monitor. A start with --idle-timeout fails when this
// cannot be set up: a timer that nothing re-arms would kill a task that is
// writing.
class IdleWatch {
 public:
  // The watches and a disarmed timer; arm() starts the count. Without
  // `idle` (no --idle-timeout) a watch that does nothing: both fds are -1.
  [[nodiscard]] static std::expected<IdleWatch, Error> create(const Registry& reg, const std::string& id,
                                                              std::optional<std::chrono::milliseconds> idle);
  // (Re)starts the count: the timer expires `idle` from now.
  void arm();
  // The inotify fd was readable: drains it and re-arms the timer.
  void on_output();
  [[nodiscard]] int inotify_fd() const noexcept { return inotify_.get(); }
  [[nodiscard]] int timer_fd() const noexcept { return timer_.get(); }

 private:
  osl::UniqueFd inotify_;
  osl::UniqueFd timer_;
  std::chrono::milliseconds idle_{0};
};

}  // namespace airssys::watchdog::detail
