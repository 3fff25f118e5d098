#include "alert_dedup.hpp"

#include <gtest/gtest.h>

namespace airssys::daemoneye::detail {
namespace {

using namespace std::chrono_literals;

TEST(DedupWindow, SuppressesWithinTheWindowOnly) {
  DedupWindow d(60s);
  EXPECT_FALSE(d.suppressed("k", 1000));
  d.raised("k", 1000);
  EXPECT_TRUE(d.suppressed("k", 1000));
  EXPECT_TRUE(d.suppressed("k", 1059));
  EXPECT_FALSE(d.suppressed("other", 1001));
  EXPECT_FALSE(d.suppressed("k", 1060));
}

TEST(DedupWindow, RaisingAgainRestartsTheWindow) {
  DedupWindow d(60s);
  d.raised("k", 0);
  d.raised("k", 100);
  EXPECT_TRUE(d.suppressed("k", 159));
  EXPECT_FALSE(d.suppressed("k", 160));
}

TEST(DedupWindow, ZeroWindowSuppressesNothingAndStoresNothing) {
  DedupWindow d(0s);
  d.raised("k", 5);
  EXPECT_FALSE(d.suppressed("k", 5));
  EXPECT_EQ(d.size(), 0u);
}

TEST(DedupWindow, AClockThatWentBackDoesNotSuppress) {
  DedupWindow d(3600s);
  d.raised("k", 10'000);
  EXPECT_FALSE(d.suppressed("k", 9'000));
}

TEST(DedupWindow, OldKeysAreForgottenSoMemoryStaysBounded) {
  DedupWindow d(10s);
  for (int t = 0; t < 1000; ++t) d.raised("key" + std::to_string(t), t);
  // At 1000 only the keys raised at 991..999 are inside the 10 s window.
  (void)d.suppressed("x", 1000);
  EXPECT_EQ(d.size(), 9u);
  EXPECT_EQ(d.forgotten_early(), 0u);
}

TEST(DedupWindow, AtMostMaxKeysTheOldestGoFirst) {
  DedupWindow d(3600s, 3);
  d.raised("a", 1);
  d.raised("b", 2);
  d.raised("c", 3);
  d.raised("d", 4);
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.forgotten_early(), 1u);
  EXPECT_FALSE(d.suppressed("a", 5));
  EXPECT_TRUE(d.suppressed("b", 5));
  EXPECT_TRUE(d.suppressed("d", 5));
}

TEST(DedupWindow, RepeatedRaisesOfOneKeyDoNotGrowWithoutBound) {
  DedupWindow d(1'000'000s);
  for (int t = 0; t < 100'000; ++t) d.raised("same", t);
  EXPECT_EQ(d.size(), 1u);
  EXPECT_TRUE(d.suppressed("same", 100'000));
}

}  // namespace
}  // namespace airssys::daemoneye::detail
