#pragma once
// A task's cgroups and its resource limits (`start --memory/--cpus/--pids`).
//
// The task always gets a v2 cgroup when one can be made (cgroup.kill,
// cgroup.procs, cpu.stat). Each limit goes where its controller is:
//   - in the v2 hierarchy when the controller is listed in our own cgroup's
//     cgroup.controllers: it is enabled in cgroup.subtree_control of our own
//     cgroup and of task-watchdog/, then memory.max, cpu.max or pids.max is
//     written in the task's v2 cgroup (pure v2 layouts);
//   - else in the controller's v1 hierarchy (hybrid layouts, as on this
//     machine): a task cgroup <v1 mount><own v1 cgroup>/task-watchdog/<id>-<pid>
//     with memory.limit_in_bytes (+ memory.memsw.limit_in_bytes when swap is
//     accounted), cpu.cfs_period_us/cpu.cfs_quota_us or pids.max.
// On hybrid layouts a v1 memory cgroup is also made without --memory (best
// effort), so `status` can show the memory of the whole task.
// A limit that cannot be applied is an error: the task is not started
// unlimited. The task joins every directory in dirs() at spawn.

#include <airssys/watchdog/cgroup.hpp>
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

inline constexpr std::uint64_t kCpuPeriodUsec = 100'000;

struct TaskCgroups {
  std::optional<std::filesystem::path> v2;          // the task's v2 cgroup
  std::string v2_error;                             // why there is none
  std::map<std::string, std::filesystem::path> v1;  // controller → the task's v1 cgroup

  // Every cgroup the task joins (v2 first).
  [[nodiscard]] std::vector<std::filesystem::path> dirs() const;
};

// Makes the cgroups and writes the limits. On error everything made is
// removed again and the message says which limit failed and why.
[[nodiscard]] std::expected<TaskCgroups, std::string> create_task_cgroups(const CgroupLayout& layout, std::string_view id,
                                                                          pid_t monitor, const Limits& limits);

// Moves a running process into every cgroup of the task (writes its pid to
// each cgroup.procs; `register` uses this for an adopted process). Its
// existing children stay where they are; children it forks later follow it.
[[nodiscard]] std::expected<void, std::string> move_into(const TaskCgroups& cgroups, pid_t pid);

// rmdir of every cgroup of the task (they must be empty); missing ones are fine.
void remove_task_cgroups(const TaskCgroups& cgroups);
void remove_task_cgroups(const Containment& containment);

// The cpu.max line for `cpus` CPUs: "<quota> 100000".
[[nodiscard]] std::string cpu_max_line(double cpus);

}  // namespace airssys::watchdog
