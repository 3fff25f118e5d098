// FsWorker with real blocking calls: a read from a pipe nobody writes to
// stands in for a file system that does not answer.

#include "fs_worker.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) == 0) {
      r = p[0];
      w = p[1];
    }
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
};

// Blocks in read(2) until a byte arrives on `fd`.
auto blocking_read(int fd) {
  return [fd](FsWorker::Progress&) {
    char b = 0;
    return ::read(fd, &b, 1) == 1 ? static_cast<int>(b) : -1;
  };
}

bool wait_until(auto pred) {
  for (int i = 0; i < 3000; ++i) {  // at most ~30 s: a bound, not a timing check
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(FsWorker, AnsweredJobsReturnTheirValue) {
  FsWorker w(FsWorkerOptions{.stall = 5s, .max_stuck = 1});
  for (int i = 0; i < 100; ++i) {
    auto got = w.run<int>([i](FsWorker::Progress&) { return i * 2; });
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, i * 2);
  }
  EXPECT_EQ(w.stuck(), 0u);
  EXPECT_EQ(w.stalls(), 0u);
}

TEST(FsWorker, AStalledCallIsLeftBehindAndANewHelperTakesTheNextJob) {
  Pipe never, later;
  ASSERT_GE(never.r, 0);
  ASSERT_GE(later.r, 0);
  FsWorker w(FsWorkerOptions{.stall = 100ms, .max_stuck = 2});

  auto first = w.run<int>(blocking_read(later.r));
  ASSERT_FALSE(first);
  EXPECT_FALSE(first.error().busy);
  ASSERT_TRUE(first.error().returned);
  EXPECT_FALSE(first.error().returned->load());
  EXPECT_EQ(w.stuck(), 1u);

  auto ok = w.run<int>([](FsWorker::Progress&) { return 7; });
  ASSERT_TRUE(ok) << "a new helper serves the next job";
  EXPECT_EQ(*ok, 7);

  auto second = w.run<int>(blocking_read(never.r));
  ASSERT_FALSE(second);
  EXPECT_EQ(w.stuck(), 2u);
  // At the bound: nothing more is started.
  auto refused = w.run<int>([](FsWorker::Progress&) { return 1; });
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().busy);
  EXPECT_EQ(w.stalls(), 2u);

  // The first call is answered: its thread ends, and there is room again.
  ASSERT_EQ(::write(later.w, "x", 1), 1);
  ASSERT_TRUE(wait_until([&] { return first.error().returned->load(); }));
  EXPECT_EQ(w.stuck(), 1u);
  auto again = w.run<int>([](FsWorker::Progress&) { return 9; });
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 9);

  // The other one ends when its pipe closes, after the worker is gone.
  ::close(never.w);
  never.w = -1;
  ASSERT_TRUE(wait_until([&] { return second.error().returned->load(); }));
}

TEST(FsWorker, AStuckHelperMayOutliveItsWorker) {
  Pipe p;
  std::shared_ptr<const std::atomic<bool>> returned;
  {
    FsWorker w(FsWorkerOptions{.stall = 50ms, .max_stuck = 1});
    auto got = w.run<int>(blocking_read(p.r));
    ASSERT_FALSE(got);
    returned = got.error().returned;
  }
  ASSERT_EQ(::write(p.w, "y", 1), 1);
  EXPECT_TRUE(wait_until([&] { return returned->load(); }));
}

// A call that answers, but only after `slow` without progress, is told
// apart from a quick one (the collector then avoids its file system for a
// while). The writer waits 600 ms; slow is 50 ms: the direction is certain.
TEST(FsWorker, ACallThatAnswersLateIsSlow) {
  FsWorker w(FsWorkerOptions{.stall = 30s, .max_stuck = 1, .slow = 50ms});
  Pipe p;
  ASSERT_GE(p.r, 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(600ms);
    (void)!::write(p.w, "x", 1);
  });
  auto got = w.run<int>(blocking_read(p.r));
  writer.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 'x');
  EXPECT_TRUE(w.last_slow());
  EXPECT_EQ(w.stuck(), 0u);

  FsWorker quick(FsWorkerOptions{.stall = 30s, .max_stuck = 1, .slow = 30s});
  auto fast = quick.run<int>([](FsWorker::Progress&) { return 7; });
  ASSERT_TRUE(fast);
  EXPECT_FALSE(quick.last_slow());
}

}  // namespace
}  // namespace airssys::daemoneye
