#include "native_task.hpp"

#include "task_logs.hpp"
#include "task_monitor.hpp"
#include "task_records.hpp"

#include <airssys/osl/process.hpp>
#include "kill_tree.hpp"
#include "proc.hpp"
#include "task_cgroups.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

namespace airssys::watchdog::detail {

namespace {

// Reaps every exited child except `leader` (which its osl handle reaps):
// double-forked descendants of the task are re-parented to us (subreaper)
// and must not pile up as zombies while the task runs.
void reap_orphans(pid_t leader) {
  const pid_t self = ::getpid();
  for (const auto& p : all_processes()) {
    if (p.ppid == self && p.pid != leader && (p.state == 'Z' || p.state == 'X')) ::waitpid(p.pid, nullptr, WNOHANG);
  }
}

class NativeTarget final : public MonitorTarget {
 public:
  NativeTarget(osl::System& system, const std::string& principal, const osl::process::Process& proc, TaskProcesses tp)
      : system_(system), principal_(principal), proc_(proc), tp_(std::move(tp)) {}
  [[nodiscard]] int ended_fd() const override { return proc_.pidfd(); }
  void stop(std::chrono::milliseconds grace, StopCause /*cause*/) override { report = kill_task(system_, principal_, tp_, grace); }
  void forward(int signo) override { (void)signal_task(system_, principal_, tp_, signo); }
  void on_child_exit() override { reap_orphans(proc_.pid()); }

  KillReport report;

 private:
  osl::System& system_;
  const std::string& principal_;
  const osl::process::Process& proc_;
  TaskProcesses tp_;
};

Containment containment_of(const TaskCgroups& cgroups) {
  Containment c;
  if (cgroups.v2) {
    c.kind = ContainmentKind::cgroup2;
    c.cgroup = cgroups.v2->string();
  } else {
    c.kind = ContainmentKind::process_group;
    c.note = cgroups.v2_error;
  }
  for (const auto& [ctl, dir] : cgroups.v1) c.v1.emplace(ctl, dir.string());
  return c;
}

}  // namespace

std::expected<int, Error> run_native_monitor(const Registry& reg, const StartRequest& req, Handshake& handshake) {
  const StartFailure fail(reg, req.id, handshake);

  TaskMonitor monitor(handshake.foreground(), /*reap_children=*/true);  // before osl starts threads
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  auto system = make_system(req.policy_file, reg.dir());
  if (!system) return fail(system.error());
  const std::string principal = current_principal();
  // The log files are made (checked directory, no symbolic link, 0600,
  // emptied) as for container tasks; osl then opens them for the task under
  // the policy (fs.write), appending to what we made.
  if (auto logs = open_task_logs(reg, req.id); !logs) return fail.cannot_start(logs.error());
  // --idle-timeout watches the log files; if it cannot, the start fails.
  auto idle = IdleWatch::create(reg, req.id, req.idle_timeout);
  if (!idle) return fail.cannot_start(idle.error());

  auto cgroups = create_task_cgroups(*system, principal, osl::cgroup::detect_layout(), req.id, ::getpid(), req.limits);
  if (!cgroups) return fail.cannot_start(Error{ErrorCategory::spawn_failed, cgroups.error()});
  const Containment containment = containment_of(*cgroups);

  osl::process::Spawn op;
  op.argv = req.argv;
  op.options.extra_env = req.env;
  op.options.extra_env.push_back("TASK_ID=" + req.id);
  op.options.cwd = req.cwd;
  op.options.stdin_ = osl::process::Stdio::null();
  op.options.stdout_ = osl::process::Stdio::file(reg.log_path(req.id, "stdout"), /*append=*/true);
  op.options.stderr_ = osl::process::Stdio::file(reg.log_path(req.id, "stderr"), /*append=*/true);
  op.options.new_process_group = true;
  op.options.join_cgroups = cgroups->dirs();
  op.options.keep_fds = req.keep_fds;
  auto proc = system->run(principal, op);
  // Our copies of the kept fds (a fork inherits them all) must not outlive
  // the task: a flock on one is released when the task ends, not when we
  // exit. In the foreground they are the caller's, left alone.
  if (!handshake.foreground()) {
    for (const int fd : req.keep_fds) ::close(fd);
  }
  if (!proc) {
    (void)remove_task_cgroups(*system, principal, *cgroups);
    // A malformed request (a --keep-fd that is not open, or that was closed
    // or replaced before the task started) is a usage error (exit 2), not a
    // program that cannot be executed (126).
    const auto category = proc.error().category == osl::ErrorCategory::not_found ? ErrorCategory::program_not_found
                          : proc.error().category == osl::ErrorCategory::invalid_argument ? ErrorCategory::usage
                                                                                             : ErrorCategory::not_executable;
    return fail(Error{category, fmt::format("cannot start task '{}': {}", req.id, proc.error().to_string()), proc.error().errno_value});
  }
  const pid_t pid = proc->pid();
  // Read after the exec: osl's spawn (CLONE_VFORK) returns only once the
  // child has exec'd, so there is no moment to read it before. Under hidepid
  // /proc no longer shows a setuid or file-capability program to us, and the
  // record then has no pid_start_time: kill_tree.hpp treats such a leader as
  // "cannot tell" (unverified) while its pid is not known gone, never as ended.
  const auto pid_start = osl::process::start_time_of(pid);
  const auto self_start = osl::process::start_time_of(::getpid());
  const auto started = std::chrono::steady_clock::now();
  std::optional<std::int64_t> deadline_ms;
  if (req.timeout) deadline_ms = now_ms() + req.timeout->count();

  TaskProcesses tp;
  tp.cgroup = containment.kind == ContainmentKind::cgroup2 ? containment.cgroup : std::string();
  tp.v1 = containment.v1;
  tp.leader = pid;
  if (pid_start) tp.leader_start = *pid_start;
  tp.monitor = ::getpid();
  tp.exclude = {::getpid()};

  auto recorded = update_task(reg, req.id, [&](TaskRecord& t) {
    t.state = TaskState::running;
    t.pid = pid;
    if (pid_start) t.pid_start_time = *pid_start;
    t.monitor_pid = ::getpid();
    if (self_start) t.monitor_start_time = *self_start;
    record_boot(t);  // so a later boot tells these pids are not the task's
    t.containment = containment;
    t.deadline_ms = deadline_ms;
  });
  if (!recorded) {
    (void)kill_task(*system, principal, tp, std::chrono::milliseconds(0));
    return fail(recorded.error());
  }
  handshake.ready();

  // --idle-timeout (task_logs.hpp): the task's output never passes through
  // us; it keeps writing to its files even if the monitor dies.
  NativeTarget target(*system, principal, *proc, tp);
  MonitorWatch watch;
  if (req.timeout) watch.deadline_in = *req.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  watch.idle = &*idle;
  watch.idle_timeout = req.idle_timeout;
  watch.grace = req.grace;
  const MonitorOutcome outcome = monitor.run(target, watch);

  auto status = proc->wait(std::chrono::seconds(30));
  std::size_t leftovers = 0;
  if (outcome.end == MonitorEnd::exited) {
    // The main process ended: what it left behind goes too.
    leftovers = kill_task(*system, principal, tp, req.grace).found;
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  (void)remove_task_cgroups(*system, principal, *cgroups);
  proc->detach();  // already reaped (or unreapable); never kill by handle from here

  (void)update_task(reg, req.id, [&](TaskRecord& t) {
    if (t.state != TaskState::killed) {  // `task-watchdog kill` got there first: keep its verdict
      t.state = outcome.end == MonitorEnd::timed_out ? TaskState::timed_out : outcome.end == MonitorEnd::killed ? TaskState::killed : TaskState::exited;
      if (!outcome.note.empty()) t.error = outcome.note;
    }
    if (status) {
      t.exit_code = status->code;
      t.exit_signal = status->signal;
    }
    t.ended_ms = now_ms();
    if (outcome.end == MonitorEnd::exited) t.leftover_processes = static_cast<std::int64_t>(leftovers);
    if (target.report.left > 0) t.error = fmt::format("{} process(es) could not be killed", target.report.left);
  });
  if (outcome.end == MonitorEnd::timed_out) return kExitTimedOut;
  if (!status) return kExitWatchdogFailed;
  return status->shell_code();
}

}  // namespace airssys::watchdog::detail
