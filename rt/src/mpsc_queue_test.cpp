// Intrusive MPSC queue: every node pushed by many producers is popped
// exactly once, in per-producer FIFO order.
#include <airssys/rt/detail/mpsc_queue.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

namespace {

struct Item : airssys::rt::detail::MpscNode {
  int producer = 0;
  int seq = 0;
};

TEST(MpscQueue, ManyProducersOneConsumer) {
  constexpr int kProducers = 4, kEach = 50000;
  std::vector<std::unique_ptr<Item[]>> items;
  for (int p = 0; p < kProducers; ++p) items.push_back(std::make_unique<Item[]>(kEach));
  airssys::rt::detail::MpscQueue q;
  std::vector<std::thread> ps;
  for (int p = 0; p < kProducers; ++p)
    ps.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        items[p][i].producer = p;
        items[p][i].seq = i;
        q.push(&items[p][i]);
      }
    });
  std::vector<int> next(kProducers, 0);
  int got = 0;
  while (got < kProducers * kEach) {
    auto* n = static_cast<Item*>(q.pop());
    if (n == nullptr) {
      std::this_thread::yield();  // empty, or a producer is mid-push
      continue;
    }
    ASSERT_EQ(n->seq, next[n->producer]);
    ++next[n->producer];
    ++got;
  }
  for (auto& t : ps) t.join();
  EXPECT_EQ(q.pop(), nullptr);
}

// Chains of 1-7 nodes, linked by the producer, keep per-producer order
// and lose nothing beside single pushes from other threads.
TEST(MpscQueue, ChainsAndSinglePushesFromManyProducers) {
  constexpr int kProducers = 3, kEach = 30000;
  std::vector<std::unique_ptr<Item[]>> items;
  for (int p = 0; p < kProducers; ++p) items.push_back(std::make_unique<Item[]>(kEach));
  airssys::rt::detail::MpscQueue q;
  std::vector<std::thread> ps;
  for (int p = 0; p < kProducers; ++p)
    ps.emplace_back([&, p] {
      int i = 0;
      while (i < kEach) {
        const int len = p == 0 ? 1 : std::min(1 + i % 7, kEach - i);
        for (int k = 0; k < len; ++k) {
          items[p][i + k].producer = p;
          items[p][i + k].seq = i + k;
          if (k > 0) items[p][i + k - 1].next.store(&items[p][i + k], std::memory_order_relaxed);
        }
        if (len == 1) q.push(&items[p][i]);
        else q.push_chain(&items[p][i], &items[p][i + len - 1]);
        i += len;
      }
    });
  std::vector<int> next(kProducers, 0);
  int got = 0;
  while (got < kProducers * kEach) {
    auto* n = static_cast<Item*>(q.pop());
    if (n == nullptr) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(n->seq, next[n->producer]);
    ++next[n->producer];
    ++got;
  }
  for (auto& t : ps) t.join();
  EXPECT_EQ(q.pop(), nullptr);
}

}  // namespace
