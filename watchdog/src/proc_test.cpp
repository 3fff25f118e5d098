// /proc facts task-watchdog reads through osl::proc (its cgroup layout tests
// moved to osl with the code: osl/src/cgroup/cgroup_layout_test.cpp).
#include "proc.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

using namespace airssys::watchdog;

namespace {
// Above PID_MAX_LIMIT (4194304 on 64-bit): no process ever has it.
constexpr pid_t kNoSuchPid = 4'194'305;
}  // namespace

TEST(Proc, ParseStat) {
  auto st = parse_proc_stat("42 (a b) c) S 1 42 42 0 -1 4194560 1 0 0 0 3 4 0 0 20 0 1 0 12345 1000 10");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->pid, 42);
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->pgrp, 42);
  EXPECT_EQ(st->cpu_ticks, 7U);
  EXPECT_EQ(st->start_time, 12345U);
  EXPECT_EQ(st->rss_pages, 10U);
  EXPECT_FALSE(parse_proc_stat("garbage"));
}

TEST(Proc, SelfIsAliveAndStartTimeChecked) {
  auto me = read_proc_stat(::getpid());
  ASSERT_TRUE(me);
  EXPECT_FALSE(process_gone(::getpid()));
  EXPECT_FALSE(process_gone(::getpid(), me->start_time));
  EXPECT_TRUE(process_gone(::getpid(), me->start_time + 1));
}

// "Gone" only when /proc says there is no such process; an entry that
// cannot be read (EACCES under hidepid, here a fake /proc whose stat file is a
// directory) is "cannot tell".
TEST(Proc, AnUnreadableEntryIsUnknownNotGone) {
  const auto root = std::filesystem::temp_directory_path() / ("wd-proc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root);
  std::filesystem::create_directories(root / "4242" / "stat");  // read(2): EISDIR
  std::string why;
  {
    ProcRootForTesting fake(root);
    EXPECT_EQ(process_presence(4242, std::nullopt, &why), Presence::unknown);
    EXPECT_NE(why.find("4242"), std::string::npos) << why;
    EXPECT_FALSE(process_gone(4242));
    // No entry, and no process can have the pid (above PID_MAX_LIMIT).
    EXPECT_EQ(process_presence(kNoSuchPid), Presence::gone);
    EXPECT_TRUE(process_gone(kNoSuchPid));
  }
  std::filesystem::remove_all(root);
  EXPECT_EQ(process_presence(::getpid()), Presence::running);
}

// Under hidepid=2 another user's /proc/PID does not exist for us (ENOENT)
// while the process runs: that is "cannot tell" too, not "gone". Here a fake
// /proc with no entry for a process that runs (this one).
TEST(Proc, AProcessProcHidesIsUnknownNotGone) {
  const auto root = std::filesystem::temp_directory_path() / ("wd-proc-hidden-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root);
  std::string why;
  {
    ProcRootForTesting fake(root);
    EXPECT_EQ(process_presence(::getpid(), std::nullopt, &why), Presence::unknown);
    EXPECT_NE(why.find(std::to_string(::getpid()) + " exists but /proc does not show it"), std::string::npos) << why;
    EXPECT_FALSE(process_gone(::getpid()));
    why.clear();
    EXPECT_FALSE(read_proc_stat(::getpid(), &why));
    EXPECT_FALSE(why.empty());
    why.clear();
    EXPECT_EQ(process_presence(kNoSuchPid, std::nullopt, &why), Presence::gone);
    EXPECT_TRUE(why.empty()) << why;
  }
  std::filesystem::remove_all(root);
}
