#pragma once
// Finding and killing every process of a task.
//
// A task's processes are, with a cgroup, everything in its cgroup.procs;
// without one (the fallback), its main process (if its start time still
// matches), the members of its process group, and the descendants of its
// monitor (the monitor is a child subreaper, so double-forked and setsid
// children are re-parented to it and stay findable) or of the main process.
// Every PID carries its start time so a recycled PID is never signalled.
//
// Kill = SIGTERM (+SIGCONT) to all → wait up to `grace` for them to go
// (pidfds, no polling) → SIGKILL whatever is left (cgroup.kill when the
// cgroup has it), repeated until nothing is found or `sigkill_wait` has
// passed → verify. A process found by an earlier sweep stays a target while
// it runs, even when it can no longer be found through the task (its leader
// ended first). A cgroup member /proc hides (hidepid) has no start time to
// be signalled by: it is reached through the cgroup (osl cgroup.kill with
// SIGTERM, then SIGKILL: each member pinned by a pidfd and signalled only
// while still listed), and waited for through that pidfd. Signals go
// through airssys-osl (process.signal / process.kill / cgroup.kill,
// policy-checked).

#include <airssys/osl/system.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/task_kill.hpp>
#include <airssys/watchdog/task_state.hpp>

#include "proc.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace airssys::watchdog {

struct TaskProcesses {
  std::string cgroup;  // empty: fallback
  std::map<std::string, std::string> v1;  // hybrid: controller → the task's v1 cgroup (their procs count too)
  std::optional<pid_t> leader;
  // nullopt while `leader` is set: /proc did not show the leader once it had
  // exec'd (a setuid or file-capability program under hidepid), so it cannot
  // be told from a process that reuses the pid: never a target, and while
  // its pid is not known gone the task is unverified, never ended.
  std::optional<std::uint64_t> leader_start;
  std::optional<pid_t> monitor;  // only when verified alive (or it is us)
  std::vector<pid_t> exclude;    // never signalled (the monitor, the caller)
};

// Builds the description from a record; the monitor is included only when it
// still runs with the recorded start time. A record from an earlier boot
// (recorded_before_boot) has no leader and no monitor: every pid it names
// has ended, and a process that now has the pid is someone else's.
[[nodiscard]] TaskProcesses task_processes(const TaskRecord& rec);

// Stores this boot's id in a new record (the optional registry key
// "boot_id"); nothing when it cannot be read.
void record_boot(TaskRecord& rec);

// True only when `rec` is known to be from an earlier boot: its "boot_id"
// is not this boot's, or (an older record without one) a recorded start
// time is later than this boot's uptime. Never from the wall clock (btime
// moves with clock steps). False whenever that cannot be told.
[[nodiscard]] bool recorded_before_boot(const TaskRecord& rec);

// The recorded monitor now: gone when none is recorded or the record is from
// an earlier boot. The monitor runs as the user that started the task (the
// owner of its log files): when that is the caller, a monitor pid the kernel
// says is not ours to signal (kill EPERM) belongs to someone else — gone,
// not "cannot tell". `why` receives the reason for `unknown`.
[[nodiscard]] Presence monitor_presence(const TaskRecord& rec, std::string* why = nullptr);

struct Pid {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
};
// The live (non-zombie) processes of the task right now.
[[nodiscard]] std::vector<Pid> collect_processes(const TaskProcesses& t);

// The same, saying what could not be checked: a cgroup member or the leader
// whose /proc entry the kernel refuses to show (EACCES under hidepid), or a
// /proc that cannot be listed. Such a process may run; a caller verifying a
// kill must not take `pids` empty for "nothing left" while `unreadable` > 0.
// (Other users' processes hidden from the listing are not counted: they
// cannot be told apart from processes that are not the task's.)
struct Collected {
  std::vector<Pid> pids;
  std::size_t unreadable = 0;
  std::string reason;  // the first unreadable entry's error, when unreadable > 0
  pid_t unreadable_pid = 0;  // that entry's pid; 0 when /proc itself could not be listed
  // That entry is the leader, which runs but has no recorded start time
  // (TaskProcesses::leader_start): /proc shows a process, not that it is the task's.
  bool untimed = false;
  // Of `unreadable`, the cgroup members: they run (cgroup.procs lists no
  // zombie), but with no start time they cannot be signalled or sampled.
  // Counted once even when the leader is one of them.
  std::vector<pid_t> hidden_members;
};
[[nodiscard]] Collected collect_processes_checked(const TaskProcesses& t);

struct KillReport {
  std::size_t found = 0;       // processes found at the first sweep (hidden cgroup members included)
  std::size_t terminated = 0;  // gone within the grace period
  std::size_t killed = 0;      // SIGKILLs sent (or cgroup.kill writes)
  std::size_t left = 0;        // still alive at the end: should be 0
  KillMethod method = KillMethod::signals;
  std::vector<Pid> survivors;  // the `left` processes, from the final sweep (start time 0: a hidden cgroup member)
  // The final sweep could not read this many entries (Collected): nothing
  // may be left, but that cannot be verified. `unverified_reason` says why.
  std::size_t unverified = 0;
  std::string unverified_reason;
};

// Runs the whole sequence; blocks at most about grace + sigkill_wait.
[[nodiscard]] KillReport kill_task(osl::System& system, const std::string& principal, const TaskProcesses& t,
                                   std::chrono::milliseconds grace,
                                   std::chrono::milliseconds sigkill_wait = kDefaultSigkillWait);
// The same, for a caller that has just collected the task's processes
// (`found`, from collect_processes_checked(t)) and should not sweep /proc again.
[[nodiscard]] KillReport kill_task(osl::System& system, const std::string& principal, const TaskProcesses& t,
                                   std::chrono::milliseconds grace, Collected found,
                                   std::chrono::milliseconds sigkill_wait = kDefaultSigkillWait);

// Sends `signo` to every process of the task (used to forward SIGINT/SIGTERM
// in --wait mode). Returns how many were signalled.
std::size_t signal_task(osl::System& system, const std::string& principal, const TaskProcesses& t, int signo);

struct WaitGone {
  std::size_t alive = 0;       // still running when `timeout` passed
  std::size_t unverified = 0;  // /proc could not show whether it is still the listed process: not waited for
};
// Waits until every listed process is gone or `timeout` passes (pidfds in
// epoll, bounded by a timerfd). A process whose /proc entry cannot be read
// (hidepid, process_presence == unknown) is not waited for: its pidfd may
// pin a stranger that reused the pid, and waiting out the whole timeout on
// it would say nothing; it is counted in `unverified`.
[[nodiscard]] WaitGone wait_gone(const std::vector<Pid>& pids, std::chrono::milliseconds timeout);

}  // namespace airssys::watchdog
