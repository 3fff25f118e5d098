// `status`, `report`, `rehydrate` and `logs --follow` on a live task whose
// processes /proc cannot show (hidepid): "cannot tell" is its own answer,
// never `lost`, and a cgroup member /proc hides still counts as running
// (cgroup.procs lists no zombie). A fake /proc (ProcRootForTesting) stands
// in for hidepid: a stat file that cannot be read (hidepid=1's EACCES; here
// a directory, EISDIR) or no entry for a pid kill(pid, 0) knows (hidepid=2).
// Real child processes; a real registry in a temp dir.

#include <airssys/testing/child.hpp>
#include <airssys/testing/temp_dir.hpp>
#include <airssys/watchdog/daemon.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/runner.hpp>
#include <airssys/watchdog/task_kill.hpp>
#include <airssys/watchdog/task_overview.hpp>
#include <airssys/watchdog/task_report.hpp>
#include <airssys/watchdog/task_status.hpp>

#include "kill_tree.hpp"
#include "proc.hpp"
#include "task_test_support.hpp"

#include <gtest/gtest.h>

#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace airssys::watchdog;
using airssys::testing::Child;
using airssys::testing::TempDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using test::now_ms;
using test::put;

enum class Hide { unreadable, no_entry };

struct Case {
  Hide how;
  const char* name;
};
const Case kCases[] = {{Hide::unreadable, "unreadable"}, {Hide::no_entry, "no_entry"}};

// Every test's scene: a temp dir with a registry in it, a live task process
// (`sleep`) and, when a test asks, a live stand-in for its monitor.
class TaskUnverified : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(reg.ensure_dir());
    ASSERT_GT(c.pid(), 0);
  }

  // A live record of the task without a monitor (it died): only /proc (or
  // the cgroup) can say whether the task still runs.
  TaskRecord running_record(const std::string& id) { return test::record(reg, id, TaskState::running, c.pid(), {"sleep", "1000"}); }

  // `t` watched by the stand-in monitor, with its real start time.
  TaskRecord watched_by_monitor(TaskRecord t) {
    if (!monitor) monitor.emplace(std::vector<std::string>{"sleep", "1000"});
    EXPECT_GT(monitor->pid(), 0);
    t.monitor_pid = monitor->pid();
    t.monitor_start_time = read_proc_stat(monitor->pid()).value_or(ProcStat{}).start_time;
    return t;
  }

  // What status says of the task hidden by fake_proc().
  std::string shown_hidden() const { return "running (unverified: /proc hides pid " + std::to_string(c.pid()) + ")"; }

  // The task's effective state by `status` ("" when it fails: a failure here).
  std::string effective_state(const std::string& id) {
    auto s = task_status(reg, id);
    EXPECT_TRUE(s) << s.error().message;
    return s ? s->effective_state : "";
  }

  // The daemon's sweep over the registry, once. Fatal if it fails: callers
  // wrap it in ASSERT_NO_FATAL_FAILURE.
  void sweep() {
    auto system = make_system({}, reg.dir());
    ASSERT_TRUE(system) << system.error().message;
    auto sw = sweep_registry(reg, *system, current_principal());
    ASSERT_TRUE(sw) << sw.error().message;
  }

  TaskState stored_state(const std::string& id) {
    auto data = reg.load();
    EXPECT_TRUE(data);
    return data ? data->tasks.at(id).state : TaskState::failed;
  }

  // A fake /proc in which `pid` cannot be read (hidepid=1) or has no entry
  // while it runs (hidepid=2).
  fs::path fake_proc(pid_t pid, Hide how) {
    const auto root = d / "proc";
    fs::create_directories(root);
    if (how == Hide::unreadable) fs::create_directories(root / std::to_string(pid) / "stat");  // read(2): EISDIR
    return root;
  }

  // The fake /proc `root` shows `pid` as the real one does (a copy of its stat).
  static void show(const fs::path& root, pid_t pid) {
    fs::create_directories(root / std::to_string(pid));
    std::ifstream real("/proc/" + std::to_string(pid) + "/stat");
    std::ofstream(root / std::to_string(pid) / "stat") << real.rdbuf();
  }

  // Ends the task's process (and reaps it: a zombie is still found by kill(pid, 0)).
  // A failed wait is fatal: callers wrap it in ASSERT_NO_FATAL_FAILURE.
  void end_task() {
    c.signal(SIGKILL);
    ASSERT_TRUE(c.wait(30s));
  }

  TempDir d{"wd-unverified"};
  const Registry reg{d / "state" / "registry.json"};
  Child c{std::vector<std::string>{"sleep", "1000"}};
  std::optional<Child> monitor;
};

// The same, once for each way hidepid hides a process.
class HiddenTask : public TaskUnverified, public ::testing::WithParamInterface<Case> {};
INSTANTIATE_TEST_SUITE_P(Hidepid, HiddenTask, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace

TEST_P(HiddenTask, StatusOfATaskProcCannotShowIsNotLost) {
  put(reg, running_record("hidden"));
  {
    ProcRootForTesting fake(fake_proc(c.pid(), GetParam().how));
    auto s = task_status(reg, "hidden");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->effective_state, shown_hidden());
    EXPECT_EQ(s->processes_alive, 0u);
    EXPECT_NE(s->unverified.find(std::to_string(c.pid())), std::string::npos) << s->unverified;
    EXPECT_FALSE(task_has_ended(reg, "hidden").value_or(true));
  }
  EXPECT_EQ(stored_state("hidden"), TaskState::running);  // nothing written
  ASSERT_NO_FATAL_FAILURE(end_task());
  auto s = task_status(reg, "hidden");  // the real /proc: it is gone
  ASSERT_TRUE(s);
  EXPECT_EQ(s->effective_state, "lost");
  EXPECT_TRUE(s->unverified.empty());
  EXPECT_TRUE(task_has_ended(reg, "hidden").value_or(false));
}

// A cgroup member /proc cannot show runs (cgroup.procs lists no zombie): it
// counts as alive, so the task is running with its monitor gone, not lost
// and not merely unverified. The cgroup here is a directory whose
// cgroup.procs names the child, as the kernel's would.
TEST_P(HiddenTask, ACgroupMemberProcCannotShowCountsAsRunning) {
  auto t = running_record("in-cgroup");
  const auto cg = d / "cgroup" / "task-watchdog" / "in-cgroup-1";
  fs::create_directories(cg);
  std::ofstream(cg / "cgroup.procs") << c.pid() << "\n";
  t.containment.kind = ContainmentKind::cgroup2;
  t.containment.cgroup = cg.string();
  put(reg, t);
  {
    ProcRootForTesting fake(fake_proc(c.pid(), GetParam().how));
    auto s = task_status(reg, "in-cgroup");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->processes_alive, 1u);
    EXPECT_EQ(s->effective_state, "running (monitor gone: deadline not enforced)");
    EXPECT_FALSE(s->unverified.empty());  // its usage cannot be sampled
    auto live = live_tasks(reg);
    ASSERT_TRUE(live);
    ASSERT_EQ(live->live.size(), 1u);
    EXPECT_EQ(live->live[0].processes_alive, 1u);
    EXPECT_EQ(live->live[0].effective_state, "running (monitor gone: deadline not enforced)");
  }
  EXPECT_EQ(stored_state("in-cgroup"), TaskState::running);
}

// `report` counts such a task as running (not lost) and lists it among the
// longest running; `rehydrate` (live_tasks) shows it unverified, not lost.
TEST_P(HiddenTask, ReportAndRehydrateDoNotCallItLost) {
  put(reg, running_record("hidden"));
  const std::string shown = shown_hidden();
  {
    ProcRootForTesting fake(fake_proc(c.pid(), GetParam().how));
    auto r = task_report(reg);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->by_state.count("lost"), 0u);
    EXPECT_EQ(r->by_state["running"], 1u);
    EXPECT_EQ(r->unverified, 1u);
    ASSERT_EQ(r->longest_running.size(), 1u);
    EXPECT_EQ(r->longest_running[0].effective_state, shown);
    auto live = live_tasks(reg);
    ASSERT_TRUE(live);
    ASSERT_EQ(live->live.size(), 1u);
    EXPECT_EQ(live->live[0].effective_state, shown);
    EXPECT_EQ(live->live[0].processes_alive, 0u);
    EXPECT_FALSE(live->live[0].unverified.empty());
  }
  EXPECT_EQ(stored_state("hidden"), TaskState::running);
  ASSERT_NO_FATAL_FAILURE(end_task());
  auto r = task_report(reg);  // the real /proc: nothing runs, lost
  ASSERT_TRUE(r);
  EXPECT_EQ(r->by_state["lost"], 1u);
  EXPECT_EQ(r->unverified, 0u);
  EXPECT_TRUE(r->longest_running.empty());
}

// A monitor /proc cannot show may still enforce the deadline: the task is
// "unverified", not "monitor gone", and never lost, even when nothing of it
// is seen either.
TEST_F(TaskUnverified, AMonitorProcCannotShowIsUnverifiedNotGone) {
  put(reg, watched_by_monitor(running_record("watched")));
  {
    // The fake /proc shows the task's process (a copy of its real stat) but not the monitor.
    const auto root = fake_proc(monitor->pid(), Hide::unreadable);
    show(root, c.pid());
    ProcRootForTesting fake(root);
    auto s = task_status(reg, "watched");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->effective_state, "running (unverified: /proc hides monitor pid " + std::to_string(monitor->pid()) + ")");
    EXPECT_TRUE(s->monitor_unverified);
    EXPECT_EQ(s->processes_alive, 1u);
    EXPECT_FALSE(task_has_ended(reg, "watched").value_or(true));
  }
  auto s = task_status(reg, "watched");  // the real /proc shows both
  ASSERT_TRUE(s);
  EXPECT_EQ(s->effective_state, "running");
  EXPECT_FALSE(s->monitor_unverified);
  EXPECT_TRUE(s->unverified.empty());
}

namespace {

// A fake /proc whose boot_id is `id`.
void fake_boot_id(const fs::path& root, const std::string& id) {
  fs::create_directories(root / "sys" / "kernel" / "random");
  std::ofstream(root / "sys" / "kernel" / "random" / "boot_id") << id << "\n";
}

// A fake /proc whose /proc/uptime says this boot began `secs` seconds ago.
void fake_uptime(const fs::path& root, double secs) {
  fs::create_directories(root);
  std::ofstream(root / "uptime") << std::fixed << secs << " 0.00\n";
}

// btime of the real /proc/stat (Unix seconds); 0 when it cannot be read.
std::int64_t real_btime() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      std::int64_t secs = 0;
      in >> secs;
      return secs;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

// The leader hidden (true) or shown (false).
class UntimedLeader : public TaskUnverified, public ::testing::WithParamInterface<bool> {};
INSTANTIATE_TEST_SUITE_P(TaskUnverified, UntimedLeader, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "hidden" : "shown"; });

// The record with (true) or without (false) a boot id.
class SteppedClock : public TaskUnverified, public ::testing::WithParamInterface<bool> {};
INSTANTIATE_TEST_SUITE_P(TaskUnverified, SteppedClock, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "boot_id" : "no_boot_id"; });

}  // namespace

// Its pid runs, but nothing says it is the task's: unverified (not lost) for
// status, report and rehydrate; `kill` does not say "no processes left" and
// the daemon's sweep neither marks it exited nor kills it. Hidden as well
// (hidepid): the same. Before, a missing start time made the leader "gone"
// unlooked: lost, "no processes left", "marked exited". (/proc stopped
// showing the leader once it exec'd, a setuid or file-capability program
// under hidepid: no pid_start_time.)
TEST_P(UntimedLeader, ALeaderWithoutAStartTimeIsNeverTakenForGone) {
  const bool hidden = GetParam();
  auto t = running_record("untimed");
  t.pid_start_time.reset();
  t.deadline_ms = now_ms() - 1000;  // passed: the sweep would enforce it on anything it could tell is the task's
  put(reg, t);
  std::optional<ProcRootForTesting> fake;
  if (hidden) fake.emplace(fake_proc(c.pid(), Hide::no_entry));
  const std::string why = hidden ? "/proc hides pid " : "no start time recorded for pid ";
  auto s = task_status(reg, "untimed");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->effective_state, "running (unverified: " + why + std::to_string(c.pid()) + ")");
  EXPECT_FALSE(s->unverified.empty());
  EXPECT_FALSE(task_has_ended(reg, "untimed").value_or(true));
  auto r = task_report(reg);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->unverified, 1u);
  EXPECT_EQ(r->by_state.count("lost"), 0u);
  auto k = kill_recorded_task(reg, "untimed", KillRequest{.grace = 0ms});
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->outcome, KillOutcome::unverified);
  ASSERT_NO_FATAL_FAILURE(sweep());
  EXPECT_FALSE(is_terminal(stored_state("untimed"))) << to_string(stored_state("untimed"));
  EXPECT_FALSE(c.exited()) << "a process that was never shown to be the task's was killed";
}

// A record whose "boot_id" is not this boot's: every pid it names is someone
// else's now, even one /proc hides and kill(pid, 0) finds (before, such a
// pid made it "unverified" for ever after a reboot). The same record with
// this boot's id: cannot tell.
TEST_F(TaskUnverified, ARecordFromAnotherBootIsGone) {
  auto t = watched_by_monitor(running_record("old"));
  const auto root = fake_proc(c.pid(), Hide::no_entry);  // neither pid has an entry
  fake_boot_id(root, "11111111-2222-3333-4444-555555555555");
  ProcRootForTesting fake(root);
  {
    record_boot(t);
    EXPECT_EQ(t.extra.at("boot_id"), R"("11111111-2222-3333-4444-555555555555")");
    put(reg, t);
    EXPECT_FALSE(recorded_before_boot(t));
    auto s = task_status(reg, "old");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->effective_state, shown_hidden());
    EXPECT_TRUE(s->monitor_unverified);
  }
  t.extra["boot_id"] = R"("99999999-2222-3333-4444-555555555555")";
  put(reg, t);
  EXPECT_TRUE(recorded_before_boot(t));
  EXPECT_EQ(monitor_presence(t), Presence::gone);
  auto s = task_status(reg, "old");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->effective_state, "lost");
  EXPECT_TRUE(s->unverified.empty()) << s->unverified;
  EXPECT_FALSE(s->monitor_running);
  auto r = task_report(reg);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->by_state["lost"], 1u);
  EXPECT_EQ(r->unverified, 0u);
  // The key survives a save and a load (read by both registry parsers).
  auto loaded = reg.load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->tasks.at("old").extra.at("boot_id"), R"("99999999-2222-3333-4444-555555555555")");
}

// An older record without "boot_id": only a start time later than this
// boot's uptime (clock ticks, which no clock step moves) tells it is from
// an earlier boot; otherwise hidden pids stay "cannot tell".
TEST_F(TaskUnverified, AnOldRecordIsFromAnEarlierBootOnlyByItsStartTicks) {
  auto t = running_record("old");
  ASSERT_TRUE(t.pid_start_time);
  const auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  put(reg, t);
  const auto root = fake_proc(c.pid(), Hide::no_entry);
  {
    fake_uptime(root, static_cast<double>(*t.pid_start_time) / hz + 60);  // started during this boot
    ProcRootForTesting fake(root);
    EXPECT_FALSE(recorded_before_boot(t));
    EXPECT_EQ(effective_state("old"), shown_hidden());
  }
  fake_uptime(root, static_cast<double>(*t.pid_start_time) / hz - 60);  // this boot is younger than the start
  ProcRootForTesting fake(root);
  EXPECT_TRUE(recorded_before_boot(t));
  EXPECT_EQ(effective_state("old"), "lost");
}

// A task created in the first seconds of uptime after a forward clock step
// has created_ms < btime (btime moves with the clock). The wall clock says
// nothing: /proc shows its processes, so it runs, with or without a
// recorded boot id. Before: `lost`, `kill` "no processes left", the
// daemon's sweep "marked exited" while the process ran.
TEST_P(SteppedClock, ALiveTaskCreatedBeforeBtimeStaysRunning) {
  const auto btime = real_btime();
  ASSERT_GT(btime, 0);
  auto t = watched_by_monitor(running_record("stepped"));
  t.created_ms = btime * 1000 - 500;
  if (GetParam()) {
    record_boot(t);
    ASSERT_TRUE(t.extra.contains("boot_id"));
  }
  put(reg, t);
  EXPECT_FALSE(recorded_before_boot(t));
  EXPECT_EQ(monitor_presence(t), Presence::running);
  auto s = task_status(reg, "stepped");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->effective_state, "running");
  EXPECT_EQ(s->processes_alive, 1u);
  EXPECT_FALSE(task_has_ended(reg, "stepped").value_or(true));
  // Its monitor gone: the sweep sees the process and leaves the task be (no deadline).
  monitor->signal(SIGKILL);
  ASSERT_TRUE(monitor->wait(30s));
  ASSERT_NO_FATAL_FAILURE(sweep());
  EXPECT_EQ(stored_state("stepped"), TaskState::running);
  s = task_status(reg, "stepped");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->effective_state, "running (monitor gone: deadline not enforced)");
  auto k = kill_recorded_task(reg, "stepped", KillRequest{.grace = 0ms});
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->found, 1u);
  ASSERT_TRUE(c.wait(30s)) << "kill left the task's process running";
}

// `report` counts a task with a hidden process even while its monitor runs
// (its state then has no "(unverified: …)"). Before, only the state's
// suffix was counted: 0.
TEST_F(TaskUnverified, ReportCountsAHiddenProcessOfAMonitoredTask) {
  put(reg, watched_by_monitor(running_record("watched")));
  const auto root = fake_proc(c.pid(), Hide::unreadable);
  show(root, monitor->pid());
  ProcRootForTesting fake(root);
  auto r = task_report(reg);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->longest_running.size(), 1u);
  EXPECT_EQ(r->longest_running[0].effective_state, "running");
  EXPECT_EQ(r->unverified, 1u);
}

// The monitor runs as the user who started the task (the owner of its log
// files). When that is the caller, a monitor pid /proc hides and the kernel
// says is not ours to signal (kill EPERM) is someone else's process: gone.
// Not so a leader pid: a leader that later execs sudo, doas or pkexec gets
// another real uid and answers EPERM while it runs — cannot tell.
// Checked as `nobody` (uid 65534) against pid 1, which is root's; run
// directly when the test is not root. Skipped (exit 100) where that cannot
// be checked: pid 1 is ours, `nobody` cannot reach the log (TMPDIR it cannot
// enter) or cannot be become (65534 unmapped in a user namespace).
TEST_F(TaskUnverified, APidThatIsNotOursToSignalIsNotOurMonitor) {
  const auto root = d / "proc";  // no entries: pid 1 is hidden, as under hidepid=2
  fs::create_directories(root);
  const auto log = d / "stdout.log";
  std::ofstream(log) << "";
  const uid_t nobody = 65534;
  if (::geteuid() == 0) {
    ASSERT_EQ(::chmod(d.path().c_str(), 0755), 0);
    if (::chown(log.c_str(), nobody, nobody) != 0) GTEST_SKIP() << "cannot give the log to nobody: " << std::strerror(errno);
  }
  const auto check = [&]() -> int {
    struct stat st{};
    if (::lstat(log.c_str(), &st) != 0 || st.st_uid != ::geteuid()) return 100;  // the log is not known ours here
    if (!not_ours_to_signal(1)) return 100;  // pid 1 is ours: nothing to check
    TaskRecord t;
    t.id = "t";
    t.created_ms = now_ms();
    t.state = TaskState::running;
    t.monitor_pid = 1;
    t.monitor_start_time = 1;
    t.pid = 1;
    t.pid_start_time = 1;
    t.stdout_log = log.string();
    int bad = 0;
    ProcRootForTesting fake(root);
    if (monitor_presence(t) != Presence::gone) bad |= 1;
    if (collect_processes_checked(task_processes(t)).unreadable != 1) bad |= 2;  // the leader: cannot tell
    t.pid_start_time.reset();  // maybe a setuid leader: cannot tell either
    if (collect_processes_checked(task_processes(t)).unreadable != 1) bad |= 4;
    t.stdout_log = (d / "not-there.log").string();  // not known to be the caller's task: cannot tell
    if (monitor_presence(t) != Presence::unknown) bad |= 8;
    return bad;
  };
  int result = 0;
  if (::geteuid() != 0) {
    result = check();
  } else {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(nobody, nobody, nobody) != 0 || ::setresuid(nobody, nobody, nobody) != 0) ::_exit(100);
      ::_exit(check());
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    result = WEXITSTATUS(status);
  }
  if (result == 100) GTEST_SKIP() << "cannot check here: pid 1 can be signalled, or nobody cannot reach the log or cannot be become";
  EXPECT_EQ(result, 0) << "failed checks (bits): " << result;
}
