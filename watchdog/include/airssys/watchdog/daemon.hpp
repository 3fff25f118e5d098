#pragma once
// `task-watchdog run`: the optional daemon that sweeps the registry.
//
// Every task normally has its own monitor, which enforces its deadline; the
// daemon covers what a dead monitor leaves behind. One sweep:
//   - a live task whose monitor is gone (killed, OOM, machine slept…) and
//     whose deadline has passed is killed (state `timed_out`, note says the
//     daemon enforced it); adopted (`register`) tasks are treated the same;
//   - a task whose monitor is gone and of which nothing runs any more is
//     marked `exited` (exit status unknown: nobody saw it end), or `failed`
//     when it never got past `starting`;
//   - stale task cgroups are removed: every <own cgroup>/task-watchdog/<id>-<pid>
//     directory (v2 and v1 hierarchies) that holds no process and whose
//     monitor <pid> no longer runs. rmdir only succeeds on an empty cgroup, so
//     cgroups of other registries' live tasks are never touched.
// Between sweeps the daemon sleeps in epoll on a signalfd and a timerfd armed
// for the next sweep or the earliest deadline of an unmonitored task,
// whichever comes first; SIGTERM/SIGINT end it cleanly (exit 0).

#include <airssys/osl/system.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/task_kill.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace airssys::watchdog {

struct SweepReport {
  std::vector<std::string> actions;         // one line per change, for the daemon's log
  std::optional<std::int64_t> next_deadline_ms;  // earliest deadline of a live task without monitor
};

// One sweep over the registry (and the cgroup tree). Kills block for at most
// the task's grace period plus `sigkill_wait` (task_kill.hpp) and the verification.
[[nodiscard]] std::expected<SweepReport, Error> sweep_registry(const Registry& reg, osl::System& system,
                                                               const std::string& principal,
                                                               std::chrono::milliseconds sigkill_wait = kDefaultSigkillWait);

// Removes stale empty task cgroups (see above) through osl (cgroup.remove,
// as `principal`); returns the directories removed.
std::vector<std::string> remove_stale_cgroups(osl::System& system, const std::string& principal);

// Where the daemon reports what it does: one line per call, no newline.
using DaemonLog = std::function<void(const std::string& line)>;

// The daemon loop. Returns (success) on SIGTERM/SIGINT; already_exists when
// another `run` holds the registry's daemon lock (<registry>.daemon.lock);
// another error when it cannot set up (a bad policy: usage). A sweep that
// fails (e.g. a corrupt registry) goes to `log` and is retried at the next
// interval; SIGHUP sweeps at once.
[[nodiscard]] std::expected<void, Error> run_daemon(const Registry& reg, std::chrono::milliseconds interval,
                                                    const std::filesystem::path& policy_file, const DaemonLog& log,
                                                    std::chrono::milliseconds sigkill_wait = kDefaultSigkillWait);

}  // namespace airssys::watchdog
