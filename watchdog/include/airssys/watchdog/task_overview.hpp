#pragma once
// What a registry holds, summarised, for `rehydrate` (the tasks not over,
// for someone resuming work) and `stats` (counts by state and outcome), as
// library calls. Nothing here prints.

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/task_state.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace airssys::watchdog {

struct LiveTask {
  TaskRecord record;
  // As TaskStatus::effective_state; for a container task whose engine does
  // not answer, "<state> (container engine not answering)" (never "lost":
  // nothing is known) with processes_alive 0.
  std::string effective_state;
  std::size_t processes_alive = 0;
  // As TaskStatus::unverified: what /proc could not show (hidepid); "" when
  // it showed everything.
  std::string unverified;
  std::string last_output;  // the last non-empty line of its stdout log (at most 120 characters; "" when none)
  std::string last_error;   // the same for its stderr log
};

struct LiveTasks {
  std::vector<LiveTask> live;  // every task not in a terminal state, in id order
  std::size_t ended = 0;       // how many are in a terminal state
};

// Errors: registry_corrupt, failure.
[[nodiscard]] std::expected<LiveTasks, Error> live_tasks(const Registry& reg);

struct RegistryStats {
  std::size_t tasks = 0;
  std::map<TaskState, std::size_t> by_state;  // states with at least one task
  // Over the tasks with an ended_ms at or after their created_ms; none when
  // there are none. A record ending before it began (a clock set back, an
  // edit) is counted in durations_skipped instead.
  std::optional<std::int64_t> mean_duration_ms;
  std::size_t durations_skipped = 0;
  std::int64_t leftover_processes_killed = 0;  // summed over every task (negative values ignored, saturating)
};

// Reads the registry only (no /proc): counts the recorded states, so a task
// /proc cannot show is never counted lost here. Errors: registry_corrupt, failure.
[[nodiscard]] std::expected<RegistryStats, Error> registry_stats(const Registry& reg);

}  // namespace airssys::watchdog
