// `task-watchdog run` (the daemon sweep) and `report`, with real tasks whose
// monitors the test kills (SIGKILL, by pid: they are processes this test
// started through the binary).

#include "harness.hpp"

#include <airssys/osl/cgroup.hpp>

#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <iterator>
#include <set>
#include <thread>

using namespace wdtest;

namespace {

pid_t monitor_of(const fs::path& dir, const fs::path& reg, const std::string& id) {
  auto st = status_json(dir, reg, id);
  if (!st || st->is_discarded() || !(*st)["monitor_pid"].is_number()) return 0;
  return (*st)["monitor_pid"].get<pid_t>();
}

// Starts task ID (`exec sleep 1000`, deadline 1h away) and kills its
// monitor: a task nothing enforces until a daemon runs. Its pid, or 0 after
// a test failure. The caller moves the deadline into the past (no waiting,
// no race with a slow machine).
pid_t start_orphaned_task(const fs::path& dir, const fs::path& reg, const std::string& id) {
  const auto started = run(dir, {"start", "--registry", reg.string(), "--id", id, "--timeout", "1h", "--grace", "1s", "--",
                                 "/bin/sh", "-c", "exec sleep 1000"});
  EXPECT_EQ(started.rc, 0) << started.err;
  auto st = status_json(dir, reg, id);
  const pid_t m = monitor_of(dir, reg, id);
  if (started.rc != 0 || !st || !(*st)["pid"].is_number() || m <= 0 || ::kill(m, SIGKILL) != 0) {
    ADD_FAILURE() << "task '" << id << "' not started, or its monitor not killed";
    return 0;
  }
  EXPECT_TRUE(eventually([&] { return gone(m); }, 30s));
  return (*st)["pid"].get<pid_t>();
}

// Starts `run` as our child, with its output in DIR/daemon.out. The Child
// kills it if the test ends first: a leaked `run` would sweep every other
// test's stale cgroups.
// `extra` goes after the usual arguments (e.g. a short --sigkill-wait).
Child start_daemon(const fs::path& dir, const fs::path& reg, const std::string& interval = "200ms",
                   const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"run", "--interval", interval, "--registry", reg.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return spawn(args, dir / "daemon.out", dir / "daemon.err");
}

}  // namespace

TEST(Daemon, EnforcesTheDeadlineOfATaskWhoseMonitorDied) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "registry.json";
  // A deadline far off, moved into the past once the monitor is gone (below):
  // the test neither waits for it nor races a slow machine to it.
  ASSERT_EQ(run(d.path, {"start", "--registry", reg.string(), "--id", "orphan", "--timeout", "1h", "--grace", "1s", "--",
                         "/bin/sh", "-c", "sleep 1000 & exec sleep 1000"}).rc, 0);
  ASSERT_EQ(run(d.path, {"start", "--registry", reg.string(), "--id", "ends", "--env", "D=" + d.path.string(), "--",
                         "/bin/sh", "-c", "while [ ! -e \"$D/stop\" ]; do sleep 0.1; done"}).rc, 0);
  auto st = status_json(d.path, reg, "orphan");
  ASSERT_TRUE(st);
  const pid_t task = (*st)["pid"].get<pid_t>();
  for (const char* id : {"orphan", "ends"}) {
    const pid_t m = monitor_of(d.path, reg, id);
    ASSERT_GT(m, 0);
    ASSERT_EQ(::kill(m, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return gone(m); }, 30s));
  }
  // Killed while the deadline is an hour away: the task still runs.
  st = status_json(d.path, reg, "orphan");
  ASSERT_EQ((*st)["state"], "running");
  // Its deadline passes with no monitor to enforce it: nothing does until the daemon runs.
  edit_task_record(reg, "orphan", [](nlohmann::json& t) { t["deadline_ms"] = now_ms() - 1; });
  std::ofstream(d.path / "stop") << "";
  auto daemon = start_daemon(d.path, reg);
  ASSERT_TRUE(eventually([&] { return state_is(d.path, reg, "orphan", "timed_out"); }, 60s))
      << slurp(d.path / "daemon.out") << slurp(d.path / "daemon.err");
  EXPECT_TRUE(eventually([&] { return gone(task); }, 10s));
  st = status_json(d.path, reg, "orphan");
  EXPECT_NE((*st)["error"].get<std::string>().find("task-watchdog run"), std::string::npos) << st->dump();
  EXPECT_EQ((*st)["processes_alive"], 0);
  ASSERT_TRUE(eventually([&] { return state_is(d.path, reg, "ends", "exited"); }, 60s));

  // One daemon per registry.
  auto second = run(d.path, {"run", "--registry", reg.string()});
  EXPECT_EQ(second.rc, 5) << second.err;
  EXPECT_NE(second.err.find("already"), std::string::npos);

  // SIGTERM ends it cleanly.
  daemon.signal(SIGTERM);
  EXPECT_EQ(wait_child(daemon, 30s), 0);
  const auto log = slurp(d.path / "daemon.out");
  EXPECT_NE(log.find("task 'orphan': deadline passed"), std::string::npos) << log;
  EXPECT_NE(log.find("stopping"), std::string::npos) << log;
}

TEST(Daemon, RemovesStaleEmptyTaskCgroupsOnly) {
  const auto layout = airssys::osl::cgroup::detect_layout();
  const auto own = airssys::osl::cgroup::own_v2_dir(layout);
  if (!own || ::access(own->c_str(), W_OK) != 0) GTEST_SKIP() << "no writable cgroup v2 hierarchy here";
  TempDir d;
  const auto reg = d.path / "registry.json";
  // A pid that surely does not run: a child of ours, reaped.
  Child dead_child({"true"});
  ASSERT_EQ(wait_child(dead_child, 30s), 0);
  const pid_t dead = dead_child.pid();
  fs::create_directories(*own / "task-watchdog");
  const auto stale = *own / "task-watchdog" / ("wd-daemon-test-" + std::to_string(dead));
  const auto mine = *own / "task-watchdog" / ("wd-daemon-test-" + std::to_string(::getpid()));  // "monitor" alive
  ASSERT_TRUE(fs::create_directory(stale));
  ASSERT_TRUE(fs::create_directory(mine));
  auto daemon = start_daemon(d.path, reg);
  EXPECT_TRUE(eventually([&] { return !fs::exists(stale); }, 30s));
  daemon.signal(SIGINT);
  EXPECT_EQ(wait_child(daemon, 30s), 0);
  EXPECT_TRUE(fs::exists(mine));
  fs::remove(mine);
  fs::remove(stale);
}

TEST(Report, SummarisesStatesLongestRunningAndFailures) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  const auto r = reg.string();
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", r, "--id", "ok", "--", "true"}).rc, 0);
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", r, "--id", "bad", "--", "/bin/sh", "-c", "exit 3"}).rc, 3);
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", r, "--id", "slow", "--timeout", "500ms", "--grace", "0s", "--",
                         "sleep", "100"}).rc, 124);
  ASSERT_EQ(run(d.path, {"start", "--registry", r, "--id", "live", "--", "sleep", "1000"}).rc, 0);
  auto out = run(d.path, {"report", "--json", "--registry", r});
  ASSERT_EQ(out.rc, 0) << out.err;
  const auto j = nlohmann::json::parse(out.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out.out;
  EXPECT_EQ(j["tasks"], 4);
  EXPECT_EQ(j["by_state"]["exited"], 2);
  EXPECT_EQ(j["by_state"]["timed_out"], 1);
  EXPECT_EQ(j["by_state"]["running"], 1);
  ASSERT_EQ(j["longest_running"].size(), 1u);
  EXPECT_EQ(j["longest_running"][0]["id"], "live");
  ASSERT_EQ(j["recent_failures"].size(), 2u);
  std::set<std::string> failed{j["recent_failures"][0]["id"], j["recent_failures"][1]["id"]};
  EXPECT_EQ(failed, (std::set<std::string>{"bad", "slow"}));
  // A state is its spelling, as everywhere else (was its enum's number).
  std::set<std::string> failed_states{j["recent_failures"][0]["state"], j["recent_failures"][1]["state"]};
  EXPECT_EQ(failed_states, (std::set<std::string>{"exited", "timed_out"}));
  auto text = run(d.path, {"report", "--registry", r});
  EXPECT_NE(text.out.find("4 task(s)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("longest running:"), std::string::npos);
  EXPECT_NE(text.out.find("recent failures:"), std::string::npos);
  EXPECT_NE(text.out.find("exit 3"), std::string::npos) << text.out;
  EXPECT_EQ(run(d.path, {"kill", "live", "--grace", "0s", "--registry", r}).rc, 0);
  EXPECT_EQ(run(d.path, {"run", "--interval", "1x", "--registry", r}).rc, 2);
  EXPECT_EQ(run(d.path, {"run", "--sigkill-wait", "50ms", "--registry", r}).rc, 2);
  EXPECT_EQ(run(d.path, {"kill", "live", "--sigkill-wait", "soon", "--registry", r}).rc, 2);
}

TEST(Daemon, RefusesASymlinkPlantedAtItsLockPath) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "sub" / "registry.json";
  const auto target = d.path / "precious";
  { std::ofstream(target) << "keep me"; }
  fs::create_directory(d.path / "sub");
  fs::create_symlink(target, d.path / "sub" / "registry.json.daemon.lock");
  // Bounded: before the fix the daemon took the lock through the link and ran.
  auto daemon = start_daemon(d.path, reg);
  EXPECT_EQ(wait_child(daemon, 30s), 1);
  const auto err = slurp(d.path / "daemon.err");
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
  EXPECT_NE(err.find("registry.json.daemon.lock"), std::string::npos) << err;
  EXPECT_EQ(slurp(target), "keep me");
  // A fresh registry directory is made 0700, as by every other command.
  const auto reg2 = d.path / "fresh" / "registry.json";
  auto daemon2 = start_daemon(d.path, reg2);
  // "sweeping" is said once its signals go to the signalfd: SIGTERM then ends it cleanly.
  ASSERT_TRUE(eventually([&] { return slurp(d.path / "daemon.out").find("sweeping") != std::string::npos; }, 30s))
      << slurp(d.path / "daemon.err");
  daemon2.signal(SIGTERM);
  EXPECT_EQ(wait_child(daemon2, 30s), 0);
  struct stat st {};
  ASSERT_EQ(::stat(reg2.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
}

// `run > /dev/full` (a full disk under its log): since 1f506e3 the daemon
// exited 1 on SIGTERM because a log line had once failed, and systemd would
// mark the unit failed. A line that cannot be written is dropped with one
// warning; SIGTERM still ends it with 0.
TEST(Daemon, ALogThatCannotBeWrittenIsWarnedOnceAndSigtermStillExitsZero) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  auto daemon = spawn({"run", "--interval", "50ms", "--registry", (d.path / "registry.json").string()}, "/dev/full",
                      d.path / "daemon.err");
  const std::string warning =
      "task-watchdog run: warning: writing the log to stdout: No space left on device (lines that cannot be written are dropped)\n";
  // The warning comes from its first line, "sweeping", said once its signals go to the signalfd.
  ASSERT_TRUE(eventually([&] { return slurp(d.path / "daemon.err") == warning; }, 30s)) << slurp(d.path / "daemon.err");
  daemon.signal(SIGTERM);
  EXPECT_EQ(wait_child(daemon, 30s), 0) << slurp(d.path / "daemon.err");
  EXPECT_EQ(slurp(d.path / "daemon.err"), warning) << "warned once, and nothing at exit";
}

// `run >/dev/full 2>&1`: stderr cannot take the warning either. Since
// c44b846 the warning's fmt::print(stderr, ...) threw out of run_daemon,
// main's catch printed to stderr again, and the daemon aborted (134) at its
// first log line, before any sweep: deadlines went unenforced. It now keeps
// sweeping: an overdue task whose monitor died is killed, and SIGTERM still
// ends the daemon with 0.
TEST(Daemon, KeepsEnforcingDeadlinesWhenNeitherItsLogNorStderrCanBeWritten) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "registry.json";
  const pid_t task = start_orphaned_task(d.path, reg, "orphan");
  ASSERT_GT(task, 0);
  edit_task_record(reg, "orphan", [](nlohmann::json& t) { t["deadline_ms"] = now_ms() - 1; });
  auto daemon = spawn({"run", "--interval", "50ms", "--registry", reg.string()}, "/dev/full", "/dev/full");
  bool ended_early = false;
  ASSERT_TRUE(eventually([&] { return (ended_early = daemon.exited()) || state_is(d.path, reg, "orphan", "timed_out"); }, 60s));
  ASSERT_FALSE(ended_early) << "the daemon ended before enforcing the deadline: " << wait_child(daemon, 1s);
  EXPECT_TRUE(eventually([&] { return gone(task); }, 10s));
  // Still sweeping, log lines dropped, for about a second more.
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(daemon.exited()) << "ended after " << i << " polls";
    std::this_thread::sleep_for(100ms);
  }
  daemon.signal(SIGTERM);
  EXPECT_EQ(wait_child(daemon, 30s), 0);
}

namespace {

// A v1 freezer cgroup of this test's own: a process frozen in it stays (in D
// state) through SIGKILL until thawed — a survivor of kill_task made on demand.
// Test scaffolding, not the watchdog's: osl has no freeze operation, so the
// test writes the freezer's files itself, in the hierarchy osl's layout finds.
struct Freezer {
  fs::path dir;
  pid_t pid = 0;
  static fs::path mount() {
    const auto layout = airssys::osl::cgroup::detect_layout();
    const auto it = layout.v1_mounts.find("freezer");
    return it == layout.v1_mounts.end() ? fs::path() : it->second;
  }
  explicit Freezer(const std::string& name) : dir(mount() / name) {}
  static bool available() { return !mount().empty() && ::access((mount() / "cgroup.procs").c_str(), W_OK) == 0; }
  bool freeze(pid_t p) {
    pid = p;
    std::error_code ec;
    fs::create_directory(dir, ec);
    { std::ofstream(dir / "cgroup.procs") << p; }
    { std::ofstream(dir / "freezer.state") << "FROZEN"; }
    return eventually([&] { return slurp(dir / "freezer.state").starts_with("FROZEN"); }, 30s);
  }
  void thaw() { std::ofstream(dir / "freezer.state") << "THAWED"; }
  ~Freezer() {
    thaw();
    if (pid > 0 && !gone(pid)) ::kill(pid, SIGKILL);  // the task this test started
    if (pid > 0) (void)eventually([&] { return gone(pid); }, 30s);
    ::rmdir(dir.c_str());
  }
};

}  // namespace

TEST(Daemon, KeepsKillingSurvivorsUntilNoneIsLeft) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  if (!Freezer::available()) GTEST_SKIP() << "no writable v1 freezer hierarchy here";
  TempDir d;
  const auto reg = d.path / "registry.json";
  const pid_t task = start_orphaned_task(d.path, reg, "stubborn");
  ASSERT_GT(task, 0);
  auto st = status_json(d.path, reg, "stubborn");
  ASSERT_TRUE(st);
  ASSERT_EQ((*st)["state"], "running");
  Freezer freezer("wdtest-" + std::to_string(::getpid()) + "-" + std::to_string(task));
  ASSERT_TRUE(freezer.freeze(task));
  // Its deadline passes with no monitor (moved from 1h into the past: no waiting, no race).
  edit_task_record(reg, "stubborn", [](nlohmann::json& t) { t["deadline_ms"] = now_ms() - 1; });
  // Each sweep retries SIGKILL on the frozen process for 1 s, not the default
  // 15 s: what is asserted does not depend on how long it is retried.
  auto daemon = start_daemon(d.path, reg, "200ms", {"--sigkill-wait", "1s"});
  // The first kill at the deadline leaves the frozen process: the record must
  // stay live (a final timed_out would never be swept again).
  ASSERT_TRUE(eventually([&] {
    auto s = status_json(d.path, reg, "stubborn");
    return s && (*s)["error"].is_string() && (*s)["error"].get<std::string>().find("survived") != std::string::npos;
  }, 120s)) << slurp(d.path / "daemon.out") << slurp(d.path / "daemon.err");
  st = status_json(d.path, reg, "stubborn");
  EXPECT_EQ((*st)["state"], "running") << st->dump();
  // The survivor is noted apart from leftover_processes ("killed after the
  // main process ended", as status and stats say).
  EXPECT_EQ((*st)["deadline_kill_unfinished"], 1) << st->dump();
  EXPECT_TRUE((*st)["leftover_processes"].is_null()) << st->dump();
  const auto text = run(d.path, {"status", "--registry", reg.string(), "stubborn"});
  EXPECT_EQ(text.out.find("leftovers:"), std::string::npos) << text.out;
  EXPECT_FALSE(gone(task));
  // Thawed, it dies of the pending SIGKILL; a later sweep finds nothing left.
  freezer.thaw();
  EXPECT_TRUE(eventually([&] { return state_is(d.path, reg, "stubborn", "timed_out"); }, 120s))
      << slurp(d.path / "daemon.out") << slurp(d.path / "daemon.err");
  EXPECT_TRUE(gone(task));
  st = status_json(d.path, reg, "stubborn");
  ASSERT_TRUE(st);
  EXPECT_TRUE((*st)["leftover_processes"].is_null()) << st->dump();
  EXPECT_FALSE(st->contains("deadline_kill_unfinished")) << st->dump();
  // An older daemon left its count in leftover_processes on the timed_out
  // record: status does not call those processes killed after the main
  // process ended; on an exited record (the monitor's count) it does.
  edit_task_record(reg, "stubborn", [](nlohmann::json& t) { t["leftover_processes"] = 1; });
  auto shown = run(d.path, {"status", "--registry", reg.string(), "stubborn"});
  EXPECT_EQ(shown.out.find("leftovers:"), std::string::npos) << shown.out;
  edit_task_record(reg, "stubborn", [](nlohmann::json& t) { t["state"] = "exited"; });
  shown = run(d.path, {"status", "--registry", reg.string(), "stubborn"});
  EXPECT_NE(shown.out.find("leftovers:   1 process(es) killed after the main process ended"), std::string::npos) << shown.out;
  daemon.signal(SIGTERM);
  EXPECT_EQ(wait_child(daemon, 60s), 0);
  const auto log = slurp(d.path / "daemon.out");
  EXPECT_NE(log.find("retrying at the next sweep"), std::string::npos) << log;
}

// `kill` records `killed` only once the tree is verified gone: a process
// that survives SIGKILL (frozen in a v1 freezer) is retried, reported with
// its pid, and the task is not recorded as killed; thawed, the pending
// SIGKILL ends it and its monitor records the end.
TEST(KillCommand, RecordsKilledOnlyOnceTheTreeIsVerifiedGone) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  if (!Freezer::available()) GTEST_SKIP() << "no writable v1 freezer hierarchy here";
  TempDir d;
  const auto reg = d.path / "registry.json";
  ASSERT_EQ(run(d.path, {"start", "--registry", reg.string(), "--id", "frozen", "--grace", "100ms", "--",
                         "/bin/sh", "-c", "exec sleep 1000"}).rc, 0);
  auto st = status_json(d.path, reg, "frozen");
  ASSERT_TRUE(st);
  const pid_t task = (*st)["pid"].get<pid_t>();
  Freezer fz("wd-kill-verify-" + std::to_string(::getpid()));
  ASSERT_TRUE(fz.freeze(task));

  // SIGKILL retried for 1 s (not the default 15 s) before the survivor is reported.
  auto r = run(d.path, {"kill", "--registry", reg.string(), "frozen", "--grace", "100ms", "--sigkill-wait", "1s"});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("survived SIGKILL, retried for 1s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(task)), std::string::npos) << r.err;
  st = status_json(d.path, reg, "frozen");
  ASSERT_TRUE(st);
  EXPECT_NE((*st)["state"], "killed") << st->dump();
  EXPECT_NE((*st)["error"].get<std::string>().find("survived SIGKILL"), std::string::npos) << st->dump();

  fz.thaw();  // the pending SIGKILL ends it
  ASSERT_TRUE(eventually([&] { return gone(task); }, 30s));
  ASSERT_TRUE(eventually([&] { return terminal(d.path, reg, "frozen"); }, 30s));
}

namespace {

constexpr uid_t kNobody = 65534;

// The task of the hidepid test: its SIGTERM handler notes the signal and
// returns, so only SIGKILL ends it.
int g_term_log = -1;
void note_term(int) { (void)!::write(g_term_log, "T", 1); }

// Forks the task: it joins `cgroup` (as root), becomes `nobody`, marks
// itself not dumpable (as a setuid or file-capability program is after its
// exec) and forks once; both wait for signals. Under hidepid=2 `nobody`
// then sees neither in /proc, yet may signal both (same real uid). Only
// async-signal-safe calls in the children.
pid_t fork_hidden_task(const fs::path& cgroup, const fs::path& term_log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int procs = ::open((cgroup / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (procs < 0 || ::write(procs, "0", 1) != 1) ::_exit(101);
  ::close(procs);
  g_term_log = ::open(term_log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (g_term_log < 0) ::_exit(102);
  struct sigaction sa {};
  sa.sa_handler = note_term;
  if (::sigaction(SIGTERM, &sa, nullptr) != 0) ::_exit(103);
  if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 || ::setresuid(kNobody, kNobody, kNobody) != 0) {
    ::_exit(104);
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) ::_exit(105);
  if (::fork() < 0) ::_exit(106);
  for (;;) ::pause();
}

}  // namespace

// A task of which /proc shows nothing (hidepid=2; its processes are not
// dumpable, as a setuid program is), whose monitor is gone and whose
// deadline has passed: its cgroup lists its two processes, so `run` knows
// they run and kills them through the cgroup, with the usual grace: SIGTERM
// to each (the handler notes it), then, as they ignore it, SIGKILL; the
// record becomes `timed_out`. Real: `run` as `nobody` in a mount namespace
// of its own whose /proc is mounted hidepid=2, a real v2 cgroup (chowned to
// nobody, as a delegated one is), a real registry. Before, `run` said
// "cannot tell whether its processes run" at every sweep and left them.
TEST(Daemon, KillsATaskProcHidesThroughItsCgroupAtItsDeadline) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a mount namespace, a cgroup for nobody)";
  const auto layout = airssys::osl::cgroup::detect_layout();
  const auto own = airssys::osl::cgroup::own_v2_dir(layout);
  if (!own || ::access((*own / "cgroup.procs").c_str(), W_OK) != 0) GTEST_SKIP() << "no writable cgroup v2 hierarchy here";
  {
    Child probe({"unshare", "-m", "sh", "-c", "mount -t proc -o hidepid=2 proc /proc"});
    if (wait_child(probe, 60s) != 0) GTEST_SKIP() << "cannot mount a hidepid=2 /proc in a mount namespace here";
  }
  TempDir d;
  ASSERT_EQ(::chmod(d.path.c_str(), 0755), 0);
  const auto state = d.path / "state";
  const auto reg = state / "registry.json";
  const auto term_log = d.path / "term.log";
  fs::create_directory(state);
  { std::ofstream(term_log) << ""; }
  for (const auto& p : {state, term_log}) ASSERT_EQ(::chown(p.c_str(), kNobody, kNobody), 0) << p;
  const auto cg = *own / "task-watchdog" / ("wd-hidden-" + std::to_string(::getpid()));
  fs::create_directories(cg);
  // The task's leader is reaped as soon as it ends, as its subreaper or init
  // would: a zombie /proc hides (hidepid=2) could not be told from a live one.
  // Whatever happens, nothing of the task outlives the test.
  struct TaskGuard {
    fs::path dir;
    pid_t leader = -1;
    std::atomic<int> status{-1};
    std::thread reaper;
    ~TaskGuard() {
      std::ofstream(dir / "cgroup.kill") << "1";
      if (reaper.joinable()) reaper.join();
      (void)eventually([&] { return slurp(dir / "cgroup.procs").empty(); }, 30s);
      ::rmdir(dir.c_str());
    }
  } task{cg};
  for (const char* f : {"", "cgroup.procs", "cgroup.kill"}) ASSERT_EQ(::chown((cg / f).c_str(), kNobody, kNobody), 0) << f;

  task.leader = fork_hidden_task(cg, term_log);
  ASSERT_GT(task.leader, 0);
  task.reaper = std::thread([&task] {
    int st = 0;
    if (::waitpid(task.leader, &st, 0) == task.leader) task.status = st;
  });
  ASSERT_TRUE(eventually([&] {
    std::istringstream in(slurp(cg / "cgroup.procs"));
    return std::distance(std::istream_iterator<pid_t>(in), std::istream_iterator<pid_t>()) == 2;
  }, 30s)) << "the task and its child did not both join " << cg;
  const auto start_time = start_time_of(task.leader);  // root sees it
  ASSERT_GT(start_time, 0u);

  // The record `register` would have left, its monitor gone, its deadline
  // passed. A grace of 2 s: the SIGTERM handlers run within it even on a
  // loaded machine (a process not run before SIGKILL never notes SIGTERM).
  nlohmann::json t = {{"id", "hidden"}, {"argv", {"/usr/bin/some-setuid-program"}}, {"cwd", d.path.string()}, {"env", nlohmann::json::array()},
                      {"created_ms", now_ms() - 10'000}, {"timeout_ms", 5'000}, {"idle_timeout_ms", nullptr}, {"grace_ms", 2000},
                      {"deadline_ms", now_ms() - 5'000}, {"state", "running"}, {"pid", task.leader}, {"pid_start_time", start_time},
                      {"monitor_pid", nullptr}, {"monitor_start_time", nullptr}, {"foreground", false},
                      {"containment", {{"kind", "cgroup2"}, {"cgroup", cg.string()}, {"note", ""}}},
                      {"stdout_log", ""}, {"stderr_log", ""}, {"exit_code", nullptr}, {"exit_signal", nullptr},
                      {"ended_ms", nullptr}, {"error", ""}, {"leftover_processes", nullptr},
                      {"boot_id", slurp("/proc/sys/kernel/random/boot_id").substr(0, 36)}};
  {
    std::ofstream(reg) << nlohmann::json{{"schema_version", 1}, {"tasks", {{"hidden", t}}}}.dump(1);
  }
  ASSERT_EQ(::chmod(reg.c_str(), 0600), 0);
  ASSERT_EQ(::chown(reg.c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(run(d.path, {"status", "hidden", "--registry", reg.string()}).rc, 0) << "the hand-made record is refused";

  Child daemon({"unshare", "-m", "sh", "-c",
                "mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid=65534 --regid=65534 --clear-groups "
                "\"$0\" run --interval 200ms --sigkill-wait 2s --registry \"$1\"",
                bin(), reg.string()},
               {.stdout_path = d.path / "daemon.out", .stderr_path = d.path / "daemon.err"});
  ASSERT_TRUE(eventually([&] { return state_is(d.path, reg, "hidden", "timed_out"); }, 60s))
      << slurp(d.path / "daemon.out") << slurp(d.path / "daemon.err");
  task.reaper.join();
  EXPECT_TRUE(WIFSIGNALED(task.status.load()) && WTERMSIG(task.status.load()) == SIGKILL)  // it ignored SIGTERM
      << "status " << task.status.load();
  EXPECT_TRUE(eventually([&] { return slurp(cg / "cgroup.procs").empty(); }, 30s)) << "its child still runs";
  EXPECT_EQ(slurp(term_log), "TT") << "each process gets SIGTERM before SIGKILL";
  auto st = status_json(d.path, reg, "hidden");
  ASSERT_TRUE(st);
  EXPECT_NE((*st)["error"].get<std::string>().find("task-watchdog run"), std::string::npos) << st->dump();
  daemon.signal(SIGTERM);
  EXPECT_EQ(wait_child(daemon, 30s), 0);
  const auto log = slurp(d.path / "daemon.out");
  EXPECT_NE(log.find("task 'hidden': deadline passed and its monitor is gone: killed 2 process(es)"), std::string::npos) << log;
  // Both signals through osl, on the cgroup, audited: SIGTERM named, then SIGKILL.
  const auto audit = slurp(state / "audit.jsonl");
  EXPECT_NE(audit.find(R"("signal":15)"), std::string::npos) << audit;
  EXPECT_NE(audit.find("cgroup.kill"), std::string::npos) << audit;
}
