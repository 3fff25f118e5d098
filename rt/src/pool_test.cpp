// The pool allocator as release builds ship it (built here with
// AIRSSYS_RT_POOL_ALWAYS, see rt/CMakeLists.txt). The pool is process-wide
// and never returns memory, so each case measures what it adds, not totals.
#include "pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
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
  const std::set<void*> first(blocks.begin(), blocks.end());
  std::thread([&] {
    for (void* p : blocks) pool_deallocate(p, 192);
  }).join();  // full batches spilled as it freed; the rest handed back as it exits
  const std::size_t before = pool_mapped_bytes();
  for (auto& p : blocks) p = pool_allocate(192);
  EXPECT_EQ(pool_mapped_bytes(), before);
  // This thread's own cache and an earlier batch may come first (each
  // fewer than 2 batches); everything else must be the blocks freed there.
  std::size_t again = 0;
  for (void* p : blocks) again += first.count(p);
  EXPECT_GE(again, static_cast<std::size_t>(kBlocks - 4 * 128));
  EXPECT_EQ(std::set<void*>(blocks.begin(), blocks.end()).size(), blocks.size());
  for (void* p : blocks) pool_deallocate(p, 192);
}

TEST(Pool, WhatAnExitingThreadHeldBeyondFullBatchesIsHandedOutAgain) {
  // 448-byte blocks: a class no other case uses, so this thread's cache and
  // the depot hold none of them yet.
  constexpr std::size_t kSize = 448;
  std::vector<void*> kept, returned;
  std::thread([&] {
    std::vector<void*> all(128);  // one carved batch
    for (auto& p : all) p = pool_allocate(kSize);
    kept.assign(all.begin(), all.begin() + 50);
    returned.assign(all.begin() + 50, all.end());
    for (void* p : returned) pool_deallocate(p, kSize);
  }).join();  // exits holding 78: less than a batch
  const std::size_t before = pool_mapped_bytes();
  std::set<void*> want(returned.begin(), returned.end()), got;
  for (std::size_t i = 0; i < returned.size(); ++i) got.insert(pool_allocate(kSize));
  EXPECT_EQ(got, want) << "the exited thread's remainder was not handed out again";
  EXPECT_EQ(pool_mapped_bytes(), before);
  for (void* p : got) pool_deallocate(p, kSize);
  for (void* p : kept) pool_deallocate(p, kSize);
}

TEST(Pool, BlocksFreedByOtherThreadsWhileTheyAllocateAreNeverHandedOutTwice) {
  constexpr int kThreads = 4, kRounds = 50, kPer = 1'000;
  using Tagged = std::pair<void*, int>;  // a block and the thread that tagged it
  std::mutex m;
  std::vector<std::vector<Tagged>> inbox(kThreads);
  std::atomic<int> bad{0};
  auto tag_of = [](void* p, int t) { return reinterpret_cast<std::uintptr_t>(p) ^ static_cast<std::uintptr_t>(t + 1); };
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        std::vector<Tagged> mine(kPer);
        for (auto& [p, owner] : mine) {
          p = pool_allocate(64);
          owner = t;
          *static_cast<std::uintptr_t*>(p) = tag_of(p, t);
        }
        std::vector<Tagged> theirs;
        {
          std::lock_guard lk(m);
          auto& next = inbox[(t + 1) % kThreads];
          next.insert(next.end(), mine.begin(), mine.end());
          theirs.swap(inbox[t]);
        }
        // Another thread's blocks, freed here: their tags must be intact
        // (a block handed to two threads at once would be overwritten).
        for (auto [p, owner] : theirs) {
          if (*static_cast<std::uintptr_t*>(p) != tag_of(p, owner)) bad.fetch_add(1);
          pool_deallocate(p, 64);
        }
      }
    });
  for (auto& t : ts) t.join();
  for (auto& box : inbox)
    for (auto [p, owner] : box) {
      if (*static_cast<std::uintptr_t*>(p) != tag_of(p, owner)) bad.fetch_add(1);
      pool_deallocate(p, 64);
    }
  EXPECT_EQ(bad.load(), 0) << "a block was handed to two threads at once";
}

long anon_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stol(line.substr(8));
  return -1;
}

TEST(Pool, ReserveMapsAndFaultsInUpFrontAndLaterAllocationsUseIt) {
  const std::size_t base = pool_mapped_bytes();
  const std::size_t want = base + 3 * kRegion;
  const long rss0 = anon_rss_kb();
  pool_reserve(want);
  const long rss1 = anon_rss_kb();
  const std::size_t after = pool_mapped_bytes();
  EXPECT_GE(after, want);
  EXPECT_LT(after, want + kRegion);
  // Resident at once, not on first use: 3 regions, 6 MiB, less slack.
  EXPECT_GE(rss1 - rss0, 5 * 1024) << "RssAnon " << rss0 << " -> " << rss1 << " kB";
  pool_reserve(want);  // already held: nothing more
  pool_reserve(0);
  EXPECT_EQ(pool_mapped_bytes(), after);
  // 2 regions' worth of fresh 256-byte blocks fit in what was reserved:
  // allocating them maps nothing.
  std::vector<void*> blocks(2 * kRegion / 256 - 1024);
  for (auto& p : blocks) p = pool_allocate(256);
  EXPECT_EQ(pool_mapped_bytes(), after);
  for (void* p : blocks) pool_deallocate(p, 256);
}

}  // namespace
}  // namespace airssys::rt::detail
