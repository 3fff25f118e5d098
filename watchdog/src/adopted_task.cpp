#include "adopted_task.hpp"

#include "task_monitor.hpp"
#include "task_records.hpp"

#include <airssys/osl/proc.hpp>
#include <airssys/osl/process.hpp>
#include <airssys/osl/unique_fd.hpp>
#include "kill_tree.hpp"
#include "proc.hpp"
#include "task_cgroups.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

namespace airssys::watchdog::detail {

namespace {

// Moves an adopted process and its descendants into task cgroups of their
// own (v2, plus the v1 memory cgroup for accounting). A process that cannot
// be moved keeps the fallback. Runs in the monitor, whose pid names the cgroups.
TaskCgroups adopt_into_cgroups(osl::System& system, const std::string& principal, const RegisterRequest& req) {
  auto made = create_task_cgroups(system, principal, osl::cgroup::detect_layout(), req.id, ::getpid(), Limits{});
  if (!made) return TaskCgroups{{}, made.error(), {}};
  TaskCgroups cg = std::move(*made);
  if (!cg.v2) {
    (void)remove_task_cgroups(system, principal, cg);
    return TaskCgroups{{}, cg.v2_error, {}};
  }
  const TaskCgroups v2_only{cg.v2, {}, {}};
  if (auto r = move_into(system, principal, v2_only, req.pid); !r || process_gone(req.pid, req.pid_start_time)) {
    (void)remove_task_cgroups(system, principal, cg);
    return TaskCgroups{{}, r ? "the process ended while being moved" : "cannot move it into a cgroup: " + r.error(), {}};
  }
  for (auto it = cg.v1.begin(); it != cg.v1.end();) {
    if (move_into(system, principal, TaskCgroups{{}, {}, {{it->first, it->second}}}, req.pid)) {
      ++it;
    } else {
      (void)system.run(principal, osl::cgroup::Remove{{it->second}});
      it = cg.v1.erase(it);
    }
  }
  // Its children: twice, for those forked while the first pass ran.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& p : descendants_of(req.pid, all_processes())) (void)move_into(system, principal, cg, p.pid);
  }
  return cg;
}

class AdoptedTarget final : public MonitorTarget {
 public:
  AdoptedTarget(osl::System& system, const std::string& principal, int pidfd, TaskProcesses tp)
      : system_(system), principal_(principal), pidfd_(pidfd), tp_(std::move(tp)) {}
  [[nodiscard]] int ended_fd() const override { return pidfd_; }
  void stop(std::chrono::milliseconds grace, StopCause /*cause*/) override { report = kill_task(system_, principal_, tp_, grace); }
  void forward(int /*signo*/) override {}  // adopted tasks have no foreground

  KillReport report;

 private:
  osl::System& system_;
  const std::string& principal_;
  int pidfd_;
  TaskProcesses tp_;
};

}  // namespace

AdoptedProcess describe_process(pid_t pid) {
  AdoptedProcess a;
  if (auto reader = osl::proc::Reader::open()) {
    if (auto p = reader->open_process(pid)) {
      if (auto c = reader->cmdline(*p)) {
        for (std::string_view arg : osl::proc::split_args(c->args)) a.argv.emplace_back(arg);
      }
      if (auto cwd = reader->link(*p, osl::proc::LinkKind::cwd)) a.cwd = std::move(cwd->path);
    }
  }
  if (a.argv.empty()) a.argv.push_back(fmt::format("pid:{}", pid));
  return a;
}

void run_adopted_monitor(const Registry& reg, const RegisterRequest& req, Handshake& handshake) {
  const StartFailure start_failure(reg, req.id, handshake);
  auto fail = [&](Error e) { (void)start_failure(std::move(e)); };
  TaskMonitor monitor(/*foreground=*/false, /*reap_children=*/false);  // before osl starts threads
  auto system = make_system(req.policy_file, reg.dir());
  if (!system) return fail(system.error());
  const std::string principal = current_principal();
  osl::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, req.pid, 0)));
  if (!pidfd || process_gone(req.pid, req.pid_start_time)) {
    return fail(Error{ErrorCategory::stale, fmt::format("pid {} ended before it could be adopted", req.pid)});
  }
  const auto self_start = osl::process::start_time_of(::getpid());
  const auto cgroups = adopt_into_cgroups(*system, principal, req);
  auto recorded = update_task(reg, req.id, [&](TaskRecord& t) {
    t.monitor_pid = ::getpid();
    if (self_start) t.monitor_start_time = *self_start;
    record_boot(t);
    if (cgroups.v2) {
      t.containment.kind = ContainmentKind::cgroup2;
      t.containment.cgroup = cgroups.v2->string();
      t.containment.note.clear();
      for (const auto& [ctl, dir] : cgroups.v1) t.containment.v1.emplace(ctl, dir.string());
    } else {
      t.containment.note = "adopted with register: no cgroup (" + cgroups.v2_error + "); its group and descendants are tracked";
    }
  });
  if (!recorded) return fail(recorded.error());
  handshake.ready();

  TaskProcesses tp;
  tp.leader = req.pid;
  tp.leader_start = req.pid_start_time;
  tp.exclude = {::getpid()};
  if (cgroups.v2) tp.cgroup = cgroups.v2->string();
  for (const auto& [ctl, dir] : cgroups.v1) tp.v1.emplace(ctl, dir.string());
  AdoptedTarget target(*system, principal, pidfd.get(), tp);
  MonitorWatch watch;
  if (req.deadline_ms) watch.deadline_in = std::chrono::milliseconds(*req.deadline_ms - now_ms());
  watch.grace = req.grace;
  const MonitorOutcome outcome = monitor.run(target, watch);

  // Empty cgroups go now; leftovers of an adopted process that ended by itself
  // keep theirs (they are not killed), and `run`/`cleanup` remove it later.
  (void)remove_task_cgroups(*system, principal, cgroups);
  (void)update_task(reg, req.id, [&](TaskRecord& t) {
    if (t.state != TaskState::killed) {
      t.state = outcome.end == MonitorEnd::timed_out ? TaskState::timed_out : outcome.end == MonitorEnd::killed ? TaskState::killed : TaskState::exited;
      if (!outcome.note.empty()) t.error = outcome.note;
    }
    t.ended_ms = now_ms();
    if (target.report.left > 0) t.error = fmt::format("{} process(es) could not be killed", target.report.left);
  });
}

}  // namespace airssys::watchdog::detail
