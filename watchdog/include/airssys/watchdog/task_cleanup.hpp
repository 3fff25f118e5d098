#pragma once
// `task-watchdog cleanup` as a library call: ends the container tasks whose
// monitor died without a `run` daemon, then removes every ended task
// (exited, timed_out, killed, failed) that ended at least `older_than` ago,
// with its log files, its monitor log, its cgroups (through airssys-osl,
// audited) and any container its monitor left behind. Live tasks are never
// touched, and cleanup kills nothing. Nothing here prints.

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <chrono>
#include <expected>
#include <string>
#include <vector>

namespace airssys::watchdog {

struct CleanupReport {
  // One line per container task that was ended because its monitor was gone.
  std::vector<std::string> ended_containers;
  // The ids of the records removed, in id order.
  std::vector<std::string> removed;
  // What of a removed task could not be removed with it, one line each:
  // "task 'ID': cgroup: cannot remove DIR: Device or resource busy", "task
  // 'ID': log file PATH: REASON", "task 'ID': its container is still there".
  // Empty when everything went.
  std::vector<std::string> not_removed;
};

// A task counts as ended at its ended_ms (its created_ms when that is
// missing). A log file, cgroup or container that cannot be removed is
// listed in not_removed, not an error: the record is gone either way.
// Errors: registry_corrupt, failure (the registry could not be written;
// nothing was removed).
[[nodiscard]] std::expected<CleanupReport, Error> cleanup_tasks(const Registry& reg,
                                                                std::chrono::milliseconds older_than = std::chrono::milliseconds(0));

}  // namespace airssys::watchdog
