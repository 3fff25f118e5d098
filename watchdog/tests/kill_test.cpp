// The headline: a task tree with setsid and double-forked children is fully
// killed at its deadline, with no daemon running — with a cgroup, and with
// the process-group fallback (TASK_WATCHDOG_NO_CGROUP=1).

#include "harness.hpp"

#include <airssys/osl/cgroup.hpp>

using namespace wdtest;

namespace {

// Each process of the tree writes its pid to $D/p.<name>.
constexpr const char* kTree = R"(
echo $$ > "$D/p.leader"
setsid sh -c 'echo $$ > "$D/p.setsid"; exec sleep 1000' &
sh -c 'sleep 1000 & echo $! > "$D/p.dfork"' &
setsid sh -c 'sleep 1000 & echo $! > "$D/p.setsid_dfork"' &
sh -c 'trap "" TERM; echo $$ > "$D/p.ignores_term"; while :; do sleep 1; done' &
sleep 1000 & echo $! > "$D/p.child"
wait
)";
const char* const kNames[] = {"leader", "setsid", "dfork", "setsid_dfork", "ignores_term", "child"};

std::optional<pid_t> read_pid(const fs::path& p) {
  const std::string s = slurp(p);
  if (s.empty() || s.back() != '\n') return std::nullopt;
  return static_cast<pid_t>(std::stol(s));
}

void kill_tree_at_deadline(const std::vector<std::string>& env, const std::string& expect_containment) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "state" / "registry.json";
  const auto pids_dir = d.path / "pids";
  fs::create_directories(pids_dir);
  auto r = run(d.path, {"start", "--registry", reg.string(), "--id", "tree", "--timeout", "8s", "--grace", "1s", "--env",
                        "D=" + pids_dir.string(), "--", "/bin/sh", "-c", kTree},
               env);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "tree\n");

  std::vector<pid_t> pids;
  ASSERT_TRUE(eventually([&] {
    pids.clear();
    for (const char* n : kNames) {
      if (auto p = read_pid(pids_dir / (std::string("p.") + n))) pids.push_back(*p);
    }
    return pids.size() == std::size(kNames);
  }, 30s)) << "the task tree did not start";

  auto st = status_json(d.path, reg, "tree");
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["containment"]["kind"], expect_containment);
  if (expect_containment == "process-group") {
    EXPECT_NE((*st)["containment"]["note"], "");
  }

  // No daemon: the deadline is enforced by the task's own monitor.
  ASSERT_TRUE(eventually([&] { return terminal(d.path, reg, "tree"); }, 90s));
  st = status_json(d.path, reg, "tree");
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["state"], "timed_out");
  EXPECT_EQ((*st)["processes_alive"], 0);
  for (pid_t p : pids) EXPECT_TRUE(eventually([&] { return gone(p); }, 10s)) << "pid " << p << " survived";
  if (expect_containment == "cgroup2") {
    const std::string cg = (*st)["containment"]["cgroup"];
    EXPECT_TRUE(eventually([&] { return !fs::exists(cg); }, 10s)) << cg << " was not removed";
  }
}

// Where cgroup2 is mounted comes from osl's layout (mountinfo), as the watchdog itself finds it.
bool have_cgroup2() {
  const auto own = airssys::osl::cgroup::own_v2_dir(airssys::osl::cgroup::detect_layout());
  return own && fs::exists(*own / "cgroup.procs");
}

}  // namespace

TEST(Kill, TreeWithSetsidAndDoubleForksDiesAtDeadlineInCgroup) {
  if (!have_cgroup2() || ::geteuid() != 0) GTEST_SKIP() << "needs a writable cgroup v2 hierarchy";
  kill_tree_at_deadline({}, "cgroup2");
}

TEST(Kill, TreeWithSetsidAndDoubleForksDiesAtDeadlineWithoutCgroup) {
  kill_tree_at_deadline({"TASK_WATCHDOG_NO_CGROUP=1"}, "process-group");
}

TEST(Kill, KillCommandKillsTheWholeTree) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  const auto pids_dir = d.path / "pids";
  fs::create_directories(pids_dir);
  auto r = run(d.path, {"start", "--registry", reg.string(), "--id", "k", "--grace", "1s", "--env",
                        "D=" + pids_dir.string(), "--", "/bin/sh", "-c", kTree});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<pid_t> pids;
  ASSERT_TRUE(eventually([&] {
    pids.clear();
    for (const char* n : kNames) {
      if (auto p = read_pid(pids_dir / (std::string("p.") + n))) pids.push_back(*p);
    }
    return pids.size() == std::size(kNames);
  }, 30s));
  r = run(d.path, {"kill", "k", "--registry", reg.string()});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 left"), std::string::npos) << r.out;
  for (pid_t p : pids) EXPECT_TRUE(eventually([&] { return gone(p); }, 10s)) << "pid " << p << " survived";
  ASSERT_TRUE(eventually([&] { return terminal(d.path, reg, "k"); }, 60s));
  EXPECT_TRUE(state_is(d.path, reg, "k", "killed"));
}
