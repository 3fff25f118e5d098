// The pool allocator as release builds ship it (built here with
// AIRSSYS_RT_POOL_ALWAYS, see rt/CMakeLists.txt). The pool is process-wide
// and never returns memory, so each case measures what it adds, not totals.
#include "pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace airssys::rt::detail {
namespace {

constexpr std::size_t kRegion = std::size_t{2} << 20;

bool aligned64(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 63) == 0; }

TEST(Pool, BlocksAreDistinctAlignedAndWritableInEverySizeClass) {
  std::vector<std::pair<void*, std::size_t>> got;
  std::set<void*> seen;
  for (std::size_t n : {1, 48, 64, 65, 192, 256, 511, 512, 513, 4096}) {
    for (int i = 0; i < 300; ++i) {  // past one batch of a class
      void* p = pool_allocate(n);
      ASSERT_TRUE(aligned64(p)) << n;
      ASSERT_TRUE(seen.insert(p).second) << "block handed out twice, size " << n;
      std::memset(p, 0xA5, n);
      got.emplace_back(p, n);
    }
  }
  for (auto [p, n] : got) pool_deallocate(p, n);
}

TEST(Pool, AFreedBlockIsTheNextOneOfItsClassOnTheSameThread) {
  void* a = pool_allocate(100);
  pool_deallocate(a, 100);
  void* b = pool_allocate(128);  // the same 128-byte class
  EXPECT_EQ(a, b);
  pool_deallocate(b, 128);
}

TEST(Pool, BlocksFreedOnAnotherThreadAreReusedWithoutMappingMore) {
  constexpr int kBlocks = 50'000;  // 9.6 MB of 192-byte blocks
  std::vector<void*> blocks(kBlocks);
  for (auto& p : blocks) p = pool_allocate(192);
  std::thread([&] {
    for (void* p : blocks) pool_deallocate(p, 192);
  }).join();  // the freeing thread's cache goes back to the depot as it exits
  const std::size_t before = pool_mapped_bytes();
  for (auto& p : blocks) p = pool_allocate(192);
  // All but the last partial batch of the exited thread come back through
  // the depot: at most that remainder is carved anew, well inside a region.
  EXPECT_LE(pool_mapped_bytes(), before + kRegion);
  std::set<void*> distinct(blocks.begin(), blocks.end());
  EXPECT_EQ(distinct.size(), blocks.size());
  for (void* p : blocks) pool_deallocate(p, 192);
}

TEST(Pool, ManyThreadsAllocatingAndFreeingAcrossEachOtherKeepBlocksDistinct) {
  constexpr int kThreads = 4, kRounds = 20, kPer = 2'000;
  std::vector<std::vector<void*>> handoff(kThreads);
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        std::vector<void*> mine(kPer);
        for (auto& p : mine) {
          p = pool_allocate(64);
          *static_cast<std::uintptr_t*>(p) = reinterpret_cast<std::uintptr_t>(p) ^ t;
        }
        for (void* p : mine)
          if (*static_cast<std::uintptr_t*>(p) != (reinterpret_cast<std::uintptr_t>(p) ^ t)) bad.fetch_add(1);
        for (void* p : mine) pool_deallocate(p, 64);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0) << "a block was handed to two threads at once";
}

TEST(Pool, ReserveMapsUpFrontAndLaterAllocationsUseIt) {
  const std::size_t base = pool_mapped_bytes();
  const std::size_t want = base + 3 * kRegion;
  pool_reserve(want);
  const std::size_t after = pool_mapped_bytes();
  EXPECT_GE(after, want);
  EXPECT_LT(after, want + kRegion);
  pool_reserve(want);  // already held: nothing more
  pool_reserve(0);
  EXPECT_EQ(pool_mapped_bytes(), after);
  // 2 regions' worth of fresh 256-byte blocks fit in what was reserved:
  // allocating them maps nothing (freed blocks of other classes may be
  // reused too, which only maps less).
  std::vector<void*> blocks(2 * kRegion / 256 - 1024);
  for (auto& p : blocks) p = pool_allocate(256);
  EXPECT_EQ(pool_mapped_bytes(), after);
  for (void* p : blocks) pool_deallocate(p, 256);
}

}  // namespace
}  // namespace airssys::rt::detail
