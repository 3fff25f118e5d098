// Work-stealing deque: every pushed item is taken exactly once under
// concurrent pop/steal; growth keeps items.
#include "chase_lev.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

// While set, this thread's allocations fail (try_push's growth without memory).
thread_local bool fail_allocations = false;

void* operator new(std::size_t n) {
  if (fail_allocations) throw std::bad_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// The replacement pair is malloc/free; g++ at -O2 sees free() of what an
// inlined new-expression returned and warns of a mismatch that is not one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

struct Node { std::atomic<int> taken{0}; };

TEST(ChaseLev, OwnerLifoThiefFifo) {
  airssys::rt::detail::ChaseLevDeque<Node> d(1);
  Node a, b, c;
  d.push(&a);
  d.push(&b);
  d.push(&c);  // grows
  EXPECT_EQ(d.steal(), &a);
  EXPECT_EQ(d.pop(), &c);
  EXPECT_EQ(d.pop(), &b);
  EXPECT_EQ(d.pop(), nullptr);
  EXPECT_EQ(d.steal(), nullptr);
}

TEST(ChaseLev, TryPushRefusesAtTheLimitUntilSomethingIsTaken) {
  airssys::rt::detail::ChaseLevDeque<Node> d(1);
  Node a, b, c;
  EXPECT_TRUE(d.try_push(&a, 2));
  EXPECT_TRUE(d.try_push(&b, 2));
  EXPECT_FALSE(d.try_push(&c, 2));
  EXPECT_EQ(d.steal(), &a);  // a thief made room: seen on the next try
  EXPECT_TRUE(d.try_push(&c, 2));
  EXPECT_EQ(d.pop(), &c);
  EXPECT_EQ(d.pop(), &b);
  EXPECT_EQ(d.pop(), nullptr);
}

// The scheduler's noexcept paths push with try_push: growth that finds no
// memory refuses (the caller sends the cell elsewhere), the deque unchanged.
TEST(ChaseLev, TryPushRefusesWhenGrowingFindsNoMemory) {
  airssys::rt::detail::ChaseLevDeque<Node> d(1);
  Node a, b, c;
  EXPECT_TRUE(d.try_push(&a, INT64_MAX));
  EXPECT_TRUE(d.try_push(&b, INT64_MAX));
  fail_allocations = true;
  const bool pushed = d.try_push(&c, INT64_MAX);  // needs a bigger array
  fail_allocations = false;
  EXPECT_FALSE(pushed);
  EXPECT_EQ(d.pop(), &b);
  EXPECT_EQ(d.pop(), &a);
  EXPECT_EQ(d.pop(), nullptr);
  EXPECT_TRUE(d.try_push(&c, INT64_MAX));
  EXPECT_EQ(d.pop(), &c);
}

TEST(ChaseLev, PushManyKeepsOrderAndGrows) {
  airssys::rt::detail::ChaseLevDeque<Node> d(1);  // room for 2: push_many must grow twice
  Node a, b, c, e, f;
  d.push(&a);
  Node* more[] = {&b, &c, &e, &f};
  d.push_many(more, 4);
  EXPECT_EQ(d.peek(), &f);
  EXPECT_EQ(d.steal(), &a);
  EXPECT_EQ(d.steal(), &b);
  EXPECT_EQ(d.pop(), &f);
  EXPECT_EQ(d.peek(), &e);
  EXPECT_EQ(d.pop(), &e);
  EXPECT_EQ(d.pop(), &c);
  EXPECT_EQ(d.pop(), nullptr);
  d.push_many(more, 0);
  EXPECT_EQ(d.pop(), nullptr);
}

TEST(ChaseLev, PeekOnAFreshDequeIsNull) {
  airssys::rt::detail::ChaseLevDeque<Node> d(2);
  EXPECT_EQ(d.peek(), nullptr);
}

// peek() once compared bottom_ with the owner's stale copy of top_ (fixed in
// b6b176c): on a deque emptied by a thief or by pop() it named the item last
// taken from the bottom slot, and the worker prefetched (exclusive) the lines
// of a cell another core was running.
TEST(ChaseLev, PeekOnADequeEmptiedByATakeIsNull) {
  airssys::rt::detail::ChaseLevDeque<Node> d(2);
  Node a, b;
  d.push(&a);
  EXPECT_EQ(d.peek(), &a);
  EXPECT_EQ(d.steal(), &a);
  EXPECT_EQ(d.peek(), nullptr);
  d.push(&b);
  EXPECT_EQ(d.pop(), &b);  // the last item: pop() advances top_ itself
  EXPECT_EQ(d.peek(), nullptr);
}

// Batches published with one store: thieves see every item of a batch
// exactly once, never a slot of a batch that is not yet published.
TEST(ChaseLev, ConcurrentStealOfBatchesTakesEachOnce) {
  constexpr int kN = 200000, kBatch = 62;
  std::vector<Node> nodes(kN);
  airssys::rt::detail::ChaseLevDeque<Node> d(2);
  std::atomic<bool> done{false};
  std::atomic<int> total{0};
  auto take = [&](Node* n) {
    ASSERT_NE(n, nullptr);
    n->taken++;
    total++;
  };
  auto thief = [&] {
    while (!done.load())
      if (Node* n = d.steal()) take(n);
  };
  std::thread t1(thief), t2(thief);
  std::vector<Node*> batch;
  for (int i = 0; i < kN; i += kBatch) {
    batch.clear();
    for (int k = i; k < std::min(kN, i + kBatch); ++k) batch.push_back(&nodes[k]);
    d.push_many(batch.data(), static_cast<std::int64_t>(batch.size()));
    if (i % 3 == 0)
      if (Node* n = d.pop()) take(n);
  }
  while (Node* n = d.pop()) take(n);
  while (total.load() < kN) std::this_thread::yield();
  done = true;
  t1.join();
  t2.join();
  for (auto& n : nodes) ASSERT_EQ(n.taken.load(), 1);
}

TEST(ChaseLev, ConcurrentPopAndStealTakeEachOnce) {
  constexpr int kN = 200000;
  std::vector<Node> nodes(kN);
  airssys::rt::detail::ChaseLevDeque<Node> d(2);
  std::atomic<bool> done{false};
  std::atomic<int> total{0};
  auto thief = [&] {
    while (!done.load()) {
      if (Node* n = d.steal()) {
        n->taken++;
        total++;
      }
    }
  };
  std::thread t1(thief), t2(thief);
  for (int i = 0; i < kN; ++i) {
    d.push(&nodes[i]);
    if (i % 3 == 0)
      if (Node* n = d.pop()) {
        n->taken++;
        total++;
      }
  }
  while (Node* n = d.pop()) {
    n->taken++;
    total++;
  }
  while (total.load() < kN) std::this_thread::yield();
  done = true;
  t1.join();
  t2.join();
  for (auto& n : nodes) ASSERT_EQ(n.taken.load(), 1);
}

}  // namespace
