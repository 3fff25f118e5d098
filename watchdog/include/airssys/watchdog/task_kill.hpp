#pragma once
// Killing a recorded task: what `task-watchdog kill ID` does, as a library
// call. Nothing here prints; the CLI turns the report into its lines and
// exit status (watchdog/tools/commands.cpp).
//
// A native task is killed as src/kill_tree.hpp describes (SIGTERM, grace,
// SIGKILL sweeps retried for up to KillRequest::sigkill_wait, 15 s unless
// told, all through airssys-osl: policy-checked and audited; cgroup members
// /proc hides are reached through the cgroup), then verified: the record says `killed` only once
// nothing of the task is found. Survivors are reported, and the record's
// `error` says how many survived; its state is left as it was. "Nothing
// found" must be a fact: a process whose /proc entry cannot be read (EACCES
// under hidepid) may run, so then the outcome is `unverified`, not `killed`.
// A container task is stopped, killed and removed through its engine
// (src/container.hpp).
//
// Blocks for up to the grace period plus ~sigkill_wait. Safe to call from several
// processes at once: the verdict is written under the registry's lock, and
// only over the state read before the kill (or the `exited` its monitor
// records on seeing our signal): a record removed or replaced meanwhile, or
// one its monitor ended otherwise (`timed_out` at its deadline, say), keeps
// what was written (`recorded_as`).

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/task_state.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace airssys::watchdog {

// How long SIGKILL is retried on processes that outlive it (uninterruptible
// sleep, a frozen v1 freezer cgroup) before they are reported as survivors:
// `kill --sigkill-wait` and `run --sigkill-wait`. Not the grace period
// (SIGTERM to SIGKILL), which is the task's or `--grace`.
inline constexpr std::chrono::milliseconds kDefaultSigkillWait{15'000};

struct KillRequest {
  std::optional<std::chrono::milliseconds> grace;  // unset: the task's recorded grace period
  std::filesystem::path policy_file;               // empty: the built-in policy (runner.hpp)
  std::chrono::milliseconds sigkill_wait = kDefaultSigkillWait;
};

enum class KillOutcome {
  already_ended,  // the record was already terminal; nothing was signalled (`ended_as`)
  nothing_left,   // a live record, but none of its processes runs; nothing was signalled
  killed,         // a native tree was killed and verified gone; the record says `killed` (see recorded_as)
  survived,       // some processes outlived SIGKILL (`survivors`); the record is not `killed`
  unverified,     // /proc could not show some of its processes (`unverified_reason`): they may run; not `killed`
  container,      // a container task: stopped, killed and removed by its engine (`container_summary`)
};

struct KillTaskReport {
  KillOutcome outcome = KillOutcome::nothing_left;
  TaskState ended_as = TaskState::exited;  // already_ended: the recorded state
  std::size_t found = 0;                   // processes found at the first sweep
  std::size_t terminated = 0;              // of those, gone within the grace period
  std::vector<pid_t> survivors;            // alive after the SIGKILL sweeps
  KillMethod method = KillMethod::signals;  // killed, survived, unverified: how (to_string: "cgroup.kill", "signals")
  std::string unverified_reason;           // unverified: the /proc error, e.g. "/proc/42/stat: Permission denied"
  // killed, survived, unverified: the record's state afterwards. After
  // `killed` it is `killed` unless the task's monitor recorded another end
  // while the kill ran (timed_out, failed; an `exited` becomes `killed`,
  // whatever its exit code); that one is kept.
  std::optional<TaskState> recorded_as;
  std::string container_summary;  // container: one line saying what was done
};

// Errors: not_found (no task `id`), stale (a task without a monitor whose
// recorded pid has ended or was reused: there is nothing to kill and its
// record cannot be trusted), usage (a bad policy file), registry_corrupt,
// failure (the verdict could not be written; the kill itself happened), and
// the container engine's errors.
[[nodiscard]] std::expected<KillTaskReport, Error> kill_recorded_task(const Registry& reg, const std::string& id,
                                                                      const KillRequest& req = {});

}  // namespace airssys::watchdog
