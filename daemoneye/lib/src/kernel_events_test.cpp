// The kernel event sources against the real kernel: root runs the real eBPF
// programs and the real proc connector; without root both must refuse with
// a reason (checked in a child that drops to nobody).

#include <airssys/daemoneye/kernel_events.hpp>

#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace airssys::daemoneye {
namespace {

using namespace std::string_literals;
using Clock = std::chrono::steady_clock;

pid_t spawn(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ), 0);
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// Drains `source` until `done` says so or 10 s pass; every event goes to `seen`.
template <class Done>
void drain_until(KernelEventSource& source, std::vector<KernelEvent>& seen, Done done) {
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (!done() && Clock::now() < until) {
    pollfd p{source.fd(), POLLIN, 0};
    ::poll(&p, 1, 100);
    auto n = source.drain([&](KernelEvent&& k) { seen.push_back(std::move(k)); });
    ASSERT_TRUE(n) << n.error();
  }
}

const KernelEvent* find(const std::vector<KernelEvent>& seen, KernelEvent::Kind kind, std::int64_t pid) {
  for (const auto& k : seen) {
    if (k.kind == kind && k.pid == pid) return &k;
  }
  return nullptr;
}

// A program run to its end (argv, no shell), and what a source reported of
// its life, drained until its exit was seen or 10 s passed: an event that
// never came is empty.
struct Life {
  pid_t pid = -1;
  int status = 0;  // waitpid's
  std::optional<KernelEvent> fork, exec, exit;
};

Life run_watched(KernelEventSource& source, std::vector<std::string> argv) {
  Life life;
  life.pid = spawn(std::move(argv));
  life.status = wait_status(life.pid);
  std::vector<KernelEvent> seen;
  drain_until(source, seen, [&] { return find(seen, KernelEvent::Kind::exit, life.pid) != nullptr; });
  auto event = [&](KernelEvent::Kind kind) {
    const KernelEvent* k = find(seen, kind, life.pid);
    return k ? std::optional<KernelEvent>(*k) : std::nullopt;
  };
  life.fork = event(KernelEvent::Kind::fork);
  life.exec = event(KernelEvent::Kind::exec);
  life.exit = event(KernelEvent::Kind::exit);
  return life;
}

class KernelSources : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the kernel sources need root";
  }
};

TEST_F(KernelSources, EbpfSeesTheExecOfAOneMillisecondProcessWithItsArgv) {
  auto source = open_ebpf_source({});
  ASSERT_TRUE(source) << source.error();
  EXPECT_EQ((*source)->kind(), EventSource::ebpf);
  const std::string marker = "ebpf-marker-" + std::to_string(::getpid());
  const auto before = std::chrono::system_clock::now();
  // A shell that lives about 1 ms (sleep is a builtin of neither; it execs).
  const auto [pid, status, fork, exec, exit] =
      run_watched(**source, {"/bin/sh", "-c", "exec /bin/sleep 0.001", marker});
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_TRUE(fork);
  ASSERT_TRUE(exec);
  ASSERT_TRUE(exit);
  EXPECT_EQ(fork->ppid, ::getpid());
  EXPECT_EQ(exec->path, "/bin/sh");
  EXPECT_EQ(exec->args, "/bin/sh\0-c\0exec /bin/sleep 0.001\0"s + marker + '\0');
  EXPECT_EQ(exec->args_total, static_cast<std::int64_t>(exec->args.size()));
  EXPECT_FALSE(exec->args_truncated);
  EXPECT_EQ(exec->comm, "sh");
  EXPECT_EQ(exec->uid, 0);
  EXPECT_EQ(exec->euid, 0);
  EXPECT_EQ(exec->ppid, ::getpid());
  EXPECT_NE(exec->cgroup_id, 0u);
  EXPECT_EQ(exec->start_ticks, fork->start_ticks);
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(exit->exit_signal, -1);
  // Kernel time, in Unix nanoseconds, within the test's window.
  const auto at = std::chrono::system_clock::time_point(std::chrono::nanoseconds(exec->time_ns));
  EXPECT_GE(at, before - std::chrono::seconds(1));
  EXPECT_LE(at, std::chrono::system_clock::now());
}

TEST_F(KernelSources, EbpfStartTicksAreProcsStatField22) {
  auto source = open_ebpf_source({});
  ASSERT_TRUE(source) << source.error();
  const pid_t pid = spawn({"/bin/sleep", "30"});
  std::vector<KernelEvent> seen;
  drain_until(**source, seen, [&] { return find(seen, KernelEvent::Kind::exec, pid) != nullptr; });
  const auto* exec = find(seen, KernelEvent::Kind::exec, pid);
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  ::kill(pid, SIGKILL);
  wait_status(pid);
  ASSERT_NE(exec, nullptr);
  // Field 22, counted after the ')' that ends the command name (field 2).
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) rest >> field;
  EXPECT_EQ(exec->start_ticks, std::stoull(field)) << text;
}

TEST_F(KernelSources, EbpfReportsTheKillingSignalAndCutsAHugeArgv) {
  auto source = open_ebpf_source({});
  ASSERT_TRUE(source) << source.error();
  // 100 KB of arguments: the kernel copies at most PROCMON_ARGS_MAX and says so.
  std::vector<std::string> argv{"/bin/sh", "-c", "kill -9 $$", "sh"};
  for (int i = 0; i < 100; ++i) argv.push_back(std::string(1000, static_cast<char>('a' + i % 26)));
  const auto [pid, status, fork, exec, exit] = run_watched(**source, argv);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_TRUE(exec);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exec->args_truncated);
  EXPECT_GT(exec->args_total, 100000);
  EXPECT_LT(exec->args.size(), static_cast<std::size_t>(exec->args_total));
  EXPECT_EQ(exec->args.substr(0, 8), "/bin/sh"s + '\0');
  EXPECT_EQ(exit->exit_signal, 9);
  EXPECT_EQ(exit->exit_code, -1);
}

TEST_F(KernelSources, ProcConnectorSeesForkExecAndExitPids) {
  auto source = open_proc_connector_source({});
  ASSERT_TRUE(source) << source.error();
  EXPECT_EQ((*source)->kind(), EventSource::proc_connector);
  const auto [pid, status, fork, exec, exit] = run_watched(**source, {"/bin/sh", "-c", "exit 3"});
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_TRUE(fork);
  ASSERT_TRUE(exec);
  ASSERT_TRUE(exit);
  EXPECT_EQ(fork->ppid, ::getpid());
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_GT(exec->time_ns, 0);
}

TEST_F(KernelSources, AVerifierRejectionAndAMissingBtfAreExplainedAndFallenBackFrom) {
  auto rejected = open_ebpf_source({.test_verifier_reject = true});
  ASSERT_FALSE(rejected);
  EXPECT_NE(rejected.error().message.find("loading the eBPF programs failed"), std::string::npos) << rejected.error().message;
  EXPECT_EQ(rejected.error().message.find("needs root"), std::string::npos) << rejected.error().message;
  EXPECT_NE(rejected.error().message.find("the verifier rejected a program: "), std::string::npos) << rejected.error().message;
  // Not the caller's fault and not a missing privilege: the kernel will not run it; fall back.
  EXPECT_EQ(rejected.error().category, ErrorCategory::unavailable);

  const std::string empty = ::testing::TempDir() + "/empty-btf";
  std::ofstream(empty).close();
  auto no_btf = open_ebpf_source({.btf_path = empty});
  ASSERT_FALSE(no_btf);
  EXPECT_NE(no_btf.error().message.find("the kernel has no BTF"), std::string::npos) << no_btf.error().message;
  EXPECT_EQ(no_btf.error().category, ErrorCategory::unavailable);

  auto choice = open_event_source(TierRequest::automatic, {.btf_path = empty});
  EXPECT_EQ(choice.tier, EventSource::proc_connector);
  ASSERT_NE(choice.source, nullptr);
  EXPECT_NE(choice.reason.find("ebpf: the kernel has no BTF"), std::string::npos) << choice.reason;
}

TEST_F(KernelSources, EachTierCanBeForced) {
  auto best = open_event_source(TierRequest::automatic, {});
  EXPECT_EQ(best.tier, EventSource::ebpf) << best.reason;
  EXPECT_EQ(best.reason, "");
  auto pc = open_event_source(TierRequest::proc_connector, {});
  EXPECT_EQ(pc.tier, EventSource::proc_connector) << pc.reason;
  auto poll = open_event_source(TierRequest::poll, {});
  EXPECT_EQ(poll.tier, EventSource::poll);
  EXPECT_EQ(poll.source, nullptr);
  EXPECT_EQ(poll.reason, "polling only, as configured");
  EXPECT_FALSE(tier_request_from("fast"));
}

TEST(KernelSourcesUnprivileged, NobodyGetsPollingWithAReasonForEachTier) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become nobody";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    if (::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0) ::_exit(2);
    auto choice = open_event_source(TierRequest::automatic, {});
    const std::string out = std::string(to_string(choice.tier)) + "|" + choice.reason;
    (void)::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  const int status = wait_status(child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(out.substr(0, 5), "poll|") << out;
  EXPECT_NE(out.find("ebpf: "), std::string::npos) << out;
  EXPECT_NE(out.find("needs root"), std::string::npos) << out;
  EXPECT_NE(out.find("proc_connector: "), std::string::npos) << out;
  EXPECT_NE(out.find("CAP_NET_ADMIN"), std::string::npos) << out;
}

TEST(KernelEventsHelpers, WaitStatusSplitsIntoCodeOrSignal) {
  std::int64_t code = 0, sig = 0;
  split_wait_status(3 << 8, code, sig);
  EXPECT_EQ(code, 3);
  EXPECT_EQ(sig, -1);
  split_wait_status(9, code, sig);
  EXPECT_EQ(code, -1);
  EXPECT_EQ(sig, 9);
  split_wait_status(0x80 | 11, code, sig);  // SIGSEGV with a core dump
  EXPECT_EQ(sig, 11);
}

}  // namespace
}  // namespace airssys::daemoneye
