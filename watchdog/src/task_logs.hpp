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

#include <expected>
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

}  // namespace airssys::watchdog::detail
