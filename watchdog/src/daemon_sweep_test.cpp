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
      TaskRecord t;
      t.id = "hidden";
      t.argv = {"sleep", "1000"};
      t.created_ms = now_ms() - 10'000;
      t.deadline_ms = now_ms() - 1'000;  // passed
      t.state = TaskState::running;
      t.grace_ms = 100;
      t.containment.kind = ContainmentKind::process_group;
      t.pid = c.pid();
      t.pid_start_time = read_proc_stat(c.pid()).value_or(ProcStat{}).start_time;
      ASSERT_GT(*t.pid_start_time, 0u);
      if (in_cgroup) {  // a directory whose cgroup.procs names the child, as the kernel's would
        const auto cg = d / "cgroup" / "hidden-1";
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
    }
  }
}
