// The daemon's sweep (`task-watchdog run`) over a live task whose monitor
// is gone and whose processes /proc cannot show (hidepid): it neither kills
// the task nor records it ended; it keeps the record live and looks again at
// the next sweep. Once /proc shows nothing runs, the record is ended. A fake
// /proc (ProcRootForTesting) stands in for hidepid=1 (an unreadable stat
// file) and hidepid=2 (no entry for a pid kill(pid, 0) knows); real child
// processes, a real registry.

#include <airssys/testing/child.hpp>
#include <airssys/testing/temp_dir.hpp>
#include <airssys/watchdog/daemon.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/runner.hpp>

#include "proc.hpp"
#include "task_test_support.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>

using namespace airssys::watchdog;
using airssys::testing::Child;
using airssys::testing::TempDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using test::now_ms;

bool mentions(const SweepReport& r, const std::string& what) {
  for (const auto& a : r.actions) {
    if (a.find(what) != std::string::npos) return true;
  }
  return false;
}

// A live task past its deadline; no monitor recorded.
TaskRecord past_deadline(const std::string& id) {
  TaskRecord t;
  t.id = id;
  t.argv = {"sleep", "1000"};
  t.created_ms = now_ms() - 10'000;
  t.deadline_ms = now_ms() - 1'000;  // passed
  t.state = TaskState::running;
  t.grace_ms = 100;
  t.containment.kind = ContainmentKind::process_group;
  return t;
}

}  // namespace

// A task past its deadline, its monitor gone, its one process hidden:
// left running (not killed: nothing could be verified; not exited: it may
// run), for hidepid=1 and =2. With a cgroup that lists it, it is known to
// run and is killed through the cgroup (watchdog.daemon
// KillsATaskProcHidesThroughItsCgroupAtItsDeadline, with a real cgroup and
// hidepid); this stand-in directory is not below /sys/fs/cgroup, so the
// built-in policy refuses that kill: the record stays live, noting the
// survivor, and the process runs on.
TEST(DaemonSweep, ATaskProcCannotShowIsLeftLiveAndNotKilled) {
  for (const bool unreadable : {true, false}) {
    for (const bool in_cgroup : {false, true}) {
      SCOPED_TRACE(std::string(unreadable ? "unreadable" : "no entry") + (in_cgroup ? ", in a cgroup" : ""));
      TempDir d("wd-sweep");
      const Registry reg(d / "state" / "registry.json");
      ASSERT_TRUE(reg.ensure_dir());
      auto system = make_system({}, reg.dir());
      ASSERT_TRUE(system) << system.error().message;
      Child c({"sleep", "1000"});
      ASSERT_GT(c.pid(), 0);
      TaskRecord t = past_deadline("hidden");
      t.pid = c.pid();
      t.pid_start_time = read_proc_stat(c.pid()).value_or(ProcStat{}).start_time;
      ASSERT_GT(*t.pid_start_time, 0u);
      if (in_cgroup) {  // a directory whose cgroup.procs names the child, as the kernel's would
        const auto cg = d / "cgroup" / "task-watchdog" / "hidden-1";
        fs::create_directories(cg);
        std::ofstream(cg / "cgroup.procs") << c.pid() << "\n";
        t.containment.kind = ContainmentKind::cgroup2;
        t.containment.cgroup = cg.string();
      }
      ASSERT_TRUE(reg.update([&](RegistryData& data) -> std::expected<void, Error> {
        data.tasks.insert_or_assign(t.id, t);
        return {};
      }));
      {
        fs::create_directories(d / "proc");
        if (unreadable) fs::create_directories(d / "proc" / std::to_string(c.pid()) / "stat");  // read(2): EISDIR
        ProcRootForTesting fake(d / "proc");
        auto r = sweep_registry(reg, *system, current_principal(), 200ms);
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_TRUE(mentions(*r, in_cgroup ? "killed 1 process(es), 1 left; retrying at the next sweep" : "cannot tell whether its processes run"))
            << (r->actions.empty() ? "" : r->actions[0]);
      }
      auto data = reg.load();
      ASSERT_TRUE(data);
      EXPECT_EQ(data->tasks.at("hidden").state, TaskState::running);
      if (in_cgroup) {  // the survivor is noted apart: nothing was killed after the main process ended
        EXPECT_FALSE(data->tasks.at("hidden").leftover_processes) << *data->tasks.at("hidden").leftover_processes;
        EXPECT_EQ(data->tasks.at("hidden").extra["deadline_kill_unfinished"], "1");
      }
      // exited() reaps: a killed child would be a zombie, which kill(pid, 0) still finds.
      EXPECT_FALSE(c.exited()) << "the hidden process was killed";
      // The real /proc, the process gone: now the sweep ends the record.
      c.signal(SIGKILL);
      ASSERT_TRUE(c.wait(30s));
      if (in_cgroup) std::ofstream(d / "cgroup" / "hidden-1" / "cgroup.procs") << "";
      auto r = sweep_registry(reg, *system, current_principal());
      ASSERT_TRUE(r) << r.error().message;
      data = reg.load();
      ASSERT_TRUE(data);
      EXPECT_TRUE(is_terminal(data->tasks.at("hidden").state)) << to_string(data->tasks.at("hidden").state);
      if (in_cgroup) {  // its kill at the deadline is done: timed_out, the note gone
        EXPECT_EQ(data->tasks.at("hidden").state, TaskState::timed_out);
        EXPECT_FALSE(data->tasks.at("hidden").leftover_processes);
        EXPECT_FALSE(data->tasks.at("hidden").extra.contains("deadline_kill_unfinished"));
      }
    }
  }
}

// An older daemon noted what its kill at the deadline left in
// leftover_processes, on the live record. The sweep that finds nothing left
// records timed_out and drops that count: `status` and `stats` read
// leftover_processes as processes killed after the main process ended.
TEST(DaemonSweep, AnOlderDaemonsUnfinishedKillEndsTimedOutWithoutLeftovers) {
  TempDir d("wd-sweep");
  const Registry reg(d / "state" / "registry.json");
  ASSERT_TRUE(reg.ensure_dir());
  auto system = make_system({}, reg.dir());
  ASSERT_TRUE(system) << system.error().message;
  TaskRecord t = past_deadline("older");
  t.leftover_processes = 3;
  t.error = "deadline passed and the monitor is gone: 3 process(es) survived `task-watchdog run`'s kill; retried at every sweep";
  ASSERT_TRUE(reg.update([&](RegistryData& data) -> std::expected<void, Error> {
    data.tasks.insert_or_assign(t.id, t);
    return {};
  }));
  auto r = sweep_registry(reg, *system, current_principal(), 200ms);
  ASSERT_TRUE(r) << r.error().message;
  const auto data = reg.load();
  ASSERT_TRUE(data);
  const auto& rec = data->tasks.at("older");
  EXPECT_EQ(rec.state, TaskState::timed_out);
  EXPECT_FALSE(rec.leftover_processes) << *rec.leftover_processes;
}
