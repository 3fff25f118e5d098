// process.fork: a real double-forked monitor running a function of ours —
// detached (own session, not our child), its stdio where we asked, the ready
// pipe handing its message back; refused and audited like every operation.

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using test::TempDir;

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Waits (pidfd, bounded) until `pid` has exited; it is not our child.
bool wait_exit(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  const bool done = ::poll(&p, 1, 20'000) == 1;
  ::close(fd);
  return done;
}

std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

class ProcessFork : public ::testing::Test {
 protected:
  void SetUp() override {
    sink = std::make_shared<test::RecordingSink>();
    sys = test::system_with(fmt::format(R"(
version: 1
rules:
  - id: monitor
    effect: allow
    principals: [alice]
    operations: [process.fork]
    resources: ["{}"]
)", self_exe()), sink);
  }

  TempDir dir;
  std::shared_ptr<test::RecordingSink> sink;
  std::unique_ptr<System> sys;
};

TEST_F(ProcessFork, MonitorRunsDetachedWithItsOutputAndHandshake) {
  const auto facts = dir / "facts";
  const auto out = dir / "out.log";
  const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(out_fd, 0);
  const pid_t me = ::getpid();
  const pid_t my_sid = ::getsid(0);
  process::ForkMonitor op;
  op.output_fd = out_fd;
  op.body = [&](UniqueFd ready) {
    // Facts only the monitor itself can see, for the test to check.
    std::ofstream(facts) << ::getppid() << ' ' << ::getsid(0) << ' ' << ::getpid();
    std::printf("hello from the monitor\n");
    const std::string msg = "OK\n";
    (void)::write(ready.get(), msg.data(), msg.size());
    return 7;
  };
  auto m = sys->run("alice", op);
  ::close(out_fd);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_GT(m->pid, 0);
  EXPECT_NE(m->pid, me);
  EXPECT_GT(m->start_time, 0u);
  EXPECT_EQ(read_all(m->ready.get()), "OK\n");  // EOF follows when the monitor exits
  ASSERT_TRUE(wait_exit(m->pid));

  std::ifstream in(facts);
  pid_t ppid = 0, sid = 0, pid = 0;
  in >> ppid >> sid >> pid;
  EXPECT_EQ(pid, m->pid);
  EXPECT_NE(ppid, me) << "the monitor must not be our child";
  EXPECT_NE(sid, my_sid) << "the monitor must have a session of its own";
  EXPECT_EQ(test::read_file(out), "hello from the monitor\n");

  ASSERT_TRUE(sys->flush_audit());
  const auto recs = sink->records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].op, OpKind::process_fork);
  EXPECT_EQ(recs[0].event, ActivityEvent::start);
  ASSERT_EQ(recs[0].resources.size(), 1u);
  EXPECT_EQ(recs[0].resources[0], self_exe());
  EXPECT_EQ(recs[0].rule, "monitor");
  EXPECT_EQ(recs[1].event, ActivityEvent::end);
  EXPECT_EQ(recs[1].outcome, "ok");
}

TEST_F(ProcessFork, DeniedPrincipalForksNothing) {
  const auto marker = dir / "ran";
  process::ForkMonitor op;
  op.body = [&](UniqueFd) {
    std::ofstream(marker) << "ran";
    return 0;
  };
  auto m = sys->run("mallory", op);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().category, ErrorCategory::denied);
  // Had it forked, the body would have written the marker by now or soon;
  // a denied fork never got that far, so its record is the only trace.
  ASSERT_TRUE(sys->flush_audit());
  const auto recs = sink->records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].event, ActivityEvent::denied);
  EXPECT_EQ(recs[0].op, OpKind::process_fork);
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST_F(ProcessFork, WithoutBodyIsInvalid) {
  auto m = sys->run("alice", process::ForkMonitor{});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().category, ErrorCategory::invalid_argument);
}

TEST_F(ProcessFork, ThrowingBodyEndsTheMonitorAndClosesReady) {
  process::ForkMonitor op;
  op.body = [](UniqueFd) -> int { throw std::runtime_error("boom"); };
  auto m = sys->run("alice", op);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(read_all(m->ready.get()), "");  // EOF: the monitor is gone without a message
  EXPECT_TRUE(wait_exit(m->pid));
}

}  // namespace
}  // namespace airssys::osl
