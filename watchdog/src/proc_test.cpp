// /proc facts task-watchdog reads through osl::proc (its cgroup layout tests
// moved to osl with the code: osl/src/cgroup/cgroup_layout_test.cpp).
#include "proc.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

using namespace airssys::watchdog;

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
    EXPECT_EQ(process_presence(4243), Presence::gone);  // no entry at all
    EXPECT_TRUE(process_gone(4243));
  }
  std::filesystem::remove_all(root);
  EXPECT_EQ(process_presence(::getpid()), Presence::running);
}
