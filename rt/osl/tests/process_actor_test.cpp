// ProcessActor with real child processes through a real osl::System:
// a supervisor restarts a crashing program up to its intensity and gives
// up; stopping or killing the actor ends the process and what it started in
// its process group (checked through pidfds of our own); signals go through
// osl; a denied spawn is an init failure; an exit reaches a full mailbox; a
// global ActorSystem stops its processes cleanly at exit.
#include <airssys/rt_osl/process_actor.hpp>
#include <airssys/testing/temp_dir.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/probe.hpp"

namespace rt = airssys::rt;
namespace osl = airssys::osl;
namespace rto = airssys::rt_osl;
using namespace std::chrono_literals;
using rt_test::eventually;

namespace {

std::shared_ptr<osl::System> make_osl() {
  osl::SystemOptions o;
  auto p = osl::Policy::parse(R"(
version: 1
rules:
  - id: svc-runs-bins
    effect: allow
    principals: ["svc"]
    operations: ["process.*"]
    resources: ["/bin/**", "/usr/bin/**"]
)",
                              "rt-osl-test");
  EXPECT_TRUE(p.has_value()) << p.error().to_string();
  if (p) o.policy = *p;
  return std::make_shared<osl::System>(std::move(o));
}

struct Exits {
  using reply_type = std::vector<rto::ProcessExited>;
};
class Collector : public rt::Actor<Collector, rto::ProcessExited, Exits> {
 public:
  void handle(rto::ProcessExited& e) { seen_.push_back(e); }
  std::vector<rto::ProcessExited> handle(Exits&) { return seen_; }

 private:
  std::vector<rto::ProcessExited> seen_;
};

std::vector<rto::ProcessExited> exits(const Collector::ref_type& c) {
  return c.ask(Exits{}, 60s).value_or(std::vector<rto::ProcessExited>{});
}

// A pidfd of our own, taken while the process is known to be alive.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
bool exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 60000) == 1 && (p.revents & POLLIN) != 0;
}

TEST(ProcessActor, SupervisorRestartsACrashingProgramUpToIntensityThenGivesUp) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 2}};
  auto col = sys.spawn<Collector>().value();
  auto spec = rto::process_spec("false", rt::Restart::permanent,
                                {.system = osl_sys, .principal = "svc", .argv = {"/bin/false"}, .listener = col});
  auto s = rt::spawn_supervisor(sys, {.intensity = 2, .period = 600s}, {spec}).value();
  ASSERT_TRUE(eventually([&] { return s.stopped(); }));
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::error);
  ASSERT_TRUE(eventually([&] { return exits(col).size() == 3; }));  // first run + 2 restarts
  for (auto& e : exits(col)) {
    ASSERT_TRUE(e.status.code.has_value());
    EXPECT_EQ(*e.status.code, 1);
    EXPECT_FALSE(e.requested);
  }
  // Three audited spawns, each exit followed by an audited SIGKILL of what
  // is left of the process's group.
  EXPECT_EQ(osl_sys->stats().operations, 6u);
}

TEST(ProcessActor, StoppingTheActorEndsTheProcessGracefully) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 2}};
  auto col = sys.spawn<Collector>().value();
  auto p = sys.spawn<rto::ProcessActor>(
                  rto::ProcessOptions{.system = osl_sys, .principal = "svc", .argv = {"/bin/sleep", "1000"}, .listener = col})
               .value();
  auto info = p.ask(rto::GetProcessInfo{}, 60s).value();
  ASSERT_TRUE(info.running);
  int fd = open_pidfd(info.pid);
  ASSERT_GE(fd, 0);
  p.stop();
  EXPECT_TRUE(exited(fd));
  ::close(fd);
  ASSERT_TRUE(eventually([&] { return p.stopped(); }));
  EXPECT_EQ(p.exit_reason(), rt::ExitReason::shutdown);
  ASSERT_TRUE(eventually([&] { return exits(col).size() == 1; }));
  EXPECT_EQ(exits(col)[0].status.signal.value_or(0), SIGTERM);
  EXPECT_TRUE(exits(col)[0].requested);
}

TEST(ProcessActor, AProcessThatIgnoresTheStopSignalIsKilledAfterKillAfter) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 2}};
  auto col = sys.spawn<Collector>().value();
  // SIGCONT does not end sleep: it stands in for a program that ignores SIGTERM.
  auto p = sys.spawn<rto::ProcessActor>(rto::ProcessOptions{.system = osl_sys,
                                                            .principal = "svc",
                                                            .argv = {"/bin/sleep", "1000"},
                                                            .stop_signal = SIGCONT,
                                                            .kill_after = 100ms,
                                                            .listener = col})
               .value();
  auto info = p.ask(rto::GetProcessInfo{}, 60s).value();
  int fd = open_pidfd(info.pid);
  ASSERT_GE(fd, 0);
  p.stop();
  EXPECT_TRUE(exited(fd));
  ::close(fd);
  ASSERT_TRUE(eventually([&] { return exits(col).size() == 1; }));
  EXPECT_EQ(exits(col)[0].status.signal.value_or(0), SIGKILL);
}

TEST(ProcessActor, KillingTheActorKillsTheProcess) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 2}};
  auto p = sys.spawn<rto::ProcessActor>(
                  rto::ProcessOptions{.system = osl_sys, .principal = "svc", .argv = {"/bin/sleep", "1000"}})
               .value();
  auto info = p.ask(rto::GetProcessInfo{}, 60s).value();
  int fd = open_pidfd(info.pid);
  ASSERT_GE(fd, 0);
  p.kill();  // untrappable: post_stop kills
  EXPECT_TRUE(exited(fd));
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return p.stopped(); }));
  EXPECT_EQ(p.exit_reason(), rt::ExitReason::killed);
}

TEST(ProcessActor, SignalThroughOslAndAbnormalExitFailsTheActor) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 2}};
  auto p = sys.spawn<rto::ProcessActor>(
                  rto::ProcessOptions{.system = osl_sys, .principal = "svc", .argv = {"/bin/sleep", "1000"}})
               .value();
  auto r = p.ask(rto::SignalProcess{SIGUSR1}, 60s);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->has_value()) << r->error().to_string();
  ASSERT_TRUE(eventually([&] { return p.stopped(); }));
  EXPECT_EQ(p.exit_reason(), rt::ExitReason::error);
  EXPECT_NE(p.failure_text().find("killed by signal " + std::to_string(SIGUSR1)), std::string::npos)
      << p.failure_text();
}

TEST(ProcessActor, ExitCodeZeroIsANormalStop) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 2}};
  auto p = sys.spawn<rto::ProcessActor>(
                  rto::ProcessOptions{.system = osl_sys, .principal = "svc", .argv = {"/bin/true"}})
               .value();
  ASSERT_TRUE(eventually([&] { return p.stopped(); }));
  EXPECT_EQ(p.exit_reason(), rt::ExitReason::normal);
}

// A program that starts a grandchild (sleep) in its process group, writes
// the grandchild's pid to `pid_file`, then waits for it (`wait_for_it`) or
// exits at once with code 0, leaving it running.
std::vector<std::string> forks_a_grandchild(const std::filesystem::path& pid_file, bool wait_for_it) {
  return {"/bin/sh", "-c", std::string("/bin/sleep 1000 & echo $! > \"$1\"") + (wait_for_it ? "; wait" : ""), "sh",
          pid_file.string()};
}

// The grandchild's pid, once the script has written it.
pid_t grandchild_of(const std::filesystem::path& pid_file) {
  pid_t pid = 0;
  (void)eventually([&] {
    std::ifstream in(pid_file);
    return static_cast<bool>(in >> pid) && pid > 0;
  });
  return pid;
}

// True when the process is gone: exited (through a pidfd of our own) or
// already unknown. A survivor is killed, so a failing test leaks nothing.
bool gone(pid_t pid) {
  int fd = open_pidfd(pid);
  if (fd < 0) return errno == ESRCH;
  const bool ok = exited(fd);
  if (!ok) (void)::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
  ::close(fd);
  return ok;
}

using airssys::testing::TempDir;

enum class Ending { stop, kill, exit_by_itself };

// What the process started in its group ends with the actor however the
// actor ends: stopped (group SIGTERM), killed (post_stop's group SIGKILL), or
// the process exiting on its own (the leftover group is SIGKILLed).
void grandchild_ends_with_the_actor(Ending how) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 2}};
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const auto pid_file = dir.path() / "grandchild.pid";
  auto p = sys.spawn<rto::ProcessActor>(rto::ProcessOptions{.system = osl_sys,
                                                            .principal = "svc",
                                                            .argv = forks_a_grandchild(pid_file, how != Ending::exit_by_itself),
                                                            .spawn = {.stdout_ = osl::process::Stdio::null()}})
               .value();
  const pid_t grandchild = grandchild_of(pid_file);
  ASSERT_GT(grandchild, 0);
  if (how == Ending::stop) p.stop();
  if (how == Ending::kill) p.kill();
  ASSERT_TRUE(eventually([&] { return p.stopped(); }));
  EXPECT_TRUE(gone(grandchild)) << "grandchild " << grandchild << " outlived its actor";
}

TEST(ProcessActor, StoppingTheActorEndsWhatTheProcessStarted) { grandchild_ends_with_the_actor(Ending::stop); }
TEST(ProcessActor, KillingTheActorEndsWhatTheProcessStarted) { grandchild_ends_with_the_actor(Ending::kill); }
TEST(ProcessActor, WhatAnExitedProcessLeftRunningIsEnded) { grandchild_ends_with_the_actor(Ending::exit_by_itself); }

// Holds the system's only worker until the test releases it; says when it
// holds it.
struct Hold {
  std::shared_future<void> until;
  std::shared_ptr<std::promise<void>> holding;
};
class Holder : public rt::Actor<Holder, Hold> {
 public:
  void handle(Hold& m) {
    m.holding->set_value();
    m.until.wait();
  }
};

// The exit reaches the actor even when its bounded mailbox is full at that
// moment: it is a system message, not a mailbox message that fail/drop would
// lose (the actor would then never stop and the child stay a zombie).
void exit_reaches_a_full_mailbox(rt::Overflow overflow) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 1}};
  auto p = sys.spawn_with<rto::ProcessActor>(
                  rt::SpawnOptions{.mailbox = {.capacity = 2, .overflow = overflow}},
                  rto::ProcessOptions{.system = osl_sys, .principal = "svc", .argv = {"/bin/sleep", "1000"}})
               .value();
  rto::ProcessInfo info;  // the start itself occupies a slot: ask until there is room
  ASSERT_TRUE(eventually([&] {
    info = p.ask(rto::GetProcessInfo{}, 60s).value_or(rto::ProcessInfo{});
    return info.running;
  }));
  int fd = open_pidfd(info.pid);
  ASSERT_GE(fd, 0);
  // The reply can arrive before the activation that sent it has counted its
  // messages as consumed: wait until the mailbox is empty, and until the
  // holder holds the worker, before filling it.
  ASSERT_TRUE(eventually([&] { return p.stats().mailbox_depth == 0; }));
  std::promise<void> release;
  auto holding = std::make_shared<std::promise<void>>();
  auto held = holding->get_future();
  auto holder = sys.spawn<Holder>().value();
  ASSERT_TRUE(holder.tell(Hold{release.get_future().share(), holding}).has_value());
  if (held.wait_for(60s) != std::future_status::ready) {
    release.set_value();  // let the holder go, so the system can shut down
    FAIL() << "the holder actor never ran";
  }
  // Fill the mailbox while the worker is held: the actor cannot drain it.
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(p.tell(rto::GetProcessInfo{}).has_value());
  auto over = p.tell(rto::GetProcessInfo{});  // refused (fail) or dropped (drop_newest)
  if (overflow == rt::Overflow::fail) {
    ASSERT_FALSE(over.has_value());
    EXPECT_EQ(over.error().category, rt::ErrorCategory::mailbox_full);
  }
  EXPECT_EQ(::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0), 0);  // our own kill, not the actor's
  EXPECT_TRUE(exited(fd));
  ::close(fd);
  // Give the watcher time to deliver while the box is still full (a slow
  // machine only makes the test weaker, never makes it fail wrongly).
  std::this_thread::sleep_for(300ms);
  release.set_value();
  ASSERT_TRUE(eventually([&] { return p.stopped(); }));
  EXPECT_EQ(p.exit_reason(), rt::ExitReason::error);  // killed by a signal: the actor fails
  EXPECT_NE(p.failure_text().find("killed by signal " + std::to_string(SIGKILL)), std::string::npos)
      << p.failure_text();
}

TEST(ProcessActor, ExitReachesAFullFailMailbox) { exit_reaches_a_full_mailbox(rt::Overflow::fail); }
TEST(ProcessActor, ExitReachesAFullDropNewestMailbox) { exit_reaches_a_full_mailbox(rt::Overflow::drop_newest); }

// An ActorSystem that outlives main() (a global, here a function-local
// static created before the watcher is first used) still has a live
// ProcessActor at exit: its post_stop unwatches during static destruction,
// which must not touch a destroyed watcher. The death test re-executes this
// binary ("threadsafe"), so the watcher is first used in that child, after the
// system was created, as for a real global.
// Shuts down explicitly to see whether that was clean: with the watcher gone
// first, the exit would never be reported and the actor would have to be
// killed at the shutdown timeout (exit code 4).
struct GlobalSystem {
  rt::ActorSystem sys{{.workers = 1, .shutdown_timeout = 20s}};
  GlobalSystem() = default;
  GlobalSystem(const GlobalSystem&) = delete;
  GlobalSystem& operator=(const GlobalSystem&) = delete;
  ~GlobalSystem() {
    if (!sys.shutdown()) std::_Exit(4);
  }
};

[[noreturn]] void exit_with_a_live_process_actor() {
  static GlobalSystem global;
  auto p = global.sys
               .spawn<rto::ProcessActor>(
                   rto::ProcessOptions{.system = make_osl(), .principal = "svc", .argv = {"/bin/sleep", "1000"}})
               .value();
  if (!p.ask(rto::GetProcessInfo{}, 60s).value_or(rto::ProcessInfo{}).running) std::_Exit(3);
  std::exit(0);  // static destructors run while the actor and its process are live
}

// An ActorSystem that outlives main() (a global; here a function-local
// static created before the watcher is first used) still has a live
// ProcessActor at exit: its graceful stop during static destruction needs the
// watcher, which must not have been destroyed first. The death test
// re-executes this binary ("threadsafe"), so the watcher is first used in that
// child after the system was created, as for a real global.
TEST(ProcessActorDeathTest, AnActorSystemThatOutlivesMainStopsItsProcessesCleanly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(exit_with_a_live_process_actor(), ::testing::ExitedWithCode(0), "");
}

TEST(ProcessActor, PolicyDenialIsAnInitFailureWithTheOslError) {
  auto osl_sys = make_osl();
  rt::ActorSystem sys{{.workers = 2}};
  auto spec = rto::process_spec("denied", rt::Restart::permanent,
                                {.system = osl_sys, .principal = "mallory", .argv = {"/bin/true"}});
  auto s = rt::start_supervisor(sys, {}, {spec}, 60s);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().category, rt::ErrorCategory::start_failed);
  EXPECT_NE(s.error().message.find("child 'denied' failed to start"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("denied:"), std::string::npos) << s.error().message;
  EXPECT_EQ(osl_sys->stats().denied, 1u);
}


// Each restart spawns with a copy of the options; fd N may be another file by
// then, so a restartable spec with keep_fds is refused when it is made. A
// temporary one (spawned once) starts and the child gets the fd.
TEST(ProcessActor, KeepFdsIsRefusedForARestartableSpec) {
  auto osl_sys = make_osl();
  airssys::testing::TempDir dir;
  const int fd = ::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 3);
  rto::ProcessOptions opts{.system = osl_sys, .principal = "svc", .argv = {"/bin/sh", "-c", ""}};
  opts.spawn.keep_fds = {fd};
  opts.argv[2] = "test -e /proc/self/fd/" + std::to_string(fd);  // exits 1 (a failure) without the fd
  for (auto restart : {rt::Restart::permanent, rt::Restart::transient}) {
    try {
      (void)rto::process_spec("locked", restart, opts);
      ADD_FAILURE() << "a restartable spec with keep_fds was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("keep_fds (fd " + std::to_string(fd) + ")"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("Restart::temporary"), std::string::npos) << e.what();
    }
  }
  rt::ActorSystem sys{{.workers = 2}};
  auto col = sys.spawn<Collector>().value();
  opts.listener = col;
  auto s = rt::start_supervisor(sys, {}, {rto::process_spec("locked", rt::Restart::temporary, opts)}, 60s);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  ASSERT_TRUE(eventually([&] { return exits(col).size() == 1; }));
  const auto seen = exits(col);
  ASSERT_TRUE(seen[0].status.code.has_value());
  EXPECT_EQ(*seen[0].status.code, 0) << "the child did not have fd " << fd;
  ::close(fd);
}

}  // namespace
