// /proc facts task-watchdog reads through osl::proc (its cgroup layout tests
// moved to osl with the code: osl/src/cgroup/cgroup_layout_test.cpp).
#include "proc.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

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
