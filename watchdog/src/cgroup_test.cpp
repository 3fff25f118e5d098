#include <airssys/watchdog/cgroup.hpp>
#include <airssys/watchdog/proc.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

using namespace airssys::watchdog;

TEST(Cgroup, HybridLayout) {
  const char* mountinfo =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "36 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "37 31 0:37 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  const char* self = "4:memory:/process_api/e0b8\n1:cpu:/\n0::/\n";
  const auto l = parse_cgroup_layout(mountinfo, self);
  ASSERT_TRUE(l.v2_mount);
  EXPECT_EQ(*l.v2_mount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(l.v2_self, "/");
  EXPECT_EQ(l.v1_mounts.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.v1_mounts.at("pids"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(l.v1_mounts.at("freezer"), "/sys/fs/cgroup/freezer");
  EXPECT_EQ(l.v1_self.at("memory"), "/process_api/e0b8");
}

TEST(Cgroup, PureV2Layout) {
  const char* mountinfo =
      "25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
  const auto l = parse_cgroup_layout(mountinfo, "0::/user.slice/user-1000.slice/session-2.scope\n");
  ASSERT_TRUE(l.v2_mount);
  EXPECT_EQ(*l.v2_mount, "/sys/fs/cgroup");
  EXPECT_EQ(l.v2_self, "/user.slice/user-1000.slice/session-2.scope");
  EXPECT_TRUE(l.v1_mounts.empty());
}

TEST(Cgroup, NoCgroups) {
  const auto l = parse_cgroup_layout("22 1 0:5 / /proc rw - proc proc rw\n", "");
  EXPECT_FALSE(l.v2_mount);
  auto dir = create_task_cgroup(l, "x", 1);
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().find("no cgroup v2"), std::string::npos);
}

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
