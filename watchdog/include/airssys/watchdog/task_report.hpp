#pragma once
// `task-watchdog report` as a library call: the registry summarised for a
// person — tasks by effective state, the longest-running live tasks and the
// most recent failures (docs/task-watchdog.md, "report"). Nothing here
// prints; the CLI formats the struct (watchdog/tools/report.cpp).

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <vector>

namespace airssys::watchdog {

struct ReportedTask {
  TaskRecord record;
  std::string effective_state;  // as TaskStatus::effective_state, e.g. "running (monitor gone: deadline not enforced)"
};

struct TaskReport {
  std::int64_t now_ms = 0;  // Unix ms when the registry was read: up times and "ago" count from it
  std::size_t tasks = 0;
  // By the effective state's first word: "running (monitor gone…)" counts as
  // "running", a live task of which nothing runs as "lost". A task /proc
  // cannot show ("running (unverified: …)") counts as its recorded state.
  std::map<std::string, std::size_t> by_state;
  // Of the live tasks, how many /proc could not fully show (TaskStatus::unverified
  // non-empty): the monitor or a process hidden, even while the monitor runs.
  std::size_t unverified = 0;
  // At most 5 live tasks (not lost), longest-running (oldest created_ms) first.
  std::vector<ReportedTask> longest_running;
  // At most 10 tasks failed, timed_out, killed, or exited with a non-zero
  // code or a signal, most recently ended (ended_ms, else created_ms) first.
  std::vector<TaskRecord> recent_failures;
};

// Reads /proc for each live task's processes. Errors: registry_corrupt, failure.
[[nodiscard]] std::expected<TaskReport, Error> task_report(const Registry& reg);

}  // namespace airssys::watchdog
