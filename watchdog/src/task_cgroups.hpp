#pragma once
// A task's cgroups and its resource limits (`start --memory/--cpus/--pids`),
// made, joined and removed through airssys-osl's cgroup operations
// (osl/cgroup.hpp: policy-checked, audited), never by writing cgroup files
// here.
//
// A task's cgroup is named task-watchdog/<id>-<monitor pid> below
// task-watchdog's own cgroup in each hierarchy osl uses: v2 always when it
// can be made, and a v1 cgroup per limit whose controller v2 does not offer
// (hybrid layouts, as on this machine). On hybrid layouts a v1 memory cgroup
// is also made without --memory (best effort), so `status` can show the
// memory of the whole task. A limit that cannot be applied is an error: the
// task is not started unlimited. The task joins every directory in dirs() at
// spawn. Setting TASK_WATCHDOG_NO_CGROUP=1 disables cgroups (for tests and
// for systems where cgroups must not be touched).

#include <airssys/osl/cgroup.hpp>
#include <airssys/osl/system.hpp>
#include <airssys/watchdog/registry.hpp>

#include <sys/types.h>

#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::watchdog {

struct TaskCgroups {
  std::optional<std::filesystem::path> v2;          // the task's v2 cgroup
  std::string v2_error;                             // why there is none
  std::map<std::string, std::filesystem::path> v1;  // controller → the task's v1 cgroup

  // Every cgroup the task joins (v2 first).
  [[nodiscard]] std::vector<std::filesystem::path> dirs() const;
};

// Makes the cgroups and writes the limits (cgroup.create). Without limits a
// cgroup that cannot be made is no error: v2 stays empty and v2_error says
// why (the process-group fallback). On error nothing made is left and the
// message says which limit failed and why.
[[nodiscard]] std::expected<TaskCgroups, std::string> create_task_cgroups(osl::System& system, const std::string& principal,
                                                                          const osl::cgroup::Layout& layout, std::string_view id,
                                                                          pid_t monitor, const Limits& limits);

// Moves a running process into every cgroup of the task (cgroup.attach;
// `register` uses this for an adopted process). Its existing children stay
// where they are; children it forks later follow it.
[[nodiscard]] std::expected<void, std::string> move_into(osl::System& system, const std::string& principal,
                                                         const TaskCgroups& cgroups, pid_t pid);

// Removes every cgroup of the task (cgroup.remove; they must be empty);
// missing ones are fine. Returns false if one could not be removed.
bool remove_task_cgroups(osl::System& system, const std::string& principal, const TaskCgroups& cgroups);
// For a record's containment: the first failure's message (e.g. "cannot
// remove /sys/fs/cgroup/…: Device or resource busy", or the policy's
// refusal); a cgroup already gone is no failure.
std::expected<void, std::string> remove_task_cgroups(osl::System& system, const std::string& principal, const Containment& containment);

// The cpu.max line for `cpus` CPUs: "<quota> 100000".
[[nodiscard]] std::string cpu_max_line(double cpus);

}  // namespace airssys::watchdog
