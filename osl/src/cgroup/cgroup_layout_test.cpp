// Layout detection from mountinfo / self-cgroup text (moved here with the
// code from task-watchdog's cgroup_test.cpp), and cpu.max.
#include <airssys/osl/cgroup.hpp>

#include <gtest/gtest.h>

using namespace airssys::osl::cgroup;

TEST(CgroupLayout, Hybrid) {
  const char* mountinfo =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "36 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "37 31 0:37 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  const char* self = "4:memory:/process_api/e0b8\n1:cpu:/\n0::/\n";
  const auto l = parse_layout(mountinfo, self);
  ASSERT_TRUE(l.v2_mount);
  EXPECT_EQ(*l.v2_mount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(l.v2_self, "/");
  EXPECT_EQ(l.v1_mounts.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.v1_mounts.at("pids"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(l.v1_mounts.at("freezer"), "/sys/fs/cgroup/freezer");
  EXPECT_EQ(l.v1_self.at("memory"), "/process_api/e0b8");
  EXPECT_EQ(layout_name(l), "hybrid");
  EXPECT_EQ(*own_v1_dir(l, "memory"), "/sys/fs/cgroup/memory/process_api/e0b8");
  EXPECT_EQ(*own_v2_dir(l), "/sys/fs/cgroup/unified");
}

TEST(CgroupLayout, PureV2) {
  const char* mountinfo =
      "25 30 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
  const auto l = parse_layout(mountinfo, "0::/user.slice/user-1000.slice/session-2.scope\n");
  ASSERT_TRUE(l.v2_mount);
  EXPECT_EQ(*l.v2_mount, "/sys/fs/cgroup");
  EXPECT_EQ(l.v2_self, "/user.slice/user-1000.slice/session-2.scope");
  EXPECT_TRUE(l.v1_mounts.empty());
  EXPECT_EQ(layout_name(l), "cgroup2");
}

TEST(CgroupLayout, NoCgroups) {
  const auto l = parse_layout("22 1 0:5 / /proc rw - proc proc rw\n", "");
  EXPECT_FALSE(l.v2_mount);
  EXPECT_FALSE(own_v2_dir(l));
  EXPECT_EQ(layout_name(l), "none");
}

TEST(CgroupLayout, MountRootIsStrippedFromOwnPath) {
  // In a container the v1 mount root is the container's cgroup itself.
  const auto l = parse_layout("34 30 0:31 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
                              "4:memory:/docker/abc/sub\n");
  EXPECT_EQ(*own_v1_dir(l, "memory"), std::filesystem::path("/sys/fs/cgroup/memory/sub"));
  EXPECT_FALSE(own_v1_dir(l, "pids"));
  EXPECT_EQ(layout_name(l), "cgroup1");
}

TEST(CgroupLayout, EscapedMountPointAndDotDotOwnPath) {
  const auto l = parse_layout("40 30 0:37 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n", "0::/../escape\n");
  ASSERT_TRUE(l.v2_mount);
  EXPECT_EQ(*l.v2_mount, "/mnt/cg two");
  EXPECT_FALSE(own_v2_dir(l)) << "a '..' in our own cgroup path must not be followed";
}

TEST(CgroupLayout, CpuMaxLine) {
  EXPECT_EQ(cpu_max_line(0.5), "50000 100000");
  EXPECT_EQ(cpu_max_line(2), "200000 100000");
  EXPECT_EQ(cpu_max_line(0.001), "1000 100000");  // the kernel's minimum quota
}
