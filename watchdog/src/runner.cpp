#include <airssys/watchdog/runner.hpp>

#include "monitor_support.hpp"
#include "task_logs.hpp"

#include <airssys/osl/proc.hpp>
#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/cgroup.hpp>
#include <airssys/watchdog/container.hpp>
#include <airssys/watchdog/kill_tree.hpp>
#include <airssys/watchdog/proc.hpp>
#include <airssys/watchdog/task_cgroups.hpp>
#include <airssys/watchdog/units.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>

namespace airssys::watchdog {

using osl::UniqueFd;

namespace {

using detail::arm_timer;
using detail::make_timer;
using detail::now_ms;
using detail::terminal_state;
using detail::update_task;
using detail::write_all_fd;

std::expected<void, Error> insert_record(const Registry& reg, const StartRequest& req) {
  TaskRecord t;
  t.id = req.id;
  t.argv = req.argv;
  std::error_code ec;
  t.cwd = req.cwd.empty() ? std::filesystem::current_path(ec).string() : std::filesystem::absolute(req.cwd, ec).string();
  t.env = req.env;
  t.created_ms = now_ms();
  if (req.timeout) t.timeout_ms = req.timeout->count();
  if (req.idle_timeout) t.idle_timeout_ms = req.idle_timeout->count();
  t.grace_ms = req.grace.count();
  t.limits = req.limits;
  t.foreground = req.wait;
  t.stdout_log = reg.log_path(req.id, "stdout").string();
  t.stderr_log = reg.log_path(req.id, "stderr").string();
  return detail::insert_new_task(reg, std::move(t));
}

// Reaps every exited child except `leader` (which its osl handle reaps):
// double-forked descendants of the task are re-parented to us (subreaper)
// and must not pile up as zombies while the task runs.
void reap_orphans(pid_t leader) {
  const pid_t self = ::getpid();
  for (const auto& p : all_processes()) {
    if (p.ppid == self && p.pid != leader && (p.state == 'Z' || p.state == 'X')) ::waitpid(p.pid, nullptr, WNOHANG);
  }
}

// The monitor: spawns the task and watches it to the end. `handshake` is the
// pipe to the `start` caller (-1 in --wait mode). Returns the --wait status.
int monitor(const Registry& reg, const StartRequest& req, int handshake) {
  const bool foreground = handshake < 0;
  auto fail = [&](const Error& e, int status) {
    detail::report_start_failure(reg, req.id, handshake, e);
    return status;
  };

  // Before osl starts threads. SIGCHLD: orphans re-parented to us are reaped as they end.
  UniqueFd sigfd = detail::block_into_signalfd({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD});
  // Orphans of the task (double-forked, setsid) are re-parented to us, so
  // the fallback can still find them, and we reap them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  auto system = make_system(req.policy_file, reg.dir());
  if (!system) return fail(system.error(), kExitWatchdogFailed);
  const std::string principal = current_principal();
  // The log files are made (checked directory, no symbolic link, 0600,
  // emptied) as for container tasks; osl then opens them for the task under
  // the policy (fs.write), appending to what we made.
  if (auto logs = detail::open_task_logs(reg, req.id); !logs) {
    return fail(Error{ErrorCode::spawn_failed, fmt::format("cannot start task '{}': {}", req.id, logs.error().message)}, kExitWatchdogFailed);
  }
  // --idle-timeout watches the log files; if it cannot, the start fails.
  auto idle = detail::IdleWatch::create(reg, req.id, req.idle_timeout);
  if (!idle) return fail(Error{ErrorCode::spawn_failed, fmt::format("cannot start task '{}': {}", req.id, idle.error().message)}, kExitWatchdogFailed);

  const auto layout = detect_cgroup_layout();
  auto cgroups = create_task_cgroups(layout, req.id, ::getpid(), req.limits);
  if (!cgroups) {
    return fail(Error{ErrorCode::spawn_failed, fmt::format("cannot start task '{}': {}", req.id, cgroups.error())}, kExitWatchdogFailed);
  }
  Containment containment;
  if (cgroups->v2) {
    containment.kind = "cgroup2";
    containment.cgroup = cgroups->v2->string();
  } else {
    containment.kind = "process-group";
    containment.note = cgroups->v2_error;
  }
  for (const auto& [ctl, dir] : cgroups->v1) containment.v1.emplace(ctl, dir.string());

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
  auto proc = system->run(principal, op);
  if (!proc) {
    remove_task_cgroups(*cgroups);
    const int status = proc.error().category == osl::ErrorCategory::not_found ? kExitNotFound : kExitCannotRun;
    return fail(Error{ErrorCode::spawn_failed, fmt::format("cannot start task '{}': {}", req.id, proc.error().to_string())},
                status);
  }
  const pid_t pid = proc->pid();
  const auto pid_start = osl::process::start_time_of(pid);
  const auto self_start = osl::process::start_time_of(::getpid());
  const auto started = std::chrono::steady_clock::now();
  std::optional<std::int64_t> deadline_ms;
  if (req.timeout) deadline_ms = now_ms() + req.timeout->count();

  TaskProcesses tp;
  tp.cgroup = containment.kind == "cgroup2" ? containment.cgroup : std::string();
  tp.v1 = containment.v1;
  tp.leader = pid;
  if (pid_start) tp.leader_start = *pid_start;
  tp.monitor = ::getpid();
  tp.exclude = {::getpid()};

  auto recorded = update_task(reg, req.id, [&](TaskRecord& t) {
    t.state = "running";
    t.pid = pid;
    if (pid_start) t.pid_start_time = *pid_start;
    t.monitor_pid = ::getpid();
    if (self_start) t.monitor_start_time = *self_start;
    t.containment = containment;
    t.deadline_ms = deadline_ms;
  });
  if (!recorded) {
    (void)kill_task(*system, principal, tp, std::chrono::milliseconds(0));
    return fail(recorded.error(), kExitWatchdogFailed);
  }
  if (!foreground) {
    write_all_fd(handshake, "OK\n");
    ::close(handshake);
  }

  // The event loop: the task's pidfd, the deadline, signals.
  UniqueFd deadline;
  if (req.timeout) deadline = make_timer(*req.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
  // --idle-timeout (task_logs.hpp): the task's output never passes through
  // us; it keeps writing to its files even if the monitor dies.
  idle->arm();
  const UniqueFd ep = detail::epoll_of({proc->pidfd(), sigfd.get(), deadline.get(), idle->timer_fd(), idle->inotify_fd()});
  enum class End { exited, timed_out, killed } end = End::exited;
  std::string kill_note;
  KillReport report;
  bool done = false;
  while (!done) {
    epoll_event evs[8];
    const int n = ::epoll_wait(ep.get(), evs, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // cannot wait: fall through and kill
    }
    for (int i = 0; i < n && !done; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == proc->pidfd()) {
        done = true;
      } else if (fd == deadline.get()) {
        end = End::timed_out;
        report = kill_task(*system, principal, tp, req.grace);
        done = true;
      } else if (fd == idle->inotify_fd()) {
        idle->on_output();
      } else if (fd == idle->timer_fd()) {
        end = End::timed_out;
        kill_note = fmt::format("no output for {} (--idle-timeout)", format_duration(*req.idle_timeout));
        report = kill_task(*system, principal, tp, req.grace);
        done = true;
      } else if (fd == sigfd.get()) {
        signalfd_siginfo si{};
        if (::read(sigfd.get(), &si, sizeof si) != sizeof si) continue;
        const int signo = static_cast<int>(si.ssi_signo);
        if (signo == SIGCHLD) {
          reap_orphans(pid);
        } else if (foreground && (signo == SIGINT || signo == SIGTERM)) {
          signal_task(*system, principal, tp, signo);  // like timeout(1): pass it on, keep waiting
        } else if (signo != SIGHUP) {
          end = End::killed;
          kill_note = fmt::format("the monitor received signal {}", signo);
          report = kill_task(*system, principal, tp, req.grace);
          done = true;
        }
      }
    }
  }
  auto status = proc->wait(std::chrono::seconds(30));
  std::size_t leftovers = 0;
  if (end == End::exited) {
    // The main process ended: what it left behind goes too.
    auto rest = kill_task(*system, principal, tp, req.grace);
    leftovers = rest.found;
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  remove_task_cgroups(*cgroups);
  proc->detach();  // already reaped (or unreapable); never kill by handle from here

  (void)update_task(reg, req.id, [&](TaskRecord& t) {
    if (t.state != "killed") {  // `task-watchdog kill` got there first: keep its verdict
      t.state = end == End::timed_out ? "timed_out" : end == End::killed ? "killed" : "exited";
      if (!kill_note.empty()) t.error = kill_note;
    }
    if (status) {
      t.exit_code = status->code;
      t.exit_signal = status->signal;
    }
    t.ended_ms = now_ms();
    if (end == End::exited) t.leftover_processes = static_cast<std::int64_t>(leftovers);
    if (report.left > 0) t.error = fmt::format("{} process(es) could not be killed", report.left);
  });
  if (end == End::timed_out) return kExitTimedOut;
  if (!status) return kExitWatchdogFailed;
  return status->shell_code();
}

}  // namespace

std::string current_principal() {
  const uid_t uid = ::geteuid();
  passwd pw{};
  passwd* out = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &out) == 0 && out != nullptr && out->pw_name[0] != '\0') {
    return out->pw_name;
  }
  return fmt::format("uid-{}", uid);
}

std::string default_policy_yaml(const std::string& principal, const std::filesystem::path& state_dir) {
  std::error_code ec;
  auto dir = std::filesystem::weakly_canonical(state_dir, ec);
  if (ec) dir = state_dir;
  const auto q = [](const std::string& s) { return nlohmann::json(s).dump(); };  // a YAML double-quoted scalar
  return fmt::format(R"(version: 1
rules:
  - id: task-watchdog-processes
    description: start the task, and signal or kill its processes
    effect: allow
    principals: [{0}]
    operations: [process.spawn, process.signal, process.kill]
    resources: ["**"]
  - id: task-watchdog-state
    description: the task's log files and joining its cgroup
    effect: allow
    principals: [{0}]
    operations: [fs.write]
    resources: [{1}, "/sys/fs/cgroup/**"]
)",
                     q(principal), q(dir.string() + "/**"));
}

std::expected<osl::System, Error> make_system(const std::filesystem::path& policy_file, const std::filesystem::path& state_dir) {
  std::expected<osl::Policy, osl::PolicyError> policy =
      policy_file.empty() ? osl::Policy::parse(default_policy_yaml(current_principal(), state_dir), "<built-in policy>")
                          : osl::Policy::load_file(policy_file);
  if (!policy) return std::unexpected(Error{ErrorCode::usage, "policy: " + policy.error().to_string()});
  osl::SystemOptions opts;
  opts.policy = std::move(*policy);
  return osl::System(std::move(opts));
}

namespace {

// Double-forks a monitor running `body(handshake_fd)` and waits for its
// handshake: "OK" (prints the id, returns 0) or "ERR CODE\nMESSAGE".
int run_detached(const Registry& reg, const std::string& id, const std::function<void(int)>& body) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    fmt::print(stderr, "task-watchdog: pipe: {}\n", std::strerror(errno));
    return 1;
  }
  UniqueFd rd(p[0]);
  UniqueFd wr(p[1]);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    fmt::print(stderr, "task-watchdog: fork: {}\n", std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    rd.reset();
    ::setsid();
    const pid_t m = ::fork();
    if (m != 0) ::_exit(m < 0 ? 1 : 0);
    // The monitor: nothing of the caller's terminal or pipes is kept, so a
    // caller reading our stdout (e.g. $(task-watchdog start …)) sees EOF.
    ::mkdir(reg.dir().c_str(), 0700);
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    auto mlog = detail::open_task_log(reg, id, "monitor", /*append=*/true);  // checked as the task's logs are
    const int log = mlog ? mlog->get() : null;
    if (null >= 0) ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    body(wr.release());
    std::fflush(nullptr);
    ::_exit(0);
  }
  wr.reset();
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  std::string msg;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<std::size_t>(n));
  }
  if (msg.starts_with("OK")) {
    fmt::print("{}\n", id);
    return 0;
  }
  if (msg.starts_with("ERR ")) {
    const auto nl = msg.find('\n');
    const int code = std::atoi(msg.substr(4, nl).c_str());
    fmt::print(stderr, "task-watchdog: {}\n", nl == std::string::npos ? msg : msg.substr(nl + 1));
    return code > 0 ? code : 1;
  }
  fmt::print(stderr, "task-watchdog: the monitor of task '{}' ended before it was ready; see {}\n", id,
             reg.log_path(id, "monitor").string());
  return 1;
}

// argv and cwd of a process we adopt, through osl::proc; "pid:N" / "" for
// what cannot be read.
struct Adopted {
  std::vector<std::string> argv;
  std::string cwd;
};

Adopted describe(pid_t pid) {
  Adopted a;
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

// Moves an adopted process and its descendants into task cgroups of their
// own (v2, plus the v1 memory cgroup for accounting), so that everything it
// forks from now on is found and killed with it. We are root or own the
// cgroups here; a process that cannot be moved keeps the fallback. Runs in
// the monitor, whose pid names the cgroups.
TaskCgroups adopt_into_cgroups(const RegisterRequest& req) {
  auto made = create_task_cgroups(detect_cgroup_layout(), req.id, ::getpid(), Limits{});
  if (!made) return TaskCgroups{{}, made.error(), {}};
  TaskCgroups cg = std::move(*made);
  if (!cg.v2) {
    remove_task_cgroups(cg);
    return TaskCgroups{{}, cg.v2_error, {}};
  }
  const TaskCgroups v2_only{cg.v2, {}, {}};
  if (auto r = move_into(v2_only, req.pid); !r || process_gone(req.pid, req.pid_start_time)) {
    remove_task_cgroups(cg);
    return TaskCgroups{{}, r ? "the process ended while being moved" : "cannot move it into a cgroup: " + r.error(), {}};
  }
  for (auto it = cg.v1.begin(); it != cg.v1.end();) {
    if (move_into(TaskCgroups{{}, {}, {{it->first, it->second}}}, req.pid)) {
      ++it;
    } else {
      remove_cgroup(it->second);
      it = cg.v1.erase(it);
    }
  }
  // Its children: twice, for those forked while the first pass ran.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& p : descendants_of(req.pid, all_processes())) (void)move_into(cg, p.pid);
  }
  return cg;
}

// The monitor of an adopted process: it is not our child, so its pidfd tells
// us when it ends (no exit status) and the deadline is enforced as for
// started tasks; no cgroup, and nothing is killed when it ends by itself.
void adopt_monitor(const Registry& reg, const RegisterRequest& req, int handshake) {
  auto fail = [&](const Error& e) { detail::report_start_failure(reg, req.id, handshake, e); };
  UniqueFd sigfd = detail::block_into_signalfd({SIGINT, SIGTERM, SIGHUP, SIGQUIT});
  auto system = make_system(req.policy_file, reg.dir());
  if (!system) return fail(system.error());
  const std::string principal = current_principal();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, req.pid, 0)));
  if (!pidfd || process_gone(req.pid, req.pid_start_time)) {
    return fail(Error{ErrorCode::stale, fmt::format("pid {} ended before it could be adopted", req.pid)});
  }
  const auto self_start = osl::process::start_time_of(::getpid());
  const auto cgroups = adopt_into_cgroups(req);
  auto recorded = update_task(reg, req.id, [&](TaskRecord& t) {
    t.monitor_pid = ::getpid();
    if (self_start) t.monitor_start_time = *self_start;
    if (cgroups.v2) {
      t.containment.kind = "cgroup2";
      t.containment.cgroup = cgroups.v2->string();
      t.containment.note.clear();
      for (const auto& [ctl, dir] : cgroups.v1) t.containment.v1.emplace(ctl, dir.string());
    } else {
      t.containment.note = "adopted with register: no cgroup (" + cgroups.v2_error + "); its group and descendants are tracked";
    }
  });
  if (!recorded) return fail(recorded.error());
  write_all_fd(handshake, "OK\n");
  ::close(handshake);

  TaskProcesses tp;
  tp.leader = req.pid;
  tp.leader_start = req.pid_start_time;
  tp.exclude = {::getpid()};
  if (cgroups.v2) tp.cgroup = cgroups.v2->string();
  for (const auto& [ctl, dir] : cgroups.v1) tp.v1.emplace(ctl, dir.string());
  UniqueFd deadline;
  if (req.deadline_ms) deadline = make_timer(std::chrono::milliseconds(*req.deadline_ms - now_ms()));
  const UniqueFd ep = detail::epoll_of({pidfd.get(), sigfd.get(), deadline.get()});
  std::string state = "exited";
  std::string note;
  KillReport report;
  for (bool done = false; !done;) {
    epoll_event evs[3];
    const int n = ::epoll_wait(ep.get(), evs, 3, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < n && !done; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == pidfd.get()) {
        done = true;
      } else if (fd == deadline.get()) {
        state = "timed_out";
        report = kill_task(*system, principal, tp, req.grace);
        done = true;
      } else if (fd == sigfd.get()) {
        signalfd_siginfo si{};
        if (::read(sigfd.get(), &si, sizeof si) != sizeof si || si.ssi_signo == SIGHUP) continue;
        state = "killed";
        note = fmt::format("the monitor received signal {}", si.ssi_signo);
        report = kill_task(*system, principal, tp, req.grace);
        done = true;
      }
    }
  }
  // Empty cgroups go now; leftovers of an adopted process that ended by itself
  // keep theirs (they are not killed), and `run`/`cleanup` remove it later.
  remove_task_cgroups(cgroups);
  (void)update_task(reg, req.id, [&](TaskRecord& t) {
    if (t.state != "killed") {
      t.state = state;
      if (!note.empty()) t.error = note;
    }
    t.ended_ms = now_ms();
    if (report.left > 0) t.error = fmt::format("{} process(es) could not be killed", report.left);
  });
}

}  // namespace

int register_task(const Registry& reg, RegisterRequest req) {
  auto st = osl::process::start_time_of(req.pid);
  if (!st || process_gone(req.pid)) {
    fmt::print(stderr, "task-watchdog: no running process with pid {}\n", req.pid);
    return static_cast<int>(ErrorCode::stale);
  }
  req.pid_start_time = *st;
  if (req.timeout) req.deadline_ms = now_ms() + req.timeout->count();
  TaskRecord t;
  t.id = req.id;
  Adopted adopted = describe(req.pid);
  t.argv = std::move(adopted.argv);
  t.cwd = std::move(adopted.cwd);
  t.created_ms = now_ms();
  if (req.timeout) t.timeout_ms = req.timeout->count();
  t.grace_ms = req.grace.count();
  t.deadline_ms = req.deadline_ms;
  t.state = "running";
  t.pid = req.pid;
  t.pid_start_time = req.pid_start_time;
  t.containment.kind = "process-group";
  t.containment.note = "adopted with register: no cgroup; its group and descendants are tracked";
  t.extra["adopted"] = true;
  auto inserted = detail::insert_new_task(reg, std::move(t));
  if (!inserted) {
    fmt::print(stderr, "task-watchdog: {}\n", inserted.error().message);
    return inserted.error().exit_code();
  }
  return run_detached(reg, req.id, [&](int handshake) { adopt_monitor(reg, req, handshake); });
}

int start_task(const Registry& reg, const StartRequest& req) {
  if (!req.container.empty()) {
    // No engine: say so before anything is recorded (native tasks are unaffected).
    if (auto e = check_container_engine(); !e) {
      fmt::print(stderr, "task-watchdog: {}\n", e.error().message);
      return req.wait ? kExitWatchdogFailed : static_cast<int>(ErrorCode::spawn_failed);
    }
  }
  if (auto r = insert_record(reg, req); !r) {
    fmt::print(stderr, "task-watchdog: {}\n", r.error().message);
    return req.wait ? kExitWatchdogFailed : r.error().exit_code();
  }
  if (!req.container.empty()) {
    if (req.wait) return container_monitor(reg, req, -1);
    return run_detached(reg, req.id, [&](int handshake) { (void)container_monitor(reg, req, handshake); });
  }
  if (req.wait) return monitor(reg, req, -1);
  return run_detached(reg, req.id, [&](int handshake) { (void)monitor(reg, req, handshake); });
}

}  // namespace airssys::watchdog
