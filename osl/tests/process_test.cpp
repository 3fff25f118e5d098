// process.spawn / signal / kill and util.exec, with real child processes.

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

class ProcessOps : public ::testing::Test {
 protected:
  void SetUp() override {
    sink = std::make_shared<test::RecordingSink>();
    sys = test::system_with(fmt::format(R"(
version: 1
tools:
  echo-tool: /bin/echo
  missing-tool: /nonexistent/tool
sandbox:
  system_paths: [/usr, /lib, /lib64, /bin]
rules:
  - id: spawn-bins
    effect: allow
    principals: ["alice"]
    operations: ["process.*"]
    resources: ["/usr/bin/**", "/bin/**"]
  - id: no-rm
    effect: deny
    principals: ["*"]
    operations: ["process.spawn"]
    resources: ["/usr/bin/rm", "/bin/rm"]
  - id: tools
    effect: allow
    principals: ["alice"]
    operations: ["util.exec"]
    resources: ["echo-tool", "missing-tool"]
  - id: files
    effect: allow
    principals: ["alice"]
    operations: ["fs.*"]
    resources: ["{0}/**"]
)", dir.str()), sink);
  }

  process::Options piped() {
    process::Options o;
    o.stdout_ = process::Stdio::pipe();
    o.stderr_ = process::Stdio::pipe();
    return o;
  }

  TempDir dir;
  std::shared_ptr<test::RecordingSink> sink;
  std::unique_ptr<System> sys;
};

TEST_F(ProcessOps, SpawnCapturesOutputAndExitCode) {
  auto p = sys->run("alice", process::Spawn{{"sh", "-c", "echo out; echo err >&2; exit 7"}, piped()});
  ASSERT_TRUE(p) << p.error().to_string();
  auto out = p->communicate();
  ASSERT_TRUE(out) << out.error().to_string();
  EXPECT_EQ(out->out, "out\n");
  EXPECT_EQ(out->err, "err\n");
  ASSERT_TRUE(out->status.code);
  EXPECT_EQ(*out->status.code, 7);
}

TEST_F(ProcessOps, StdinPipeAndEnvironment) {
  process::Options o = piped();
  o.stdin_ = process::Stdio::pipe();
  o.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "GREETING=hi"};
  o.extra_env = {"TASK_ID=t1"};
  auto p = sys->run("alice", process::Spawn{{"/bin/sh", "-c", "read x; echo \"$GREETING $TASK_ID $x\"; env | wc -l"}, o});
  ASSERT_TRUE(p) << p.error().to_string();
  auto out = p->communicate("world\n");
  ASSERT_TRUE(out);
  // Exactly the given environment (sh adds PWD, SHLVL and _ of its own).
  EXPECT_EQ(out->out.substr(0, out->out.find('\n')), "hi t1 world");
}

TEST_F(ProcessOps, CwdAndFileRedirection) {
  process::Options o;
  o.cwd = dir.path();
  o.stdout_ = process::Stdio::file(dir / "out.txt");
  auto p = sys->run("alice", process::Spawn{{"/bin/pwd"}, o});
  ASSERT_TRUE(p) << p.error().to_string();
  auto st = p->wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 0);
  EXPECT_EQ(test::read_file(dir / "out.txt"), dir.str() + "\n");
  // Redirecting output into a file the principal may not write is denied.
  process::Options bad;
  bad.stdout_ = process::Stdio::file("/etc/airssys-should-not-exist");
  auto d = sys->run("alice", process::Spawn{{"/bin/true"}, bad});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().category, ErrorCategory::denied);
  EXPECT_FALSE(std::filesystem::exists("/etc/airssys-should-not-exist"));
}

TEST_F(ProcessOps, DeniedProgramNeverRuns) {
  test::write_file(dir / "victim", "still here");
  auto p = sys->run("alice", process::Spawn{{"rm", "-f", (dir / "victim").string()}, {}});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().category, ErrorCategory::denied);
  EXPECT_NE(p.error().message.find("no-rm"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir / "victim"));
  // A program outside the allowed trees.
  auto q = sys->run("bob", process::Spawn{{"/bin/true"}, {}});
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().category, ErrorCategory::denied);
}

TEST_F(ProcessOps, MissingProgramIsNotFound) {
  auto p = sys->run("alice", process::Spawn{{"/usr/bin/airssys-no-such-program"}, {}});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().category, ErrorCategory::not_found);
  auto q = sys->run("alice", process::Spawn{{"airssys-no-such-program"}, {}});
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().category, ErrorCategory::not_found);
  auto e = sys->run("alice", process::Spawn{{}, {}});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().category, ErrorCategory::invalid_argument);
}

TEST_F(ProcessOps, DeadlineKillsTheChild) {
  process::Options o;
  o.deadline = 200ms;
  auto p = sys->run("alice", process::Spawn{{"/bin/sleep", "30"}, o});
  ASSERT_TRUE(p);
  auto st = p->wait();
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->timed_out);
  EXPECT_EQ(st->signal, SIGKILL);
}

TEST_F(ProcessOps, WaitTimeoutLeavesChildRunning) {
  auto p = sys->run("alice", process::Spawn{{"/bin/sleep", "30"}, {}});
  ASSERT_TRUE(p);
  auto st = p->wait(50ms);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().category, ErrorCategory::timeout);
  auto t = p->try_wait();
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->has_value());
  ASSERT_TRUE(p->signal(SIGTERM));
  auto done = p->wait();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->signal, SIGTERM);
  // Signalling an exited (reaped) child is an error, not a signal to a stranger.
  auto again = p->signal(SIGTERM);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().category, ErrorCategory::not_found);
}

TEST_F(ProcessOps, SignalAndKillByTargetCheckStartTime) {
  auto p = sys->run("alice", process::Spawn{{"/bin/sleep", "30"}, {}});
  ASSERT_TRUE(p);
  auto start = process::start_time_of(p->pid());
  ASSERT_TRUE(start);
  // A wrong start time means "not the process you meant": refused.
  auto wrong = sys->run("alice", process::Signal{{p->pid(), *start + 1}, SIGTERM});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().category, ErrorCategory::not_found);
  auto t = p->try_wait();
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->has_value()) << "the process must not have been signalled";
  auto k = sys->run("alice", process::Kill{{p->pid(), *start}});
  ASSERT_TRUE(k) << k.error().to_string();
  auto st = p->wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->signal, SIGKILL);
  auto gone = sys->run("alice", process::Kill{{p->pid(), *start}});
  ASSERT_FALSE(gone);
  auto invalid = sys->run("alice", process::Signal{{0, std::nullopt}, SIGTERM});
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().category, ErrorCategory::invalid_argument);
}

TEST_F(ProcessOps, GroupSignalsReachWhatTheChildStartedUntilItIsReaped) {
  const std::string pid_file = dir.str() + "/grandchild.pid";
  process::Options o;
  o.new_process_group = true;
  auto p = sys->run("alice", process::Spawn{{"/bin/sh", "-c", "/bin/sleep 30 & echo $! > \"$1\"; wait", "sh", pid_file}, o});
  ASSERT_TRUE(p) << p.error().to_string();
  pid_t grandchild = 0;
  for (int i = 0; i < 6000 && grandchild <= 0; ++i) {
    std::ifstream in(pid_file);
    if (!(in >> grandchild)) {
      grandchild = 0;
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_GT(grandchild, 0);
  const int gfd = static_cast<int>(::syscall(SYS_pidfd_open, grandchild, 0));
  ASSERT_GE(gfd, 0);
  auto k = p->kill_group();
  ASSERT_TRUE(k) << k.error().to_string();
  auto st = p->wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->signal, SIGKILL);
  pollfd pf{gfd, POLLIN, 0};
  EXPECT_EQ(::poll(&pf, 1, 60000), 1) << "the grandchild survived the group kill";
  if (pf.revents == 0) (void)::syscall(SYS_pidfd_send_signal, gfd, SIGKILL, nullptr, 0);
  ::close(gfd);
  // Reaped: the group id may belong to someone else now, so it is refused.
  auto again = p->signal_group(SIGTERM);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().category, ErrorCategory::not_found);
  // A child that does not lead its own group has none to signal.
  auto q = sys->run("alice", process::Spawn{{"/bin/sleep", "30"}, {}});
  ASSERT_TRUE(q);
  auto no_group = q->signal_group(SIGTERM);
  ASSERT_FALSE(no_group);
  EXPECT_EQ(no_group.error().category, ErrorCategory::invalid_argument);
}

TEST_F(ProcessOps, SignalDeniedForOtherPrincipal) {
  auto p = sys->run("alice", process::Spawn{{"/bin/sleep", "30"}, {}});
  ASSERT_TRUE(p);
  auto d = sys->run("bob", process::Kill{{p->pid(), std::nullopt}});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().category, ErrorCategory::denied);
  auto t = p->try_wait();
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->has_value());
}

TEST_F(ProcessOps, DestroyedHandleKillsAndReapsChild) {
  pid_t pid = 0;
  {
    auto p = sys->run("alice", process::Spawn{{"/bin/sleep", "30"}, {}});
    ASSERT_TRUE(p);
    pid = p->pid();
  }
  // Reaped: no such child any more (waitpid reports ECHILD, kill ESRCH).
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(ProcessOps, UtilExecUsesTheAllowlist) {
  process::Options o = piped();
  auto p = sys->run("alice", util::Exec{"echo-tool", {"via", "tool"}, o});
  ASSERT_TRUE(p) << p.error().to_string();
  auto out = p->communicate();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->out, "via tool\n");
  auto unknown = sys->run("alice", util::Exec{"git", {"status"}, {}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().category, ErrorCategory::denied) << "not allowed by any rule";
  auto missing = sys->run("alice", util::Exec{"missing-tool", {}, {}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().category, ErrorCategory::not_found);
  auto bob = sys->run("bob", util::Exec{"echo-tool", {}, {}});
  ASSERT_FALSE(bob);
  EXPECT_EQ(bob.error().category, ErrorCategory::denied);
}

TEST_F(ProcessOps, ArgumentsAreNeverInterpretedByAShell) {
  process::Options o = piped();
  const std::string tricky = "$(touch " + (dir / "pwned").string() + "); `id` ; | & > x";
  auto p = sys->run("alice", process::Spawn{{"/bin/echo", tricky}, o});
  ASSERT_TRUE(p);
  auto out = p->communicate();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->out, tricky + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "pwned"));
  std::string nul = "a";
  nul += '\0';
  auto bad = sys->run("alice", process::Spawn{{"/bin/echo", nul}, {}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().category, ErrorCategory::invalid_argument);
  auto huge = sys->run("alice", process::Spawn{{"/bin/echo", std::string(4u << 20, 'x')}, {}});
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().category, ErrorCategory::invalid_argument);
}

TEST_F(ProcessOps, SandboxRlimitsAndNoNewPrivs) {
  process::Options o = piped();
  o.sandbox.no_new_privs = true;
  o.sandbox.rlimits.push_back({RLIMIT_NOFILE, 17, 17});
  auto p = sys->run("alice", process::Spawn{{"/bin/sh", "-c", "ulimit -n; grep NoNewPrivs /proc/self/status"}, o});
  ASSERT_TRUE(p) << p.error().to_string();
  auto out = p->communicate();
  ASSERT_TRUE(out);
  EXPECT_NE(out->out.find("17\n"), std::string::npos) << out->out;
  EXPECT_NE(out->out.find("NoNewPrivs:\t1"), std::string::npos) << out->out;
}

TEST_F(ProcessOps, LandlockConfinesTheChild) {
  test::write_file(dir / "inside", "in");
  process::Options o = piped();
  o.sandbox.landlock = true;
  // The child tries to read a file outside what the policy allows, directly.
  auto p = sys->run("alice", process::Spawn{{"/bin/sh", "-c",
                                             fmt::format("cat {}; cat /etc/hostname || echo BLOCKED", (dir / "inside").string())},
                                            o});
  if (!p && p.error().category == ErrorCategory::unsupported) GTEST_SKIP() << p.error().message;
  ASSERT_TRUE(p) << p.error().to_string();
  auto out = p->communicate();
  ASSERT_TRUE(out);
  EXPECT_NE(out->out.find("in"), std::string::npos) << out->out << out->err;
  EXPECT_NE(out->out.find("BLOCKED"), std::string::npos) << out->out << out->err;
}

TEST_F(ProcessOps, ChildProcessLimit) {
  SystemOptions o;
  o.policy = sys->policy();
  o.limits.max_processes = 1;
  o.limits.wait = 100ms;
  System limited(std::move(o));
  auto a = limited.run("alice", process::Spawn{{"/bin/sleep", "30"}, {}});
  ASSERT_TRUE(a);
  auto b = limited.run("alice", process::Spawn{{"/bin/true"}, {}});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().category, ErrorCategory::resource_exhausted);
  ASSERT_TRUE(a->kill());
  ASSERT_TRUE(a->wait());
  auto c = limited.run("alice", process::Spawn{{"/bin/true"}, {}});
  ASSERT_TRUE(c) << "the slot is free again once the child is reaped";
  ASSERT_TRUE(c->wait());
}

TEST_F(ProcessOps, EveryOperationLeavesRecords) {
  auto p = sys->run("alice", process::Spawn{{"/bin/true"}, {}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->wait());
  auto d = sys->run("alice", process::Spawn{{"/bin/rm", "-rf", "/nonexistent"}, {}});
  ASSERT_FALSE(d);
  ASSERT_TRUE(sys->flush_audit());
  const auto recs = sink->records();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].event, ActivityEvent::start);
  EXPECT_EQ(recs[0].op, OpKind::process_spawn);
  EXPECT_EQ(recs[0].resources.at(0), "/usr/bin/true");
  EXPECT_NE(recs[0].detail_json.find("argv"), std::string::npos);
  EXPECT_EQ(recs[1].event, ActivityEvent::end);
  EXPECT_EQ(recs[1].outcome, "ok");
  EXPECT_EQ(recs[1].op_id, recs[0].op_id);
  EXPECT_EQ(recs[2].event, ActivityEvent::denied);
  EXPECT_EQ(recs[2].rule, "no-rm");
}

}  // namespace
}  // namespace airssys::osl

namespace airssys::osl {
namespace {

// The cgroup v2 hierarchy here: /sys/fs/cgroup/unified on a hybrid layout,
// /sys/fs/cgroup on a pure v2 one.
std::optional<std::filesystem::path> cgroup2_root() {
  for (const char* p : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    std::error_code ec;
    // v1 hierarchies have no cgroup.controllers file.
    if (std::filesystem::exists(std::filesystem::path(p) / "cgroup.controllers", ec)) return std::filesystem::path(p);
  }
  return std::nullopt;
}

// Anyone may spawn the system binaries and write the cgroup.procs files
// below cgroups: all that a spawn with join_cgroups needs.
Policy cgroup_policy(const std::filesystem::path& cgroups) {
  return test::policy_from(fmt::format(R"(
version: 1
rules:
  - id: spawn
    effect: allow
    principals: ["*"]
    operations: ["process.spawn"]
    resources: ["/usr/bin/**", "/bin/**"]
  - id: cgroups
    effect: allow
    principals: ["*"]
    operations: ["fs.write"]
    resources: ["{}/**"]
)", cgroups.string()));
}

TEST(ProcessCgroups, ChildJoinsTheCgroupBeforeExec) {
  auto root = cgroup2_root();
  if (!root) GTEST_SKIP() << "no cgroup v2 hierarchy mounted";
  const auto cg = *root / fmt::format("airssys-osl-test-{}", ::getpid());
  std::error_code ec;
  if (!std::filesystem::create_directory(cg, ec)) GTEST_SKIP() << "cannot create a cgroup here: " << ec.message();
  System sys({.policy = cgroup_policy(*root)});
  process::Options o;
  o.join_cgroups = {cg};
  o.stdout_ = process::Stdio::pipe();
  auto p = sys.run("x", process::Spawn{{"/bin/cat", "/proc/self/cgroup"}, o});
  ASSERT_TRUE(p) << p.error().to_string();
  auto out = p->communicate();
  ASSERT_TRUE(out);
  EXPECT_NE(out->out.find(cg.filename().string()), std::string::npos) << out->out;
  // Without a rule for the cgroup's procs file the spawn is refused. The
  // directory is outside the root on any layout (on pure v2 the root is
  // /sys/fs/cgroup, so a v1 path like /sys/fs/cgroup/memory would be
  // allowed by {root}/**), and its procs file is a plain file the child
  // could write: only the policy refuses it.
  TempDir elsewhere;
  const auto outside = elsewhere.path() / "cg";
  std::filesystem::create_directory(outside);
  std::ofstream(outside / "cgroup.procs").flush();
  process::Options other;
  other.join_cgroups = {outside};
  auto d = sys.run("x", process::Spawn{{"/bin/true"}, other});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().category, ErrorCategory::denied) << d.error().to_string();
  EXPECT_EQ(std::filesystem::file_size(outside / "cgroup.procs"), 0u);
  std::filesystem::remove(cg, ec);
}

// A join_cgroups directory may come from a record: a FIFO planted at its
// cgroup.procs is refused as not a regular file (with a reader: the child
// would have written its "0" into the FIFO and started outside any cgroup)
// and does not hang the spawn (without one: the open used to wait for one).
TEST(ProcessCgroups, AFifoAtCgroupProcsIsRefusedWithoutHanging) {
  test::TempDir dir;
  const auto cg = dir.path() / "cg";
  std::filesystem::create_directory(cg);
  ASSERT_EQ(::mkfifo((cg / "cgroup.procs").c_str(), 0600), 0);
  System sys({.policy = cgroup_policy(dir.path())});
  process::Options o;
  o.join_cgroups = {cg};
  {
    UniqueFd reader(::open((cg / "cgroup.procs").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_GE(reader.get(), 0);
    auto p = sys.run("x", process::Spawn{{"/bin/true"}, o});
    ASSERT_FALSE(p) << "started with a FIFO as its cgroup.procs";
    EXPECT_EQ(p.error().category, ErrorCategory::invalid_argument) << p.error().to_string();
    EXPECT_NE(p.error().message.find("not a regular file"), std::string::npos) << p.error().to_string();
  }
  auto q = sys.run("x", process::Spawn{{"/bin/true"}, o});
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().errno_value, ENXIO) << q.error().to_string();
}

}  // namespace
}  // namespace airssys::osl

namespace airssys::osl {
namespace {

class ProcessEdges : public ::testing::Test {
 protected:
  void SetUp() override {
    sys = std::make_unique<System>(SystemOptions{.policy = test::policy_from(fmt::format(R"(
version: 1
rules:
  - id: spawn
    effect: allow
    principals: ["*"]
    operations: ["process.spawn"]
    resources: ["/usr/bin/**", "{}/**"]
)", dir.str()))});
  }
  test::TempDir dir;
  std::unique_ptr<System> sys;
};

// The child exits without reading: the write fails with EPIPE instead of a
// SIGPIPE that would kill this (the host) process.
TEST_F(ProcessEdges, CommunicateWithAChildThatIgnoresStdinDoesNotRaiseSigpipe) {
  process::Options o;
  o.stdin_ = process::Stdio::pipe();
  auto p = sys->run("x", process::Spawn{{"/bin/true"}, o});
  ASSERT_TRUE(p) << p.error().to_string();
  auto out = p->communicate(std::string(4u << 20, 'x'));
  ASSERT_TRUE(out) << out.error().to_string();
  EXPECT_EQ(out->status.code, 0);
}

// Scripts run through the pinned fd too (their interpreter reads /dev/fd/N).
TEST_F(ProcessEdges, ScriptsRunFromThePinnedFile) {
  const auto script = dir / "hello.sh";
  test::write_file(script, "#!/bin/sh\necho script-ran \"$1\"\n");
  ASSERT_EQ(::chmod(script.c_str(), 0700), 0);
  process::Options o;
  o.stdout_ = process::Stdio::pipe();
  auto p = sys->run("x", process::Spawn{{script.string(), "arg"}, o});
  ASSERT_TRUE(p) << p.error().to_string();
  auto out = p->communicate();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->out, "script-ran arg\n");
}

}  // namespace
}  // namespace airssys::osl
