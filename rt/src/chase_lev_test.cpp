// Work-stealing deque: every pushed item is taken exactly once under
// concurrent pop/steal; growth keeps items.
#include "chase_lev.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

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
