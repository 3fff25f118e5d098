// SpinLock: mutual exclusion, and waiters that went to sleep behind a slow
// holder are all woken (a lost wake-up hangs the test; ctest's timeout
// fails it). No timing assertions: "a while" is until every waiter sleeps.
#include "spin_lock.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

namespace {

using airssys::rt::detail::SpinLock;

TEST(SpinLock, TryLockFailsWhileHeld) {
  SpinLock m;
  ASSERT_TRUE(m.try_lock());
  EXPECT_FALSE(m.try_lock());
  m.unlock();
  EXPECT_TRUE(m.try_lock());
  m.unlock();
}

// The holder keeps the lock until all kWaiters sleep in lock(), then
// releases it: each unlock wakes one, and every waiter gets the lock once.
TEST(SpinLock, EveryWaiterAsleepBehindAHolderIsWoken) {
  if (!SpinLock::waiters_can_sleep()) GTEST_SKIP() << "membarrier refused: waiters yield instead of sleeping";
  constexpr unsigned kWaiters = 6;
  for (int round = 0; round < 20; ++round) {
    SpinLock m;
    unsigned entered = 0;  // guarded by m
    m.lock();
    std::vector<std::thread> ts;
    for (unsigned i = 0; i < kWaiters; ++i)
      ts.emplace_back([&] {
        std::lock_guard lk(m);
        ++entered;
      });
    while (m.sleepers() < kWaiters) std::this_thread::yield();
    EXPECT_EQ(entered, 0u);
    m.unlock();
    for (auto& t : ts) t.join();
    std::lock_guard lk(m);
    EXPECT_EQ(entered, kWaiters);
    EXPECT_EQ(m.sleepers(), 0u);
  }
}

// Many threads, sections long enough that waiters reach their sleep, short
// ones in between (a release racing a waiter on its way to sleep): the
// count under the lock is exact and nobody is left asleep.
TEST(SpinLock, MixedLongAndShortSectionsCountExactly) {
  constexpr unsigned kThreads = 4;
  constexpr int kIters = 3000;
  SpinLock m;
  long count = 0;  // guarded by m
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        std::lock_guard lk(m);
        ++count;
        if ((i + static_cast<int>(t)) % 97 == 0)
          for (int k = 0; k < 200; ++k) std::this_thread::yield();  // a slow holder
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(count, static_cast<long>(kThreads) * kIters);
  EXPECT_EQ(m.sleepers(), 0u);
}

}  // namespace
