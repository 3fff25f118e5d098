// Every kill is audited: the SIGKILL a Process handle sends by itself — its
// deadline passing in wait()/communicate(), or the handle being dropped with
// the child running — leaves a process.kill record like an explicit kill.
// Real children; the records are read back from a real audit file.

#include <sys/wait.h>

#include <csignal>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using namespace std::chrono_literals;
using test::TempDir;
using nlohmann::json;

class KillAudit : public ::testing::Test {
 protected:
  void SetUp() override {
    log = dir / "audit.jsonl";
    auto sink = make_file_sink({.path = log});
    ASSERT_TRUE(sink) << sink.error().to_string();
    SystemOptions o;
    // alice may spawn, signal and kill; bob may only spawn: the implied kill
    // needs no permission of its own.
    o.policy = test::policy_from(R"(
version: 1
rules:
  - id: alice-procs
    effect: allow
    principals: [alice]
    operations: ["process.*"]
    resources: ["/usr/bin/**", "/bin/**"]
  - id: bob-spawn
    effect: allow
    principals: [bob]
    operations: [process.spawn]
    resources: ["/usr/bin/**", "/bin/**"]
)");
    o.audit.sinks.push_back(std::shared_ptr<ActivitySink>(std::move(*sink)));
    sys = std::make_unique<System>(std::move(o));
  }

  process::Process sleeper(const std::string& who, std::optional<std::chrono::milliseconds> deadline = std::nullopt,
                           bool piped = false) {
    process::Spawn s;
    s.argv = {"/bin/sleep", "30"};
    s.options.deadline = deadline;
    if (piped) s.options.stdout_ = process::Stdio::pipe();
    auto p = sys->run(who, s);
    EXPECT_TRUE(p) << p.error().to_string();
    return std::move(*p);
  }

  // The audit file's records (flushed first).
  std::vector<json> records() {
    EXPECT_TRUE(sys->flush_audit(10s));
    std::vector<json> out;
    std::istringstream in(test::read_file(log));
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  std::vector<json> kills() {
    std::vector<json> out;
    for (auto& r : records()) {
      if (r["op"] == "process.kill") out.push_back(r);
    }
    return out;
  }

  // The start and end record of the one process.kill, checked for the common shape.
  void expect_one_kill(pid_t pid, const std::string& principal, const std::string& reason) {
    const auto k = kills();
    ASSERT_EQ(k.size(), 2u) << "one start and one end record";
    EXPECT_EQ(k[0]["event"], "start");
    EXPECT_EQ(k[1]["event"], "end");
    EXPECT_EQ(k[0]["op_id"], k[1]["op_id"]);
    EXPECT_EQ(k[0]["principal"], principal);
    EXPECT_EQ(k[0]["resources"], json::array({"/usr/bin/sleep"}));
    EXPECT_EQ(k[0]["decision"], "allow");
    EXPECT_EQ(k[0]["detail"]["pid"], pid);
    EXPECT_EQ(k[0]["detail"]["signal"], SIGKILL);
    EXPECT_EQ(k[0]["detail"]["reason"], reason);
    EXPECT_EQ(k[1]["outcome"], "ok");
  }

  static bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

  TempDir dir;
  std::filesystem::path log;
  std::unique_ptr<System> sys;
};

TEST_F(KillAudit, DroppedHandleKillIsRecorded) {
  pid_t pid = 0;
  {
    auto p = sleeper("alice");
    pid = p.pid();
  }
  EXPECT_TRUE(gone(pid)) << "the dropped child is killed and reaped";
  expect_one_kill(pid, "alice", "handle_destroyed");
}

TEST_F(KillAudit, MoveAssignOverARunningChildRecordsItsKill) {
  auto p = sleeper("alice");
  const pid_t first = p.pid();
  p = sleeper("alice");
  EXPECT_TRUE(gone(first));
  expect_one_kill(first, "alice", "handle_destroyed");
  p.detach();
  ASSERT_TRUE(p.kill());  // explicit, so the second child does not outlive the test
}

TEST_F(KillAudit, DeadlineInWaitIsRecorded) {
  auto p = sleeper("alice", 100ms);
  auto st = p.wait();
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_TRUE(st->timed_out);
  EXPECT_EQ(st->signal, SIGKILL);
  expect_one_kill(p.pid(), "alice", "deadline");
}

TEST_F(KillAudit, DeadlineInCommunicateIsRecorded) {
  auto p = sleeper("alice", 100ms, /*piped=*/true);
  auto out = p.communicate();
  ASSERT_TRUE(out) << out.error().to_string();
  EXPECT_TRUE(out->status.timed_out);
  expect_one_kill(p.pid(), "alice", "deadline");
}

TEST_F(KillAudit, ImpliedKillNeedsNoKillPermissionButIsStillRecorded) {
  auto p = sleeper("bob", 100ms);
  auto st = p.wait();
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_TRUE(st->timed_out);
  expect_one_kill(p.pid(), "bob", "deadline");
  // An explicit kill by bob is still refused by the policy.
  auto q = sleeper("bob");
  auto k = q.kill();
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().category, ErrorCategory::denied);
}

TEST_F(KillAudit, AChildThatExitedByItselfIsNotKilled) {
  {
    process::Spawn s;
    s.argv = {"/bin/true"};
    auto p = sys->run("alice", s);
    ASSERT_TRUE(p) << p.error().to_string();
    // Let it exit without reaping it through the handle.
    siginfo_t info{};
    ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(p->pid()), &info, WEXITED | WNOWAIT), 0);
  }
  EXPECT_TRUE(kills().empty());
}

TEST_F(KillAudit, ExplicitKillKeepsItsShape) {
  auto p = sleeper("alice");
  ASSERT_TRUE(p.kill());
  auto st = p.wait();
  ASSERT_TRUE(st);
  const auto k = kills();
  ASSERT_EQ(k.size(), 2u);
  EXPECT_EQ(k[0]["rule"], "alice-procs");
  EXPECT_FALSE(k[0]["detail"].contains("reason"));
}

}  // namespace
}  // namespace airssys::osl
