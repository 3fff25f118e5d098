#pragma once
// Cgroup layout detection and per-task cgroups.
//
// Layouts handled: pure v2 (cgroup2 at /sys/fs/cgroup), hybrid (v2 at
// /sys/fs/cgroup/unified plus v1 controllers), and none. A task cgroup is
// made in the v2 hierarchy, below this process's own v2 cgroup:
//   <v2 mount><own cgroup>/task-watchdog/<id>-<monitor pid>
// v1 controller mounts are used for the --memory/--cpus/--pids limits on
// hybrid layouts (task_cgroups.hpp).

#include <sys/types.h>

#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::watchdog {

struct CgroupLayout {
  std::optional<std::filesystem::path> v2_mount;  // where cgroup2 is mounted
  std::string v2_self = "/";                      // this process's v2 cgroup ("0::PATH")
  std::map<std::string, std::filesystem::path> v1_mounts;  // controller → mount point
  std::map<std::string, std::string> v1_self;              // controller → this process's v1 cgroup
  std::string v2_root = "/";                               // mountinfo field 4 of the v2 mount
  std::map<std::string, std::string> v1_roots;             // controller → mountinfo field 4
};

// "cgroup2" (v2 only), "hybrid" (v2 and v1 controllers), "cgroup1" or "none".
[[nodiscard]] std::string layout_name(const CgroupLayout& layout);

// This process's cgroup directory in the v2 hierarchy, or in the v1 hierarchy
// of `controller`: mount point + own cgroup (relative to the mount's root).
// nullopt when that hierarchy is not mounted or the path looks wrong.
[[nodiscard]] std::optional<std::filesystem::path> own_v2_dir(const CgroupLayout& layout);
[[nodiscard]] std::optional<std::filesystem::path> own_v1_dir(const CgroupLayout& layout, const std::string& controller);

// Pure parsers of /proc/self/mountinfo and /proc/self/cgroup text.
[[nodiscard]] CgroupLayout parse_cgroup_layout(std::string_view mountinfo, std::string_view self_cgroup);
[[nodiscard]] CgroupLayout detect_cgroup_layout();

// Makes the task's v2 cgroup. The error string says why not (it is shown by
// `status` as the reason for the process-group fallback). Setting
// TASK_WATCHDOG_NO_CGROUP=1 disables cgroups (for tests and for systems
// where cgroups must not be touched).
[[nodiscard]] std::expected<std::filesystem::path, std::string> create_task_cgroup(const CgroupLayout& layout,
                                                                                   std::string_view id, pid_t monitor);

// Makes BASE/task-watchdog/<id>-<monitor> (an empty leftover of that name is
// reused) and checks that its cgroup.procs is writable.
[[nodiscard]] std::expected<std::filesystem::path, std::string> make_task_cgroup_dir(const std::filesystem::path& base,
                                                                                     std::string_view id, pid_t monitor);

// PIDs in DIR/cgroup.procs (empty when the cgroup is gone).
[[nodiscard]] std::vector<pid_t> cgroup_pids(const std::filesystem::path& dir);
// Writes "1" to DIR/cgroup.kill; false when the file is missing or the write fails.
[[nodiscard]] bool cgroup_kill(const std::filesystem::path& dir);
// rmdir; true when it is gone.
bool remove_cgroup(const std::filesystem::path& dir);

}  // namespace airssys::watchdog
