#include <airssys/watchdog/task_kill.hpp>

#include <airssys/watchdog/runner.hpp>
#include <airssys/watchdog/task_status.hpp>

#include "container.hpp"
#include "kill_tree.hpp"
#include "proc.hpp"
#include "task_records.hpp"

#include <fmt/format.h>

namespace airssys::watchdog {

namespace {

// Records the verified verdict. The monitor may have recorded the end it saw
// meanwhile (exited, by our signal); `killed` replaces it once nothing is
// left. A record removed or replaced meanwhile is not written over.
std::expected<void, Error> record_verdict(const Registry& reg, const TaskRecord& t, bool monitor_alive, std::size_t survivors) {
  return reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    auto it = d.tasks.find(t.id);
    if (it == d.tasks.end() || it->second.created_ms != t.created_ms) return {};
    if (survivors == 0) {
      it->second.state = TaskState::killed;
      it->second.error = "killed by `task-watchdog kill`";
      if (!monitor_alive || !it->second.ended_ms) it->second.ended_ms = detail::now_ms();
    } else {
      it->second.error = fmt::format("`task-watchdog kill`: {} process(es) survived SIGKILL", survivors);
    }
    return {};
  });
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
  auto found = collect_processes(tp);
  if (found.empty()) {
    if (!tp.monitor && t->pid && process_gone(static_cast<pid_t>(*t->pid), t->pid_start_time)) {
      return std::unexpected(Error{ErrorCategory::stale, fmt::format("task '{}': nothing to kill: pid {} has ended or now belongs to "
                                                                     "another process (start time differs)", id, *t->pid)});
    }
    report.outcome = KillOutcome::nothing_left;
    return report;
  }
  auto system = make_system(req.policy_file, reg.dir());
  if (!system) return std::unexpected(system.error());
  const auto r = kill_task(*system, current_principal(), tp, grace, std::move(found));
  if (auto recorded = record_verdict(reg, *t, tp.monitor.has_value(), r.survivors.size()); !recorded) {
    return std::unexpected(recorded.error());
  }
  report.outcome = r.survivors.empty() ? KillOutcome::killed : KillOutcome::survived;
  report.found = r.found;
  report.terminated = r.terminated;
  report.method = r.method;
  for (const auto& p : r.survivors) report.survivors.push_back(p.pid);
  return report;
}

}  // namespace airssys::watchdog
