// `task-watchdog run` (the daemon sweep) and `report`, with real tasks whose
// monitors the test kills (SIGKILL, by pid: they are processes this test
// started through the binary).

#include "harness.hpp"

#include <airssys/osl/cgroup.hpp>

#include <sys/stat.h>

#include <set>

using namespace wdtest;

namespace {

pid_t monitor_of(const fs::path& dir, const fs::path& reg, const std::string& id) {
  auto st = status_json(dir, reg, id);
  if (!st || st->is_discarded() || !(*st)["monitor_pid"].is_number()) return 0;
  return (*st)["monitor_pid"].get<pid_t>();
}

// Starts `run` as our child, with its output in DIR/daemon.out. The Child
// kills it if the test ends first: a leaked `run` would sweep every other
// test's stale cgroups.
Child start_daemon(const fs::path& dir, const fs::path& reg, const std::string& interval = "200ms") {
  return spawn({"run", "--interval", interval, "--registry", reg.string()}, dir / "daemon.out", dir / "daemon.err");
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
  ASSERT_EQ(run(d.path, {"start", "--registry", reg.string(), "--id", "stubborn", "--timeout", "1h", "--grace", "1s", "--",
                         "/bin/sh", "-c", "exec sleep 1000"}).rc, 0);
  auto st = status_json(d.path, reg, "stubborn");
  ASSERT_TRUE(st);
  const pid_t task = (*st)["pid"].get<pid_t>();
  const pid_t m = monitor_of(d.path, reg, "stubborn");
  ASSERT_GT(m, 0);
  ASSERT_EQ(::kill(m, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return gone(m); }, 30s));
  st = status_json(d.path, reg, "stubborn");
  ASSERT_EQ((*st)["state"], "running");
  Freezer freezer("wdtest-" + std::to_string(::getpid()) + "-" + std::to_string(task));
  ASSERT_TRUE(freezer.freeze(task));
  // Its deadline passes with no monitor (moved from 1h into the past: no waiting, no race).
  edit_task_record(reg, "stubborn", [](nlohmann::json& t) { t["deadline_ms"] = now_ms() - 1; });
  auto daemon = start_daemon(d.path, reg);
  // The first kill at the deadline leaves the frozen process: the record must
  // stay live (a final timed_out would never be swept again).
  ASSERT_TRUE(eventually([&] {
    auto s = status_json(d.path, reg, "stubborn");
    return s && (*s)["error"].is_string() && (*s)["error"].get<std::string>().find("survived") != std::string::npos;
  }, 120s)) << slurp(d.path / "daemon.out") << slurp(d.path / "daemon.err");
  st = status_json(d.path, reg, "stubborn");
  EXPECT_EQ((*st)["state"], "running") << st->dump();
  EXPECT_EQ((*st)["leftover_processes"], 1) << st->dump();
  EXPECT_FALSE(gone(task));
  // Thawed, it dies of the pending SIGKILL; a later sweep finds nothing left.
  freezer.thaw();
  EXPECT_TRUE(eventually([&] { return state_is(d.path, reg, "stubborn", "timed_out"); }, 120s))
      << slurp(d.path / "daemon.out") << slurp(d.path / "daemon.err");
  EXPECT_TRUE(gone(task));
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

  auto r = run(d.path, {"kill", "--registry", reg.string(), "frozen", "--grace", "100ms"});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("survived SIGKILL"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(task)), std::string::npos) << r.err;
  st = status_json(d.path, reg, "frozen");
  ASSERT_TRUE(st);
  EXPECT_NE((*st)["state"], "killed") << st->dump();
  EXPECT_NE((*st)["error"].get<std::string>().find("survived SIGKILL"), std::string::npos) << st->dump();

  fz.thaw();  // the pending SIGKILL ends it
  ASSERT_TRUE(eventually([&] { return gone(task); }, 30s));
  ASSERT_TRUE(eventually([&] { return terminal(d.path, reg, "frozen"); }, 30s));
}
