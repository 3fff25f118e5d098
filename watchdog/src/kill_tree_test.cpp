// wait_gone (kill_tree.hpp) with real processes, and with a fake /proc that
// cannot show one.
#include "kill_tree.hpp"

#include "proc.hpp"

#include <airssys/testing/child.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>

using namespace airssys::watchdog;
using airssys::testing::Child;
using airssys::testing::TempDir;
using namespace std::chrono_literals;

namespace {

Pid pid_of(const Child& c) {
  const auto st = read_proc_stat(c.pid());
  EXPECT_TRUE(st);
  return Pid{c.pid(), st ? st->start_time : 0};
}

}  // namespace

TEST(WaitGone, CountsTheLiveAndNotTheEnded) {
  Child running({"sleep", "1000"});
  Child ended({"true"});
  ASSERT_GT(running.pid(), 0);
  ASSERT_GT(ended.pid(), 0);
  const Pid live = pid_of(running);
  const Pid done{ended.pid(), 0};
  ASSERT_TRUE(ended.wait(30s));  // reaped: its pid is free
  const auto w = wait_gone({live, done}, 100ms);
  EXPECT_EQ(w.alive, 1U);  // `sleep 1000` outlives 100 ms
  EXPECT_EQ(w.unverified, 0U);
  // A pid that now belongs to another process (other start time) is not waited for.
  const auto other = wait_gone({Pid{live.pid, live.start_time + 1}}, 30s);
  EXPECT_EQ(other.alive, 0U);
  EXPECT_EQ(other.unverified, 0U);
  running.signal(SIGKILL);
  ASSERT_TRUE(running.wait(30s));
}

// A process /proc cannot show (hidepid; here a fake /proc whose stat file
// for it is a directory) is not waited for: it is unverified, not alive
// (was: waited for until the timeout, then counted alive).
TEST(WaitGone, AProcessProcCannotShowIsUnverifiedNotWaitedFor) {
  TempDir d("wd-wait-gone");
  Child c({"sleep", "1000"});
  ASSERT_GT(c.pid(), 0);
  const Pid p = pid_of(c);
  std::filesystem::create_directories(d / "proc" / std::to_string(c.pid()) / "stat");  // read(2): EISDIR
  {
    ProcRootForTesting fake(d / "proc");
    const auto w = wait_gone({p}, 5s);
    EXPECT_EQ(w.alive, 0U);
    EXPECT_EQ(w.unverified, 1U);
  }
  EXPECT_FALSE(c.exited());  // nothing signalled it
  c.signal(SIGKILL);
  ASSERT_TRUE(c.wait(30s));
}
