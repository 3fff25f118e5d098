// create_task_cgroups against fake cgroup roots (plain directories holding
// the control files a real cgroupfs would show), so the pure-v2 path is
// tested on this hybrid machine too. The real hybrid path is tested end to
// end in tests/limits_test.cpp.
#include "task_cgroups.hpp"

#include <airssys/osl/system.hpp>

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace airssys::watchdog;
namespace osl = airssys::osl;
namespace fs = std::filesystem;

namespace {

struct FakeRoot {
  fs::path path;
  FakeRoot() {
    std::string tmpl = (fs::temp_directory_path() / "wd-cg-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~FakeRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void put(const fs::path& p, const std::string& text = "") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string get(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The cgroup operations go through osl: a System whose policy lets "t"
// manage any cgroup (the fake roots live in a temp dir).
osl::System& sys() {
  static osl::System system([] {
    osl::SystemOptions o;
    o.policy = *osl::Policy::parse(R"(
version: 1
rules:
  - {id: any-cgroup, effect: allow, principals: [t], operations: ["cgroup.*"]}
)", "test");
    return o;
  }());
  return system;
}

// A task cgroup directory as the kernel would create it.
void task_dir(const fs::path& dir, std::initializer_list<const char*> files) {
  put(dir / "cgroup.procs");
  for (const char* f : files) put(dir / f, "max");
}

}  // namespace

TEST(TaskCgroups, PureV2WritesMaxFilesAndEnablesControllers) {
  FakeRoot r;
  const auto mountinfo = "25 30 0:23 / " + r.path.string() + " rw - cgroup2 cgroup2 rw\n";
  const auto layout = osl::cgroup::parse_layout(mountinfo, "0::/svc\n");
  EXPECT_EQ(osl::cgroup::layout_name(layout), "cgroup2");
  const auto own = r.path / "svc";
  put(own / "cgroup.controllers", "cpuset cpu io memory pids\n");
  put(own / "cgroup.subtree_control");
  put(own / "task-watchdog" / "cgroup.subtree_control");
  const auto dir = own / "task-watchdog" / "job-42";
  task_dir(dir, {"memory.max", "memory.swap.max", "cpu.max", "pids.max"});

  Limits l;
  l.memory_bytes = 64ULL << 20;
  l.cpus = 1.5;
  l.pids = 10;
  auto cg = create_task_cgroups(sys(), "t", layout, "job", 42, l);
  ASSERT_TRUE(cg) << cg.error();
  ASSERT_TRUE(cg->v2);
  EXPECT_EQ(*cg->v2, dir);
  EXPECT_TRUE(cg->v1.empty());
  EXPECT_EQ(get(dir / "memory.max"), "67108864");
  EXPECT_EQ(get(dir / "memory.swap.max"), "0");
  EXPECT_EQ(get(dir / "cpu.max"), "150000 100000");
  EXPECT_EQ(get(dir / "pids.max"), "10");
  EXPECT_EQ(get(own / "cgroup.subtree_control"), "+memory +cpu +pids");
  EXPECT_EQ(get(own / "task-watchdog" / "cgroup.subtree_control"), "+memory +cpu +pids");
  EXPECT_EQ(cg->dirs(), std::vector<fs::path>{dir});
}

TEST(TaskCgroups, PureV2WithoutTheControllerFailsClearly) {
  FakeRoot r;
  const auto layout = osl::cgroup::parse_layout("25 30 0:23 / " + r.path.string() + " rw - cgroup2 cgroup2 rw\n", "0::/\n");
  put(r.path / "cgroup.controllers", "cpu io\n");
  put(r.path / "cgroup.subtree_control");
  task_dir(r.path / "task-watchdog" / "job-7", {"cpu.max"});
  Limits l;
  l.memory_bytes = 64ULL << 20;
  auto cg = create_task_cgroups(sys(), "t", layout, "job", 7, l);
  ASSERT_FALSE(cg);
  EXPECT_NE(cg.error().find("--memory"), std::string::npos) << cg.error();
  EXPECT_NE(cg.error().find("no memory controller"), std::string::npos) << cg.error();
}

TEST(TaskCgroups, HybridPutsLimitsInV1Hierarchies) {
  FakeRoot r;
  const auto p = r.path.string();
  const auto mountinfo = "31 30 0:28 / " + p + "/cpu rw - cgroup cgroup rw,cpu\n" +
                         "34 30 0:31 / " + p + "/memory rw - cgroup cgroup rw,memory\n" +
                         "38 30 0:35 / " + p + "/pids rw - cgroup cgroup rw,pids\n" +
                         "40 30 0:37 / " + p + "/unified rw - cgroup2 cgroup2 rw\n";
  const auto layout = osl::cgroup::parse_layout(mountinfo, "8:pids:/\n4:memory:/box/1\n1:cpu:/\n0::/\n");
  EXPECT_EQ(osl::cgroup::layout_name(layout), "hybrid");
  put(r.path / "unified" / "cgroup.controllers", "hugetlb\n");
  task_dir(r.path / "unified" / "task-watchdog" / "t-9", {});
  const auto mem = r.path / "memory" / "box" / "1" / "task-watchdog" / "t-9";
  task_dir(mem, {"memory.limit_in_bytes"});  // no memsw file: swap not accounted, skipped
  const auto cpu = r.path / "cpu" / "task-watchdog" / "t-9";
  task_dir(cpu, {"cpu.cfs_period_us", "cpu.cfs_quota_us"});
  const auto pids = r.path / "pids" / "task-watchdog" / "t-9";
  task_dir(pids, {"pids.max"});

  Limits l;
  l.memory_bytes = 32ULL << 20;
  l.cpus = 0.25;
  l.pids = 5;
  auto cg = create_task_cgroups(sys(), "t", layout, "t", 9, l);
  ASSERT_TRUE(cg) << cg.error();
  ASSERT_TRUE(cg->v2);
  EXPECT_EQ(cg->v1.at("memory"), mem);
  EXPECT_EQ(get(mem / "memory.limit_in_bytes"), "33554432");
  EXPECT_FALSE(fs::exists(mem / "memory.memsw.limit_in_bytes"));
  EXPECT_EQ(get(cpu / "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(get(cpu / "cpu.cfs_quota_us"), "25000");
  EXPECT_EQ(get(pids / "pids.max"), "5");
  EXPECT_EQ(cg->dirs().size(), 4u);
}

TEST(TaskCgroups, HybridWithoutLimitsStillJoinsV1MemoryForAccounting) {
  FakeRoot r;
  const auto p = r.path.string();
  const auto layout = osl::cgroup::parse_layout("34 30 0:31 / " + p + "/memory rw - cgroup cgroup rw,memory\n" +
                                              "40 30 0:37 / " + p + "/unified rw - cgroup2 cgroup2 rw\n",
                                          "4:memory:/\n0::/\n");
  task_dir(r.path / "unified" / "task-watchdog" / "t-3", {});
  task_dir(r.path / "memory" / "task-watchdog" / "t-3", {});
  auto cg = create_task_cgroups(sys(), "t", layout, "t", 3, Limits{});
  ASSERT_TRUE(cg) << cg.error();
  EXPECT_EQ(cg->v1.size(), 1u);
  EXPECT_TRUE(cg->v1.contains("memory"));
}

TEST(TaskCgroups, ADisabledCgroupRefusesLimitsButNotPlainTasks) {
  ::setenv("TASK_WATCHDOG_NO_CGROUP", "1", 1);
  const auto layout = osl::cgroup::parse_layout("", "");
  auto plain = create_task_cgroups(sys(), "t", layout, "t", 1, Limits{});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->v2);
  EXPECT_NE(plain->v2_error.find("TASK_WATCHDOG_NO_CGROUP"), std::string::npos);
  Limits l;
  l.pids = 3;
  auto limited = create_task_cgroups(sys(), "t", layout, "t", 1, l);
  ASSERT_FALSE(limited);
  EXPECT_NE(limited.error().find("cannot apply limits"), std::string::npos);
  ::unsetenv("TASK_WATCHDOG_NO_CGROUP");
}

TEST(TaskCgroups, MountRootIsStrippedFromOwnPath) {
  // In a container the v1 mount root is the container's cgroup itself.
  const auto layout = osl::cgroup::parse_layout("34 30 0:31 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
                                          "4:memory:/docker/abc/sub\n");
  EXPECT_EQ(*osl::cgroup::own_v1_dir(layout, "memory"), fs::path("/sys/fs/cgroup/memory/sub"));
  EXPECT_FALSE(osl::cgroup::own_v1_dir(layout, "pids"));
}

TEST(TaskCgroups, CpuMaxLine) {
  EXPECT_EQ(cpu_max_line(0.5), "50000 100000");
  EXPECT_EQ(cpu_max_line(2), "200000 100000");
  EXPECT_EQ(cpu_max_line(0.001), "1000 100000");  // the kernel's minimum quota
}

TEST(TaskCgroups, NoCgroupHierarchyFallsBackWithTheReason) {
  const auto layout = osl::cgroup::parse_layout("22 1 0:5 / /proc rw - proc proc rw\n", "");
  auto plain = create_task_cgroups(sys(), "t", layout, "x", 1, Limits{});
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_FALSE(plain->v2);
  EXPECT_NE(plain->v2_error.find("no cgroup v2"), std::string::npos) << plain->v2_error;
  Limits l;
  l.pids = 3;
  auto limited = create_task_cgroups(sys(), "t", layout, "x", 1, l);
  ASSERT_FALSE(limited);
  EXPECT_NE(limited.error().find("--pids"), std::string::npos) << limited.error();
}
