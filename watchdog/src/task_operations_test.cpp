// The library calls behind `kill`, `status`, `cleanup`, `rehydrate` and
// `stats` (task_kill.hpp, task_status.hpp, task_cleanup.hpp,
// task_overview.hpp), called directly: real child processes, a real
// registry in a temp dir, no CLI in between.

#include <airssys/testing/child.hpp>
#include <airssys/testing/eventually.hpp>
#include <airssys/testing/temp_dir.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/task_cleanup.hpp>
#include <airssys/watchdog/task_kill.hpp>
#include <airssys/watchdog/task_log_files.hpp>
#include <airssys/watchdog/task_overview.hpp>
#include <airssys/watchdog/task_report.hpp>
#include <airssys/watchdog/task_status.hpp>

#include "kill_tree.hpp"
#include "proc.hpp"
#include "task_test_support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

using namespace airssys::watchdog;
using airssys::testing::Child;
using airssys::testing::eventually;
using airssys::testing::TempDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using test::now_ms;
using test::put;
using test::record;
using test::stored;

// Starts `script` as the leader of its own session and process group (setsid
// execs in place: the pid stays the Child's) and waits until the task shows
// `expect` processes.
Child start_tree(const Registry& reg, const std::string& id, const std::string& script, std::size_t expect) {
  Child c({"setsid", "sh", "-c", script});
  EXPECT_GT(c.pid(), 0);
  // setsid has exec'd sh once the process's group is its own pid.
  EXPECT_TRUE(eventually([&] {
    const auto st = read_proc_stat(c.pid());
    return st && st->pgrp == c.pid() && collect_processes(task_processes(record(reg, id, TaskState::running, c.pid()))).size() == expect;
  }, 30s));
  return c;
}

// Ends, by pid, whatever of a tree the code under test failed to end, so a
// failing test leaves nothing running.
void end_leftovers(const std::vector<Pid>& procs) {
  for (const auto& p : procs) {
    if (!process_gone(p.pid, p.start_time)) ::kill(p.pid, SIGKILL);
  }
}

// A live task as `register` records one without a monitor or cgroup: a
// setsid tree the test started. Whatever of it still runs when the test
// ends, passed or failed, is killed by pid.
struct LiveTree {
  LiveTree(const Registry& reg, const std::string& id, const std::string& script, std::size_t expect)
      : child(start_tree(reg, id, script, expect)) {
    put(reg, record(reg, id, TaskState::running, child.pid()));
    procs = collect_processes(task_processes(stored(reg, id)));
  }
  ~LiveTree() { end_leftovers(procs); }
  LiveTree(const LiveTree&) = delete;
  LiveTree& operator=(const LiveTree&) = delete;

  Child child;
  std::vector<Pid> procs;  // as found once it ran
};

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p);
  out << text;
  ASSERT_TRUE(out.flush()) << "cannot write " << p;
}

// Each test's temp dir and the registry in its state/ directory, made as
// `task-watchdog run` makes it.
class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(reg.ensure_dir()); }

  TempDir d{"wd-ops"};
  const Registry reg{d / "state" / "registry.json"};
};
class TaskKill : public RegistryTest {};
class TaskCleanup : public RegistryTest {};
class TaskOverview : public RegistryTest {};
// TaskStatus, TaskReport and TaskLogs are also watchdog types: those suites
// stay plain TESTs that make their own directory and registry.

}  // namespace

TEST_F(TaskKill, LiveTreeIsKilledVerifiedAndRecordedKilled) {
  LiveTree tree(reg, "tree", "sleep 1000 & sleep 1000 & wait", 3);
  const auto& procs = tree.procs;
  ASSERT_EQ(procs.size(), 3u);

  auto r = kill_recorded_task(reg, "tree", KillRequest{.grace = 20s, .policy_file = {}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->outcome, KillOutcome::killed);
  EXPECT_EQ(r->found, 3u);
  EXPECT_EQ(r->terminated, 3u);  // nothing in the tree ignores SIGTERM
  EXPECT_TRUE(r->survivors.empty());
  EXPECT_EQ(r->method, KillMethod::signals);
  for (const auto& p : procs) EXPECT_TRUE(process_gone(p.pid, p.start_time)) << "pid " << p.pid << " survived";

  const auto t = stored(reg, "tree");
  EXPECT_EQ(t.state, TaskState::killed);
  EXPECT_EQ(t.error, "killed by `task-watchdog kill`");
  EXPECT_TRUE(t.ended_ms);
  EXPECT_EQ(tree.child.wait(10s), 128 + SIGTERM);
  // Each signal went through osl, so it is in the audit trail.
  std::ifstream audit(reg.dir() / "audit.jsonl");
  const std::string trail((std::istreambuf_iterator<char>(audit)), std::istreambuf_iterator<char>());
  EXPECT_NE(trail.find("process.signal"), std::string::npos) << trail;
}

// A live record whose monitor is gone may carry a note of a deadline kill
// `run` could not finish (deadline_kill_unfinished; an older daemon put the
// count in leftover_processes). `kill` ending the task leaves neither: they
// are no processes killed after the main process ended, which status prints
// and stats counts (both showed 5 here before), and the key is for live
// records only.
TEST_F(TaskKill, ADaemonsUnfinishedKillNotesGoWhenKillEndsTheTask) {
  LiveTree tree(reg, "noted", "sleep 1000 & wait", 2);
  ASSERT_TRUE(reg.update([](RegistryData& data) -> std::expected<void, Error> {
    auto& t = data.tasks.at("noted");
    t.leftover_processes = 5;
    t.extra["deadline_kill_unfinished"] = "5";
    return {};
  }));
  auto r = kill_recorded_task(reg, "noted", KillRequest{.grace = 20s, .policy_file = {}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->outcome, KillOutcome::killed);
  const auto t = stored(reg, "noted");
  EXPECT_EQ(t.state, TaskState::killed);
  EXPECT_FALSE(t.leftover_processes) << *t.leftover_processes;
  EXPECT_FALSE(t.extra.contains("deadline_kill_unfinished"));
  auto s = registry_stats(reg);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->leftover_processes_killed, 0);
  EXPECT_EQ(tree.child.wait(10s), 128 + SIGTERM);
}

// A member that ignores SIGTERM outlives its leader, after which neither the
// group nor the descendant walk can reach it (no cgroup, no monitor): the
// SIGKILL sweeps must still end it because the first sweep found it.
TEST_F(TaskKill, MemberThatIgnoresSigtermIsKilledAfterItsLeaderEnded) {
  LiveTree tree(reg, "stubborn", "(trap '' TERM; exec sleep 1000) & wait", 2);
  const auto& procs = tree.procs;
  ASSERT_EQ(procs.size(), 2u);
  // The member is counted once forked but ignores SIGTERM only after its
  // trap has run: wait until it has exec'd sleep, which follows the trap
  // (on a busy machine the kill came first and SIGTERM ended both).
  ASSERT_TRUE(eventually([&] {
    for (const auto& p : procs) {
      if (p.pid == tree.child.pid()) continue;
      std::ifstream f("/proc/" + std::to_string(p.pid) + "/comm");
      std::string comm;
      if (std::getline(f, comm) && comm == "sleep") return true;
    }
    return false;
  }, 30s)) << "the member never exec'd sleep";

  auto r = kill_recorded_task(reg, "stubborn", KillRequest{.grace = 3s, .policy_file = {}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->found, 2u);
  EXPECT_LE(r->terminated, 1u);  // the sleep ignores SIGTERM: only SIGKILL ends it
  EXPECT_EQ(r->outcome, KillOutcome::killed);
  for (const auto& p : procs) EXPECT_TRUE(process_gone(p.pid, p.start_time)) << "pid " << p.pid << " survived";
  EXPECT_EQ(stored(reg, "stubborn").state, TaskState::killed);
}

// The member's TERM trap starts a new process after the first sweep, and the
// leader is gone by then: the new process is found neither through the
// leader nor in the first sweep, only as the child of a known member (and as
// a member of the leader's group, which that member still holds). It must be
// killed too, and the task recorded killed only once it is gone.
TEST_F(TaskKill, ProcessStartedByAMemberAfterTheFirstSweepIsKilledToo) {
  LiveTree tree(reg, "forker", "(trap 'sleep 1000 & wait' TERM; sleep 1000 & wait; wait) & wait", 3);
  ASSERT_EQ(tree.procs.size(), 3u);
  const pid_t group = tree.child.pid();
  const auto leader_start = stored(reg, "forker").pid_start_time.value_or(0);
  // Whatever of the group runs, found from the group id itself: the trap's
  // sleep is in no list the test made before the kill.
  const auto group_members = [&] {
    std::vector<Pid> out;
    for (const auto& p : all_processes()) {
      if (p.pgrp == group && p.start_time >= leader_start && p.state != 'Z' && p.state != 'X') out.push_back(Pid{p.pid, p.start_time});
    }
    return out;
  };

  auto r = kill_recorded_task(reg, "forker", KillRequest{.grace = 3s, .policy_file = {}});
  const auto left = group_members();
  end_leftovers(left);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->found, 3u);
  EXPECT_TRUE(left.empty()) << left.size() << " process(es) of the group survived, first pid " << left.front().pid;
  EXPECT_EQ(r->outcome, KillOutcome::killed);
  EXPECT_EQ(stored(reg, "forker").state, TaskState::killed);
}

TEST_F(TaskKill, EndedTaskIsLeftAsRecorded) {
  auto t = record(reg, "done", TaskState::exited);
  t.exit_code = 3;
  put(reg, t);
  auto r = kill_recorded_task(reg, "done");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->outcome, KillOutcome::already_ended);
  EXPECT_EQ(r->ended_as, TaskState::exited);
  EXPECT_EQ(r->found, 0u);
  const auto after = stored(reg, "done");
  EXPECT_EQ(after.state, TaskState::exited);
  EXPECT_EQ(after.exit_code, 3);
  EXPECT_EQ(after.error, "");
}

TEST_F(TaskKill, LiveRecordWhosePidEndedIsStaleAndUnknownIdIsNotFound) {
  Child c({"true"});
  ASSERT_GT(c.pid(), 0);
  // Its start time, read before it can exit: `true` may already be gone.
  auto t = record(reg, "gone", TaskState::running);
  t.pid = c.pid();
  t.pid_start_time = 1;  // no process started at tick 1 runs as this pid now
  ASSERT_EQ(c.wait(10s), 0);
  put(reg, t);
  auto r = kill_recorded_task(reg, "gone");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::stale);
  EXPECT_EQ(stored(reg, "gone").state, TaskState::running);

  auto none = kill_recorded_task(reg, "nope");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().category, ErrorCategory::not_found);
  EXPECT_EQ(none.error().message, "no task 'nope' in " + reg.path().string());
}

TEST(TaskStatus, LiveTaskWithoutMonitorAndEndedTask) {
  TempDir d("wd-ops");
  const Registry reg(d / "registry.json");
  LiveTree tree(reg, "live", "sleep 1000 & wait", 2);
  put(reg, record(reg, "old", TaskState::timed_out));

  auto s = task_status(reg, "live");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->record.id, "live");
  EXPECT_EQ(s->processes_alive, 2u);
  EXPECT_FALSE(s->monitor_running);
  EXPECT_EQ(s->effective_state, "running (monitor gone: deadline not enforced)");
  ASSERT_TRUE(s->cpu_percent);
  EXPECT_GE(*s->cpu_percent, 0.0);
  EXPECT_GT(s->memory_bytes.value_or(0), 0u);
  EXPECT_FALSE(s->memory_source.empty());
  EXPECT_TRUE(s->container_json.empty());

  auto e = task_status(reg, "old");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->effective_state, "timed_out");
  EXPECT_EQ(e->processes_alive, 0u);
  EXPECT_FALSE(e->cpu_percent);

  // The same call after `kill`: the recorded verdict, nothing alive.
  auto k = kill_recorded_task(reg, "live", KillRequest{.grace = 20s, .policy_file = {}});
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->outcome, KillOutcome::killed);
  auto after = task_status(reg, "live");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->effective_state, "killed");
  EXPECT_EQ(after->processes_alive, 0u);
  EXPECT_FALSE(after->cpu_percent);
}

TEST_F(TaskCleanup, RemovesOnlyEndedTasksOlderThanTheCutoffWithTheirLogs) {
  const auto hours_ago = [](int h) { return now_ms() - h * 3'600'000LL; };
  auto old_exited = record(reg, "old-exited", TaskState::exited);
  old_exited.ended_ms = hours_ago(3);
  auto old_killed = record(reg, "old-killed", TaskState::killed);
  old_killed.created_ms = hours_ago(5);
  old_killed.ended_ms.reset();  // counts from created_ms
  auto recent = record(reg, "recent", TaskState::failed);
  auto old_running = record(reg, "old-running", TaskState::running);
  old_running.created_ms = hours_ago(9);
  for (const auto* t : {&old_exited, &old_killed, &recent, &old_running}) {
    put(reg, *t);
    write_file(t->stdout_log, "out\n");
    write_file(t->stderr_log, "err\n");
  }
  write_file(reg.log_path("old-exited", "monitor"), "monitor\n");

  auto r = cleanup_tasks(reg, std::chrono::hours(1));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->removed, (std::vector<std::string>{"old-exited", "old-killed"}));
  EXPECT_TRUE(r->ended_containers.empty());
  auto data = reg.load();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->tasks.size(), 2u);
  EXPECT_TRUE(data->tasks.contains("recent"));
  EXPECT_TRUE(data->tasks.contains("old-running"));
  EXPECT_FALSE(fs::exists(old_exited.stdout_log));
  EXPECT_FALSE(fs::exists(old_exited.stderr_log));
  EXPECT_FALSE(fs::exists(reg.log_path("old-exited", "monitor")));
  EXPECT_FALSE(fs::exists(old_killed.stdout_log));
  EXPECT_TRUE(fs::exists(recent.stdout_log));
  EXPECT_TRUE(fs::exists(old_running.stderr_log));

  // Without a cutoff every ended task goes; the live one stays.
  auto all = cleanup_tasks(reg);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->removed, (std::vector<std::string>{"recent"}));
  EXPECT_EQ(reg.load()->tasks.size(), 1u);
}

TEST_F(TaskOverview, LiveTasksAndStats) {
  auto a = record(reg, "a", TaskState::exited);
  a.ended_ms = a.created_ms + 2000;
  a.leftover_processes = 2;
  auto b = record(reg, "b", TaskState::exited);
  b.ended_ms = b.created_ms + 4000;
  auto c = record(reg, "c", TaskState::running);  // no pid, no monitor: lost
  // An older daemon's count of what its deadline kill left: no leftovers.
  auto killed = record(reg, "d", TaskState::timed_out);
  killed.leftover_processes = 5;
  killed.ended_ms = killed.created_ms + 3000;
  put(reg, a);
  put(reg, b);
  put(reg, c);
  put(reg, killed);
  write_file(c.stdout_log, "first\nlast line\n\n");

  auto live = live_tasks(reg);
  ASSERT_TRUE(live) << live.error().message;
  EXPECT_EQ(live->ended, 3u);
  ASSERT_EQ(live->live.size(), 1u);
  EXPECT_EQ(live->live[0].record.id, "c");
  EXPECT_EQ(live->live[0].effective_state, "lost");
  EXPECT_EQ(live->live[0].last_output, "last line");
  EXPECT_EQ(live->live[0].last_error, "");

  auto s = registry_stats(reg);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->tasks, 4u);
  EXPECT_EQ(s->by_state, (std::map<TaskState, std::size_t>{
                             {TaskState::running, 1}, {TaskState::exited, 2}, {TaskState::timed_out, 1}}));
  EXPECT_EQ(s->mean_duration_ms, 3000);
  EXPECT_EQ(s->leftover_processes_killed, 2);
}

// A container task whose engine does not answer is not reported `lost`:
// nothing is known about its processes (the engine's socket does not exist).
TEST_F(TaskOverview, ContainerTaskWhoseEngineDoesNotAnswerIsNotLost) {
  auto t = record(reg, "boxed", TaskState::running);
  t.containment.kind = ContainmentKind::container;
  t.extra.insert_or_assign("container", R"({"engine":"unix://)" + (d / "no-engine.sock").string() + R"(","name":"boxed"})");
  put(reg, t);

  auto live = live_tasks(reg);
  ASSERT_TRUE(live) << live.error().message;
  ASSERT_EQ(live->live.size(), 1u);
  EXPECT_EQ(live->live[0].effective_state, "running (container engine not answering)");
  EXPECT_EQ(live->live[0].processes_alive, 0u);
}

// Cleanup removes a task's logs where the runner writes them, never a file
// an edited record names instead.
TEST_F(TaskCleanup, RemovesTheTasksOwnLogsNotTheFilesItsRecordNames) {
  auto t = record(reg, "old", TaskState::exited);
  const fs::path own_stdout = t.stdout_log;
  const fs::path bystander = d / "precious.txt";
  t.stdout_log = bystander.string();
  put(reg, t);
  write_file(own_stdout, "log\n");
  write_file(bystander, "keep me\n");

  auto r = cleanup_tasks(reg);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->removed, (std::vector<std::string>{"old"}));
  EXPECT_TRUE(fs::exists(bystander)) << "cleanup deleted a file the record named";
  EXPECT_FALSE(fs::exists(own_stdout));
}

// rehydrate shows the last line of the task's own logs, not of a file an
// edited record names instead.
TEST_F(TaskOverview, LastLinesComeFromTheTasksOwnLogs) {
  auto t = record(reg, "c", TaskState::running);
  write_file(t.stdout_log, "own line\n");
  t.stderr_log = (reg.dir() / "elsewhere.txt").string();
  write_file(t.stderr_log, "not the task's\n");
  put(reg, t);

  auto live = live_tasks(reg);
  ASSERT_TRUE(live) << live.error().message;
  ASSERT_EQ(live->live.size(), 1u);
  EXPECT_EQ(live->live[0].last_output, "own line");
  EXPECT_EQ(live->live[0].last_error, "");
}

// /proc that will not show a process (EACCES under hidepid=1; here a fake
// /proc whose stat file for it is a directory) says nothing about whether it
// runs: kill must not call that "nothing to kill" or record `killed`.
TEST_F(TaskKill, AProcessProcCannotShowIsNotRecordedKilled) {
  Child c({"sleep", "1000"});
  ASSERT_GT(c.pid(), 0);
  put(reg, record(reg, "hidden", TaskState::running, c.pid()));
  fs::create_directories(d / "proc" / std::to_string(c.pid()) / "stat");  // read(2): EISDIR
  {
    ProcRootForTesting fake(d / "proc");
    EXPECT_EQ(process_presence(c.pid()), Presence::unknown);
    EXPECT_FALSE(process_gone(c.pid()));
    auto r = kill_recorded_task(reg, "hidden", KillRequest{.grace = 1s, .policy_file = {}});
    ASSERT_TRUE(r) << r.error().message;  // was: stale, "pid ... has ended"
    EXPECT_EQ(r->outcome, KillOutcome::unverified);
    EXPECT_NE(r->unverified_reason.find(std::to_string(c.pid())), std::string::npos) << r->unverified_reason;
    EXPECT_EQ(r->recorded_as, TaskState::running);
  }
  const auto t = stored(reg, "hidden");
  EXPECT_EQ(t.state, TaskState::running);
  EXPECT_NE(t.error.find("could not verify that its processes are gone"), std::string::npos) << t.error;
  EXPECT_FALSE(c.exited());  // nothing it could not see was signalled
}

// Under hidepid=2 /proc has no entry at all for another user's process
// (ENOENT) while it runs; kill(pid, 0) says it exists (EPERM): still "cannot
// tell", never "pid ... has ended". Here a fake /proc without the entry.
TEST_F(TaskKill, AProcessProcHidesIsNotRecordedKilled) {
  Child c({"sleep", "1000"});
  ASSERT_GT(c.pid(), 0);
  put(reg, record(reg, "hidden", TaskState::running, c.pid()));
  fs::create_directories(d / "proc");
  {
    ProcRootForTesting fake(d / "proc");
    EXPECT_EQ(process_presence(c.pid()), Presence::unknown);
    auto r = kill_recorded_task(reg, "hidden", KillRequest{.grace = 1s, .policy_file = {}});
    ASSERT_TRUE(r) << r.error().message;  // was: stale, "pid ... has ended"
    EXPECT_EQ(r->outcome, KillOutcome::unverified);
    EXPECT_NE(r->unverified_reason.find(std::to_string(c.pid()) + " exists but /proc does not show it"), std::string::npos)
        << r->unverified_reason;
    EXPECT_EQ(r->recorded_as, TaskState::running);
  }
  EXPECT_EQ(stored(reg, "hidden").state, TaskState::running);
  EXPECT_FALSE(c.exited());  // nothing it could not see was signalled
}

namespace {

// Kills the live tree "race" (an sh whose TERM trap touches a marker in
// `dir`, so it outlives SIGTERM) while "its monitor" applies `change` to the
// record once the tree got SIGTERM; what kill returned.
std::expected<KillTaskReport, Error> kill_while_the_monitor_writes(const Registry& reg, const fs::path& dir,
                                                                   std::chrono::seconds grace,
                                                                   const std::function<void(TaskRecord&)>& change) {
  const fs::path marker = dir / "got-term";
  LiveTree tree(reg, "race", "trap 'touch " + marker.string() + "' TERM; while :; do sleep 1000 & wait; done", 2);
  std::thread monitor([&] {
    if (!eventually([&] { return fs::exists(marker); }, 30s)) return;
    EXPECT_TRUE(reg.update([&](RegistryData& data) -> std::expected<void, Error> {
      change(data.tasks.at("race"));
      return {};
    }));
  });
  auto r = kill_recorded_task(reg, "race", KillRequest{.grace = grace, .policy_file = {}});
  monitor.join();
  return r;
}

// Kills a live tree while "its monitor" records `exited` with `exit_code` /
// `exit_signal` once the tree got SIGTERM; the state the kill leaves.
std::optional<TaskState> kill_while_the_monitor_records_exited(std::optional<int> exit_code, std::optional<int> exit_signal) {
  TempDir d("wd-ops");
  const Registry reg(d / "state" / "registry.json");
  EXPECT_TRUE(reg.ensure_dir());
  auto r = kill_while_the_monitor_writes(reg, d.path(), 2s, [&](TaskRecord& t) {
    t.state = TaskState::exited;
    t.exit_code = exit_code;
    t.exit_signal = exit_signal;
  });
  EXPECT_TRUE(r) << r.error().message;
  if (!r) return std::nullopt;
  EXPECT_EQ(r->outcome, KillOutcome::killed);
  EXPECT_TRUE(r->survivors.empty());
  EXPECT_EQ(r->recorded_as, stored(reg, "race").state);
  return stored(reg, "race").state;
}

}  // namespace

// The monitor records `timed_out` (its deadline) while `kill` waits out the
// grace period: kill's verdict is a compare-and-set on the state it read
// (`running`), so the monitor's state stays.
TEST_F(TaskKill, AStateTheMonitorWroteDuringTheKillIsKept) {
  auto r = kill_while_the_monitor_writes(reg, d.path(), 5s, [](TaskRecord& t) {
    t.state = TaskState::timed_out;
    t.error = "deadline 1s passed";
    t.ended_ms = now_ms();
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->outcome, KillOutcome::killed);
  EXPECT_TRUE(r->survivors.empty());
  EXPECT_EQ(r->recorded_as, TaskState::timed_out);
  const auto t = stored(reg, "race");
  EXPECT_EQ(t.state, TaskState::timed_out);  // was: killed
  EXPECT_EQ(t.error, "deadline 1s passed");
}

// The monitor's own `exited` on seeing the end our signal caused is still
// replaced by `killed` (docs/task-watchdog.md, "kill"): a signal, 128 +
// SIGTERM from a shell, or no exit status at all (an adopted process).
TEST_F(TaskKill, ExitedWrittenDuringTheKillBecomesKilled) {
  EXPECT_EQ(kill_while_the_monitor_records_exited(std::nullopt, SIGTERM), TaskState::killed);
  EXPECT_EQ(kill_while_the_monitor_records_exited(128 + SIGTERM, std::nullopt), TaskState::killed);
  EXPECT_EQ(kill_while_the_monitor_records_exited(std::nullopt, std::nullopt), TaskState::killed);
}

// Whatever code the exit the monitor records while the kill runs carries,
// the task ends `killed`, as it does when the kill writes first (the
// monitor keeps a `killed` it finds): the state after `kill` does not
// depend on who wrote first. A task that ends itself with 0 on SIGTERM was
// still killed.
TEST_F(TaskKill, AnyExitWrittenDuringTheKillBecomesKilled) {
  EXPECT_EQ(kill_while_the_monitor_records_exited(0, std::nullopt), TaskState::killed);
  EXPECT_EQ(kill_while_the_monitor_records_exited(3, std::nullopt), TaskState::killed);
}

// The monitor records `exited` with the leftovers it killed as it sees the
// end; `killed` replacing it keeps that count, which is genuine (unlike a
// live record's note of the daemon's unfinished kill, above).
TEST_F(TaskKill, TheMonitorsLeftoversStayWhenKilledReplacesItsExited) {
  auto r = kill_while_the_monitor_writes(reg, d.path(), 5s, [](TaskRecord& t) {
    t.state = TaskState::exited;
    t.exit_signal = SIGTERM;
    t.ended_ms = now_ms();
    t.leftover_processes = 2;
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->recorded_as, TaskState::killed);
  const auto t = stored(reg, "race");
  EXPECT_EQ(t.state, TaskState::killed);
  EXPECT_EQ(t.leftover_processes, std::optional<std::int64_t>(2));
  auto s = registry_stats(reg);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->leftover_processes_killed, 2);
}

// A record that ended before it began (the clock was set back, or it was
// edited) has no duration: skipped, not averaged into a negative mean.
TEST_F(TaskOverview, StatsSkipNegativeDurations) {
  auto fine = record(reg, "fine", TaskState::exited);
  fine.ended_ms = fine.created_ms + 4'000;
  auto backwards = record(reg, "backwards", TaskState::exited);
  backwards.ended_ms = backwards.created_ms - 3'600'000;
  for (const auto* t : {&fine, &backwards}) put(reg, *t);
  auto s = registry_stats(reg);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->tasks, 2u);
  EXPECT_EQ(s->mean_duration_ms, 4'000);  // was: (4000 - 3600000) / 2
  EXPECT_EQ(s->durations_skipped, 1u);

  // Only the backwards one: no mean at all.
  ASSERT_TRUE(reg.update([](RegistryData& data) -> std::expected<void, Error> {
    data.tasks.erase("fine");
    return {};
  }));
  s = registry_stats(reg);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->mean_duration_ms);
  EXPECT_EQ(s->durations_skipped, 1u);
}

// rehydrate's last lines: a symbolic link at a task's log path is not
// followed, and a FIFO there does not block the call.
TEST_F(TaskOverview, LastLinesFollowNoSymlinkAndDoNotBlockOnAFifo) {
  Child c({"sleep", "1000"});
  ASSERT_GT(c.pid(), 0);
  put(reg, record(reg, "a", TaskState::running, c.pid()));
  write_file(d / "secret", "the secret line\n");
  fs::create_directories(reg.log_path("a", "stdout").parent_path());
  fs::create_symlink(d / "secret", reg.log_path("a", "stdout"));
  ASSERT_EQ(::mkfifo(reg.log_path("a", "stderr").c_str(), 0600), 0);
  auto live = live_tasks(reg);  // was: blocked opening the FIFO
  ASSERT_TRUE(live) << live.error().message;
  ASSERT_EQ(live->live.size(), 1u);
  EXPECT_EQ(live->live[0].last_output, "");  // was: "the secret line"
  EXPECT_EQ(live->live[0].last_error, "");
}

// A cgroup cleanup cannot remove (here a directory that is not empty) is
// reported with the task's id, not dropped; the record goes either way.
TEST_F(TaskCleanup, ACgroupThatCannotBeRemovedIsReported) {
  auto t = record(reg, "stuck", TaskState::killed);
  t.containment.kind = ContainmentKind::cgroup2;
  t.containment.cgroup = (d / "task-watchdog" / "stuck-1").string();
  write_file(d / "task-watchdog" / "stuck-1" / "cgroup.procs", "1\n");
  put(reg, t);
  put(reg, record(reg, "plain", TaskState::exited));
  auto r = cleanup_tasks(reg);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->removed, (std::vector<std::string>{"plain", "stuck"}));
  ASSERT_EQ(r->not_removed.size(), 1u);  // was: nothing said
  EXPECT_TRUE(r->not_removed[0].starts_with("task 'stuck': cgroup: ")) << r->not_removed[0];
  EXPECT_TRUE(fs::exists(d / "task-watchdog" / "stuck-1" / "cgroup.procs"));  // nothing but rmdir was tried
  EXPECT_TRUE(reg.load()->tasks.empty());
}

// `report` as a library call: counts by effective state, live tasks that
// are not lost, failures most recent first.
TEST(TaskReport, CountsLongestRunningAndFailures) {
  TempDir d("wd-ops");
  const Registry reg(d / "state" / "registry.json");
  ASSERT_TRUE(reg.ensure_dir());
  LiveTree tree(reg, "live", "sleep 1000 & wait", 2);
  auto lost = record(reg, "lost", TaskState::running);
  lost.pid = 999'999'999;  // no such process, no monitor
  lost.pid_start_time = 1;
  auto ok = record(reg, "ok", TaskState::exited);
  ok.exit_code = 0;
  auto bad = record(reg, "bad", TaskState::exited);
  bad.exit_code = 3;
  bad.ended_ms = now_ms() - 1'000;
  auto slow = record(reg, "slow", TaskState::timed_out);
  slow.ended_ms = now_ms();
  for (const auto* t : {&lost, &ok, &bad, &slow}) put(reg, *t);

  auto r = task_report(reg);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->tasks, 5u);
  EXPECT_EQ(r->by_state, (std::map<std::string, std::size_t>{{"exited", 2}, {"lost", 1}, {"running", 1}, {"timed_out", 1}}));
  ASSERT_EQ(r->longest_running.size(), 1u);
  EXPECT_EQ(r->longest_running[0].record.id, "live");
  EXPECT_EQ(r->longest_running[0].effective_state, "running (monitor gone: deadline not enforced)");
  ASSERT_EQ(r->recent_failures.size(), 2u);
  EXPECT_EQ(r->recent_failures[0].id, "slow");
  EXPECT_EQ(r->recent_failures[1].id, "bad");
  EXPECT_GE(r->now_ms, slow.ended_ms.value_or(0));

  // `logs --follow` stops on this: ended or lost, not while something runs.
  EXPECT_EQ(task_has_ended(reg, "live"), false);
  EXPECT_EQ(task_has_ended(reg, "lost"), true);
  EXPECT_EQ(task_has_ended(reg, "bad"), true);
  auto missing = task_has_ended(reg, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().category, ErrorCategory::not_found);
}

// `logs --follow` must not stop while /proc cannot show the task's process
// (hidepid; here a fake /proc whose stat file for it is a directory): that
// is not "lost" (was: nothing collected, so lost, so ended).
TEST(TaskStatus, ATaskProcCannotShowHasNotEnded) {
  TempDir d("wd-ops");
  const Registry reg(d / "state" / "registry.json");
  ASSERT_TRUE(reg.ensure_dir());
  Child c({"sleep", "1000"});
  ASSERT_GT(c.pid(), 0);
  put(reg, record(reg, "hidden", TaskState::running, c.pid()));
  fs::create_directories(d / "proc" / std::to_string(c.pid()) / "stat");  // read(2): EISDIR
  {
    ProcRootForTesting fake(d / "proc");
    EXPECT_EQ(task_has_ended(reg, "hidden"), false);
  }
  EXPECT_EQ(task_has_ended(reg, "hidden"), false);
  c.signal(SIGKILL);
  ASSERT_TRUE(c.wait(30s));
  EXPECT_EQ(task_has_ended(reg, "hidden"), true);  // now lost: nothing runs
}

// `logs` reads the task's own log files, not the paths its record names,
// and follows no symbolic link planted at one.
TEST(TaskLogs, OpensTheTasksOwnLogsNotTheFilesItsRecordNames) {
  TempDir d("wd-ops");
  const Registry reg(d / "state" / "registry.json");
  ASSERT_TRUE(reg.ensure_dir());
  auto t = record(reg, "a", TaskState::exited);
  write_file(d / "secret", "not the task's\n");
  t.stdout_log = (d / "secret").string();  // an edited record
  t.stderr_log = (d / "secret").string();
  put(reg, t);
  write_file(reg.log_path("a", "stdout"), "mine\n");
  fs::create_symlink(d / "secret", reg.log_path("a", "stderr"));

  auto logs = open_task_logs(reg, "a");
  ASSERT_TRUE(logs) << logs.error().message;
  EXPECT_EQ(logs->stdout_path, reg.log_path("a", "stdout"));
  ASSERT_TRUE(logs->stdout_fd);
  char buf[64] = {};
  EXPECT_EQ(::read(logs->stdout_fd.get(), buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf), "mine\n");
  EXPECT_FALSE(logs->stderr_fd);  // the symbolic link is not followed

  auto missing = open_task_logs(reg, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().category, ErrorCategory::not_found);
}
