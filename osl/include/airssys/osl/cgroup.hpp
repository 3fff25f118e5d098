#pragma once
// Cgroups as airssys-osl operations: make one with resource limits, move a
// process in, kill everything in it, remove it. Each is policy-checked (the
// resources are the cgroup directories; deny by default) and audited with a
// start and an end record, like every other operation.
//
// Layouts: pure v2 (cgroup2 at /sys/fs/cgroup), hybrid (v2 at
// /sys/fs/cgroup/unified plus v1 controller hierarchies) and pure v1. A
// cgroup is made below this process's own cgroup in each hierarchy it needs:
//   - v2, always when a v2 hierarchy is mounted (cgroup.procs, cgroup.kill,
//     cpu.stat);
//   - per limit, where its controller is: in v2 when the controller is listed
//     in our own cgroup's cgroup.controllers (it is then enabled in
//     cgroup.subtree_control of every level down to the new cgroup, and
//     memory.max + memory.swap.max, cpu.max or pids.max is written), else in
//     the controller's v1 hierarchy (memory.limit_in_bytes + memsw when swap
//     is accounted, cpu.cfs_period_us + cpu.cfs_quota_us, pids.max).
// A limit that cannot be applied is an error and nothing made is left; such
// an error's message starts with "<controller> limit: " (memory, cpu, pids).
//
// Read-only facts (the layout, a cgroup's pids) are plain functions: reading
// them changes nothing and needs no policy.

#include <airssys/osl/done.hpp>

#include <sys/types.h>

#include <csignal>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl::cgroup {

struct Layout {
  std::optional<std::filesystem::path> v2_mount;  // where cgroup2 is mounted
  std::string v2_self = "/";                      // this process's v2 cgroup ("0::PATH")
  std::map<std::string, std::filesystem::path> v1_mounts;  // controller → mount point
  std::map<std::string, std::string> v1_self;              // controller → this process's v1 cgroup
  std::string v2_root = "/";                               // mountinfo field 4 of the v2 mount
  std::map<std::string, std::string> v1_roots;             // controller → mountinfo field 4
};

// "cgroup2" (v2 only), "hybrid" (v2 and v1 controllers), "cgroup1" or "none".
[[nodiscard]] std::string layout_name(const Layout& layout);
// This process's cgroup directory in the v2 hierarchy, or in the v1 hierarchy
// of `controller`; nullopt when it is not mounted or the path looks wrong.
[[nodiscard]] std::optional<std::filesystem::path> own_v2_dir(const Layout& layout);
[[nodiscard]] std::optional<std::filesystem::path> own_v1_dir(const Layout& layout, const std::string& controller);
// Pure parser of /proc/self/mountinfo and /proc/self/cgroup text, and the
// layout of this process.
[[nodiscard]] Layout parse_layout(std::string_view mountinfo, std::string_view self_cgroup);
[[nodiscard]] Layout detect_layout();

// The PIDs in DIR/cgroup.procs (empty when the cgroup is gone or the file
// cannot be read, or is no regular file). A process outside the reader's pid
// namespace, listed as 0, is left out.
[[nodiscard]] std::vector<pid_t> pids(const std::filesystem::path& dir);

// The whole of a cgroup (or /proc) file as osl reads them: O_CLOEXEC,
// O_NOFOLLOW, O_NONBLOCK with a regular-file check (cgroupfs files are
// regular; a FIFO planted in a directory taken from a record cannot hang
// the reader), at most 16 MiB. nullopt when it cannot be read.
[[nodiscard]] std::optional<std::string> read_file(const std::filesystem::path& path);

inline constexpr std::uint64_t kCpuPeriodUsec = 100'000;
// The cpu.max line for `cpus` CPUs: "<quota> 100000" (quota at least 1 ms).
[[nodiscard]] std::string cpu_max_line(double cpus);

struct Limits {
  std::optional<std::uint64_t> memory_bytes{};  // no swapping past it either
  std::optional<double> cpus{};                 // CPU quota in CPUs
  std::optional<std::uint64_t> pids{};          // processes and threads
  [[nodiscard]] bool any() const noexcept { return memory_bytes || cpus || pids; }
};

// The directories that together make one cgroup: v2 (when there is one) and,
// on hybrid and v1 layouts, one per v1 controller.
struct Group {
  std::optional<std::filesystem::path> v2;
  std::string v2_error;  // why there is no v2 cgroup
  std::map<std::string, std::filesystem::path> v1;  // controller → directory
  // v2 first, then the v1 ones in controller order.
  [[nodiscard]] std::vector<std::filesystem::path> dirs() const;
};

// cgroup.create — checked on every directory it would make. `name` is a
// relative path below this process's own cgroup ("task-watchdog/job-42"):
// segments of letters, digits and . _ - @ + : (not "." or ".."). Missing
// parents are made (and kept); an existing, empty leaf is reused. Fails
// with `unsupported` when there is nothing to make (no v2 hierarchy and no
// limit that needs a v1 one); the message says why.
struct Create {
  std::string name{};
  Limits limits{};
  // Hybrid layouts: also a v1 memory cgroup without a memory limit (best
  // effort), so the memory of everything inside can be read.
  bool account_memory = false;
  std::optional<Layout> layout{};  // nullopt: detect_layout()
  using Result = Group;
};

// cgroup.attach — writes `pid` to cgroup.procs of each directory (checked on
// each). Its existing children stay where they are; those it forks later
// follow it.
struct Attach {
  std::vector<std::filesystem::path> dirs{};
  pid_t pid = 0;
  using Result = Done;
};

// cgroup.kill — SIGKILL to everything in the directories (checked on each),
// without waiting for them to end (read pids() to see):
//   - "cgroup.kill": a v2 cgroup's cgroup.kill (atomic, forks included);
//   - "freezer": a v1 freezer cgroup is frozen, each member killed through a
//     pidfd, then thawed (nothing forks while it is frozen);
//   - "signals": otherwise each listed member is killed through a pidfd,
//     re-reading cgroup.procs until it is empty (at most 10 rounds).
// A pid is signalled only if it is still listed after its pidfd was opened,
// so a recycled pid outside the cgroup is never hit.
struct KillResult {
  std::size_t signalled = 0;  // processes sent the signal one by one (0 for cgroup.kill)
  std::string method;         // of the first directory: "cgroup.kill", "freezer" or "signals"
};
struct Kill {
  std::vector<std::filesystem::path> dirs{};
  // SIGKILL (the default), as above. SIGTERM (to begin a grace period),
  // SIGINT or SIGCONT go instead through a pidfd to each process listed in
  // any of `dirs`, once however many of them list it, with the same re-check,
  // never through cgroup.kill or the freezer (both mean SIGKILL); method
  // "signals". Every directory is read first (one whose cgroup.procs cannot
  // be read is an error), so an error means nobody was signalled. Any other
  // signal is invalid_argument: a policy rule allowing cgroup.kill names no
  // signal. It is how a caller reaches members it cannot tell by start time
  // (a /proc that hides them). Audited with detail {"signal": N}.
  int signo = SIGKILL;
  using Result = KillResult;
};

// cgroup.remove — rmdir of each directory (checked on each); a missing one
// is fine. One that still holds processes (or child cgroups) fails the
// operation with EBUSY; the others are removed all the same.
struct Remove {
  std::vector<std::filesystem::path> dirs{};
  using Result = Done;
};

}  // namespace airssys::osl::cgroup
