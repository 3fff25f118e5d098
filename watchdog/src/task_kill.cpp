#include <airssys/watchdog/task_kill.hpp>

#include <airssys/watchdog/runner.hpp>
#include <airssys/watchdog/task_status.hpp>

#include "container.hpp"
#include "kill_tree.hpp"
#include "proc.hpp"
#include "task_records.hpp"

#include <fmt/format.h>

#include <csignal>

namespace airssys::watchdog {

namespace {

// What the kill established, to be recorded.
struct Verdict {
  std::size_t survivors = 0;
  std::string unverified;  // non-empty: nothing was found alive, but /proc could not show everything
};

// Records the verdict as a compare-and-set on the state read before the
// kill (`before`): the monitor may have written its own end meanwhile.
// `exited` is what it records on seeing the end our signal caused, and
// `killed` replaces it once nothing is left, whatever the exit code: the
// monitor keeps a `killed` written before its own end, so either order
// gives `killed` (a task that ends itself with 0 on SIGTERM was still
// killed; its exit code stays in the record). Any other state it wrote
// (timed_out at its deadline, failed) is kept, and so is a record removed
// or replaced meanwhile. Returns the state the record holds afterwards.
std::expected<std::optional<TaskState>, Error> record_verdict(const Registry& reg, const TaskRecord& before, bool monitor_alive,
                                                              const Verdict& v) {
  std::optional<TaskState> after;
  auto r = reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    after.reset();
    auto it = d.tasks.find(before.id);
    if (it == d.tasks.end() || it->second.created_ms != before.created_ms) return {};
    TaskRecord& t = it->second;
    after = t.state;
    if (t.state != before.state && t.state != TaskState::exited) return {};
    if (v.survivors > 0) {
      t.error = fmt::format("`task-watchdog kill`: {} process(es) survived SIGKILL", v.survivors);
    } else if (!v.unverified.empty()) {
      t.error = fmt::format("`task-watchdog kill`: could not verify that its processes are gone ({})", v.unverified);
    } else {
      // A live record's notes of a deadline kill that `run` (or, in
      // leftover_processes, a daemon before 2026-12-05) could not finish are
      // not leftovers of this one: status and stats would count them as
      // processes killed after the main process ended. The monitor's
      // `exited` record sets leftover_processes as it sees the end: that
      // count is genuine and stays.
      t.extra.erase(detail::kKillUnfinishedKey);
      if (t.state != TaskState::exited) t.leftover_processes.reset();
      t.state = TaskState::killed;
      t.error = "killed by `task-watchdog kill`";
      if (!monitor_alive || !t.ended_ms) t.ended_ms = detail::now_ms();
    }
    after = t.state;
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return after;
}

}  // namespace

std::expected<KillTaskReport, Error> kill_recorded_task(const Registry& reg, const std::string& id, const KillRequest& req) {
  auto t = find_task(reg, id);
  if (!t) return std::unexpected(t.error());
  const std::chrono::milliseconds grace = req.grace.value_or(std::chrono::milliseconds(t->grace_ms));
  KillTaskReport report;
  if (is_terminal(t->state)) {
    report.outcome = KillOutcome::already_ended;
    report.ended_as = t->state;
    return report;
  }
  if (is_container_task(*t)) {
    auto done = kill_container_task(reg, *t, grace);
    if (!done) return std::unexpected(done.error());
    report.outcome = KillOutcome::container;
    report.container_summary = std::move(*done);
    return report;
  }
  const auto tp = task_processes(*t);
  auto found = collect_processes_checked(tp);
  // Cgroup members /proc hides are known to run: kill_task reaches them through the cgroup.
  if (found.pids.empty() && found.hidden_members.empty()) {
    if (found.unreadable > 0) {  // nothing seen, but not everything could be looked at
      report.outcome = KillOutcome::unverified;
      report.unverified_reason = found.reason;
      auto recorded = record_verdict(reg, *t, tp.monitor.has_value(), Verdict{.unverified = found.reason});
      if (!recorded) return std::unexpected(recorded.error());
      report.recorded_as = *recorded;
      return report;
    }
    if (!tp.monitor && t->pid && process_gone(static_cast<pid_t>(*t->pid), t->pid_start_time)) {
      return std::unexpected(Error{ErrorCategory::stale, fmt::format("task '{}': nothing to kill: pid {} has ended or now belongs to "
                                                                     "another process (start time differs)", id, *t->pid)});
    }
    report.outcome = KillOutcome::nothing_left;
    return report;
  }
  auto system = make_system(req.policy_file, reg.dir());
  if (!system) return std::unexpected(system.error());
  const auto r = kill_task(*system, current_principal(), tp, grace, std::move(found), req.sigkill_wait);
  const Verdict verdict{.survivors = r.survivors.size(), .unverified = r.unverified > 0 ? r.unverified_reason : std::string()};
  auto recorded = record_verdict(reg, *t, tp.monitor.has_value(), verdict);
  if (!recorded) return std::unexpected(recorded.error());
  report.outcome = !r.survivors.empty() ? KillOutcome::survived : r.unverified > 0 ? KillOutcome::unverified : KillOutcome::killed;
  report.found = r.found;
  report.terminated = r.terminated;
  report.method = r.method;
  report.unverified_reason = verdict.unverified;
  report.recorded_as = *recorded;
  for (const auto& p : r.survivors) report.survivors.push_back(p.pid);
  return report;
}

}  // namespace airssys::watchdog
