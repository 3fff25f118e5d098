#include "alert_rate_limit.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace airssys::daemoneye::detail {
namespace {

using namespace std::chrono_literals;

TEST(RateLimiter, CountsPerRule) {
  RateLimiter r(3, 60s);
  EXPECT_EQ(r.remaining("a", 0), 3u);
  r.raised("a", 0, 2);
  EXPECT_EQ(r.remaining("a", 0), 1u);
  EXPECT_EQ(r.remaining("b", 0), 3u);
  r.raised("a", 0);
  EXPECT_EQ(r.remaining("a", 59), 0u);
}

TEST(RateLimiter, TheWindowSlides) {
  RateLimiter r(3, 60s);
  r.raised("a", 0, 2);
  r.raised("a", 30, 1);
  EXPECT_EQ(r.remaining("a", 59), 0u);
  EXPECT_EQ(r.remaining("a", 60), 2u);  // the two from second 0 left the window
  r.raised("a", 60, 2);
  EXPECT_EQ(r.remaining("a", 89), 0u);
  EXPECT_EQ(r.remaining("a", 90), 1u);
}

TEST(RateLimiter, ZeroMeansUnlimited) {
  RateLimiter r(0, 60s);
  r.raised("a", 0, 1'000'000);
  EXPECT_EQ(r.remaining("a", 0), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(r.rules_tracked(), 0u);
}

TEST(RateLimiter, RulesWithAnEmptyWindowAreForgotten) {
  RateLimiter r(5, 10s);
  for (int i = 0; i < 100; ++i) r.raised("rule" + std::to_string(i), 0);
  EXPECT_EQ(r.rules_tracked(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.remaining("rule" + std::to_string(i), 10), 5u);
  EXPECT_EQ(r.rules_tracked(), 0u);
}

TEST(RateLimiter, ABackwardClockErrsTowardsFewerAlerts) {
  RateLimiter r(2, 60s);
  r.raised("a", 1000, 2);
  EXPECT_EQ(r.remaining("a", 500), 0u);
  EXPECT_EQ(r.remaining("a", 1060), 2u);
}

}  // namespace
}  // namespace airssys::daemoneye::detail
