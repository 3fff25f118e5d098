// --memory, --cpus, --pids on the real cgroups of this machine (hybrid: the
// limits live in v1 hierarchies; pure v2 is covered with fake roots in
// src/task_cgroups_test.cpp). Real processes, real limits.

#include "harness.hpp"

using namespace wdtest;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The directory of the task's cgroup that holds `controller`'s limit: the v2
// cgroup when the controller is delegated there, else the v1 one.
fs::path limit_dir(const nlohmann::json& st, const std::string& controller, const std::string& v2_file) {
  const auto& c = st["containment"];
  if (c.contains("v1") && c["v1"].contains(controller)) return c["v1"][controller].get<std::string>();
  const fs::path v2 = c["cgroup"].get<std::string>();
  return fs::exists(v2 / v2_file) ? v2 : fs::path();
}

}  // namespace

TEST(Limits, LimitFilesReadBackAndStatusShowsThemAndTheUsage) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "registry.json";
  auto r = run(d.path, {"start", "--registry", reg.string(), "--id", "lim", "--memory", "64M", "--cpus", "0.5", "--pids", "16",
                        "--grace", "1s", "--", "/bin/sh", "-c", "while :; do :; done"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto st = status_json(d.path, reg, "lim");
  ASSERT_TRUE(st && !st->is_discarded());
  EXPECT_EQ((*st)["limits"]["memory_bytes"], 64ULL << 20);
  EXPECT_EQ((*st)["limits"]["cpus"], 0.5);
  EXPECT_EQ((*st)["limits"]["pids"], 16);

  const auto mem = limit_dir(*st, "memory", "memory.max");
  ASSERT_FALSE(mem.empty()) << st->dump();
  if (fs::exists(mem / "memory.limit_in_bytes")) {
    EXPECT_EQ(trim(slurp(mem / "memory.limit_in_bytes")), std::to_string(64ULL << 20));
  } else {
    EXPECT_EQ(trim(slurp(mem / "memory.max")), std::to_string(64ULL << 20));
  }
  const auto cpu = limit_dir(*st, "cpu", "cpu.max");
  ASSERT_FALSE(cpu.empty());
  if (fs::exists(cpu / "cpu.cfs_quota_us")) {
    EXPECT_EQ(trim(slurp(cpu / "cpu.cfs_quota_us")), "50000");
    EXPECT_EQ(trim(slurp(cpu / "cpu.cfs_period_us")), "100000");
  } else {
    EXPECT_EQ(trim(slurp(cpu / "cpu.max")), "50000 100000");
  }
  const auto pids = limit_dir(*st, "pids", "pids.max");
  ASSERT_FALSE(pids.empty());
  EXPECT_EQ(trim(slurp(pids / "pids.max")), "16");

  // Usage of the whole task: the busy loop is capped near 50 %, so only
  // bounds a busy machine cannot break are asserted.
  ASSERT_TRUE((*st)["cpu_percent"].is_number());
  EXPECT_LE((*st)["cpu_percent"].get<double>(), 80.0);
  EXPECT_GT((*st)["memory_bytes"].get<std::uint64_t>(), 0u);
  if (fs::exists(mem / "memory.usage_in_bytes")) {
    EXPECT_EQ((*st)["memory_source"], "memory.usage_in_bytes");
  }

  r = run(d.path, {"status", "lim", "--registry", reg.string()});
  EXPECT_NE(r.out.find("limits:      memory 64.0 MiB, cpus 0.5, pids 16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cpu:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory:"), std::string::npos) << r.out;

  r = run(d.path, {"kill", "lim", "--registry", reg.string()});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  // Every cgroup of the task is removed once it has ended.
  ASSERT_TRUE(eventually([&] { return !fs::exists(mem) && !fs::exists(cpu) && !fs::exists(pids); }, 30s))
      << mem << " " << cpu << " " << pids;
}

TEST(Limits, MemoryLimitKillsAnAllocatorThatExceedsIt) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  // tail -n 1 keeps the whole newline-free line in memory: ~200 MB.
  const std::string hog = "head -c 200M /dev/zero | tail -n 1 >/dev/null";
  auto r = run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "hog", "--memory", "32M", "--", "/bin/sh", "-c", hog});
  EXPECT_EQ(r.rc, 128 + SIGKILL) << r.err;  // sh reports its OOM-killed pipeline as 137
  // The same without a limit succeeds, so the limit is what killed it.
  r = run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "free", "--", "/bin/sh", "-c", hog});
  EXPECT_EQ(r.rc, 0) << r.err;
}

TEST(Limits, PidsLimitMakesForkFailBeyondIt) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  const std::string forks = "n=0; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & n=$((n+1)); done; echo started $n; wait";
  auto r = run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "forks", "--pids", "4", "--", "/bin/sh", "-c", forks});
  EXPECT_NE(r.rc, 0);
  r = run(d.path, {"logs", "forks", "--registry", reg.string()});
  EXPECT_EQ(r.out.find("started 10"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("fork"), std::string::npos) << r.err;
}

TEST(Limits, ALimitThatCannotBeAppliedFailsTheStart) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  auto r = run(d.path, {"start", "--registry", reg.string(), "--id", "nolim", "--memory", "64M", "--", "sleep", "100"},
               {"TASK_WATCHDOG_NO_CGROUP=1"});
  EXPECT_EQ(r.rc, 6) << r.err;
  EXPECT_NE(r.err.find("cannot apply limits"), std::string::npos) << r.err;
  EXPECT_TRUE(state_is(d.path, reg, "nolim", "failed"));
  r = run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "nolim2", "--pids", "3", "--", "true"},
          {"TASK_WATCHDOG_NO_CGROUP=1"});
  EXPECT_EQ(r.rc, 125) << r.err;
  // Bad values are usage errors.
  EXPECT_EQ(run(d.path, {"start", "--registry", reg.string(), "--id", "x", "--cpus", "0", "--", "true"}).rc, 2);
  EXPECT_EQ(run(d.path, {"start", "--registry", reg.string(), "--id", "x", "--memory", "lots", "--", "true"}).rc, 2);
  EXPECT_EQ(run(d.path, {"start", "--registry", reg.string(), "--id", "x", "--pids", "-1", "--", "true"}).rc, 2);
}
