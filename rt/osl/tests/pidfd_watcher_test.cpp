// The shared pidfd watcher on its own, with children started by
// posix_spawn (not osl: osl's clone(CLONE_VM) child runs instrumented code in
// our address space, which ThreadSanitizer cannot follow), so this test runs
// under TSan: concurrent watch/unwatch, every exit reported once, an
// unwatched exit never reported, unwatch waits for a callback in progress.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/probe.hpp"
#include "../src/pidfd_watcher.hpp"

extern char** environ;

namespace {

using airssys::rt_osl::detail::PidfdWatcher;
using rt_test::eventually;

struct Child {
  pid_t pid = -1;
  int pidfd = -1;
};

Child spawn_sleep(const char* secs) {
  const char* argv[] = {"/bin/sleep", secs, nullptr};
  Child c;
  if (::posix_spawn(&c.pid, "/bin/sleep", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) return c;
  c.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, c.pid, 0));
  return c;
}

void reap(Child& c) {
  int st = 0;
  (void)::waitpid(c.pid, &st, 0);
  ::close(c.pidfd);
}

TEST(PidfdWatcher, EveryExitIsReportedOnceFromConcurrentWatchers) {
  constexpr int kThreads = 4, kEach = 8;
  std::mutex m;
  std::multiset<std::uint64_t> fired;
  std::vector<std::vector<Child>> kids(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Child c = spawn_sleep("0.01");
        ASSERT_GE(c.pidfd, 0);
        auto id = PidfdWatcher::instance().watch(c.pidfd, [&](std::uint64_t wid) {
          std::lock_guard lk(m);
          fired.insert(wid);
        });
        ASSERT_TRUE(id.has_value());
        kids[t].push_back(c);
      }
    });
  for (auto& t : ts) t.join();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(m);
    return fired.size() == kThreads * kEach;
  }));
  std::lock_guard lk(m);
  EXPECT_EQ(std::set<std::uint64_t>(fired.begin(), fired.end()).size(), fired.size());  // once each
  for (auto& v : kids)
    for (auto& c : v) reap(c);
}

TEST(PidfdWatcher, AnUnwatchedExitIsNeverReported) {
  std::atomic<int> unwanted{0}, wanted{0};
  Child a = spawn_sleep("1000");
  ASSERT_GE(a.pidfd, 0);
  auto ida = PidfdWatcher::instance().watch(a.pidfd, [&](std::uint64_t) { ++unwanted; });
  ASSERT_TRUE(ida.has_value());
  PidfdWatcher::instance().unwatch(*ida);
  ASSERT_EQ(::kill(a.pid, SIGKILL), 0);
  reap(a);
  // A later exit is reported; the watcher handles events in order, so by
  // then the unwatched one would have been too.
  Child b = spawn_sleep("0");
  ASSERT_GE(b.pidfd, 0);
  ASSERT_TRUE(PidfdWatcher::instance().watch(b.pidfd, [&](std::uint64_t) { ++wanted; }).has_value());
  ASSERT_TRUE(eventually([&] { return wanted.load() == 1; }));
  reap(b);
  EXPECT_EQ(unwanted.load(), 0);
}

TEST(PidfdWatcher, TheCallerKeepsItsOwnPidfd) {
  std::atomic<int> fired{0};
  Child c = spawn_sleep("0");
  ASSERT_GE(c.pidfd, 0);
  ASSERT_TRUE(PidfdWatcher::instance().watch(c.pidfd, [&](std::uint64_t) { ++fired; }).has_value());
  ASSERT_TRUE(eventually([&] { return fired.load() == 1; }));
  EXPECT_EQ(::fcntl(c.pidfd, F_GETFD), FD_CLOEXEC);  // still open: the watcher closed only its duplicate
  reap(c);
  EXPECT_FALSE(PidfdWatcher::instance().watch(-1, [](std::uint64_t) {}).has_value());  // bad fd: an error
}

}  // namespace

// unwatch() racing with a firing callback waits for it to finish, so a caller
// may free what the callback uses as soon as unwatch() returns.
TEST(PidfdWatcher, UnwatchWaitsForACallbackInProgress) {
  std::atomic<bool> started{false}, release{false}, finished{false};
  Child c = spawn_sleep("0");
  ASSERT_GE(c.pidfd, 0);
  auto id = PidfdWatcher::instance().watch(c.pidfd, [&](std::uint64_t) {
    started = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    finished = true;
  });
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    release = true;
  });
  PidfdWatcher::instance().unwatch(*id);
  EXPECT_TRUE(finished.load());  // not merely started
  releaser.join();
  reap(c);
}
