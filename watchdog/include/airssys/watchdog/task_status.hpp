#pragma once
// A task's state as `task-watchdog status ID` shows it, as a library call:
// the record, its effective state, how many of its processes run, and
// their CPU and memory use. Nothing here prints.

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>

namespace airssys::watchdog {

struct TaskStatus {
  TaskRecord record;
  // The recorded state's name, corrected for a monitor that is gone: "lost"
  // when nothing of a live task runs any more, "<state> (monitor gone:
  // deadline not enforced)" when something still does (effective_state).
  // When /proc cannot show the monitor, or the monitor is gone and no
  // process was seen but /proc hid one (hidepid): "<state> (unverified:
  // /proc hides pid N)" ("monitor pid N", "/proc cannot be listed"), never
  // "lost" — it may still run.
  std::string effective_state;
  // The recorded monitor is not known to be gone: it runs with its recorded
  // start time, or /proc cannot show it (then monitor_unverified too).
  bool monitor_running = false;
  bool monitor_unverified = false;
  // Processes seen running, plus the task's cgroup members /proc cannot
  // show (a cgroup lists no zombie, so they run; they have no CPU/memory
  // sample). Native tasks only: when /proc could not show the monitor or a
  // process of the task, `unverified` holds the first error and this count
  // may be short; empty otherwise.
  std::size_t processes_alive = 0;
  std::string unverified;
  // While something runs: CPU % of one CPU (one decimal) from two samples
  // 250 ms apart, and memory in bytes with where it came from
  // ("memory.current", "memory.usage_in_bytes", "rss-sum", "container stats").
  std::optional<double> cpu_percent;
  std::optional<std::uint64_t> memory_bytes;
  std::string memory_source;
  // Container tasks: the record's "container" object with the engine's view
  // added (state, exit_code, pid, oom_killed, memory, nano_cpus,
  // pids_limit, or error), as compact JSON text; empty for native tasks.
  std::string container_json;
  // Container tasks: the same in one line for a person, e.g. "tw-a
  // (0123456789ab) of image localhost/x; engine: running, pid 42; HostConfig
  // Memory 0 NanoCpus 0 PidsLimit 0"; empty for native tasks.
  std::string container_text;
};

// Blocks ~250 ms when something of the task runs (the CPU samples).
// Errors: not_found, registry_corrupt, failure (the registry unreadable).
[[nodiscard]] std::expected<TaskStatus, Error> task_status(const Registry& reg, const std::string& id);

// The recorded state's name corrected for a monitor that is gone, given how
// many of the task's processes run (`alive`). Reads /proc for the monitor; a
// monitor /proc cannot show counts as running here (task_status says more).
[[nodiscard]] std::string effective_state(const TaskRecord& t, std::size_t alive);

// For `logs --follow`: true once task `id` has ended — its record is in a
// terminal state, or its monitor is gone and nothing of it runs ("lost";
// never while it is "unverified").
// Reads /proc; while a process of it cannot be read (hidepid) it has not
// ended. Errors: not_found, registry_corrupt, failure.
[[nodiscard]] std::expected<bool, Error> task_has_ended(const Registry& reg, const std::string& id);

// The record of task `id`; not_found names the id and the registry.
[[nodiscard]] std::expected<TaskRecord, Error> find_task(const Registry& reg, const std::string& id);

}  // namespace airssys::watchdog
