// The one RFC 3339 formatter (utc_time.hpp): exact text at the edges the
// callers meet, and a per-thread cache that never hands out a stale second.
#include <airssys/osl/utc_time.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace osl = airssys::osl;
using std::chrono::microseconds;
using std::chrono::nanoseconds;
using std::chrono::sys_time;

namespace {

std::string at(std::int64_t secs, std::uint32_t nanos, int digits) {
  std::string out = "x";  // appends, never replaces
  osl::append_utc_time(out, secs, nanos, digits);
  return out;
}

TEST(UtcTime, FormatsSecondsAndCutsTheFraction) {
  EXPECT_EQ(at(0, 0, 0), "x1970-01-01T00:00:00Z");
  EXPECT_EQ(at(1'796'392'800, 999'999'999, 9), "x2026-12-04T14:00:00.999999999Z");
  EXPECT_EQ(at(1'796'392'800, 999'999'999, 6), "x2026-12-04T14:00:00.999999Z");  // cut, not rounded to the next second
  EXPECT_EQ(at(1'796'392'800, 5'000, 6), "x2026-12-04T14:00:00.000005Z");
  EXPECT_EQ(at(1'796'392'800, 123'456'789, 3), "x2026-12-04T14:00:00.123Z");
  EXPECT_EQ(osl::utc_time(1'796'392'800), "2026-12-04T14:00:00Z");
}

TEST(UtcTime, YearsTheFormatCannotShowAreADash) {
  EXPECT_EQ(osl::utc_time(253'402'300'799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(osl::utc_time(253'402'300'800), "-");
  EXPECT_EQ(osl::utc_time(-62'167'219'200), "0000-01-01T00:00:00Z");
  EXPECT_EQ(osl::utc_time(-62'167'219'201), "-");
  EXPECT_EQ(osl::utc_time(INT64_MAX), "-");
  EXPECT_EQ(osl::utc_time(INT64_MIN), "-");
  // A dash does not poison the cache for the next valid second.
  EXPECT_EQ(osl::utc_time(0), "1970-01-01T00:00:00Z");
}

TEST(UtcTime, TimePointsBefore1970CountTheFractionForward) {
  std::string out;
  osl::append_utc_time(out, sys_time<nanoseconds>(nanoseconds(-250'000'000)), 9);
  EXPECT_EQ(out, "1969-12-31T23:59:59.750000000Z");
  out.clear();
  osl::append_utc_time(out, sys_time<microseconds>(microseconds(-1)), 6);
  EXPECT_EQ(out, "1969-12-31T23:59:59.999999Z");
  out.clear();
  // Microseconds reach years nanoseconds cannot (int64 ns end in 2262).
  osl::append_utc_time(out, sys_time<microseconds>(microseconds(253'402'300'799'000'001)), 6);
  EXPECT_EQ(out, "9999-12-31T23:59:59.000001Z");
  out.clear();
  osl::append_utc_time(out, sys_time<microseconds>(microseconds(253'402'300'800'000'000)), 6);
  EXPECT_EQ(out, "-");
}

TEST(UtcTime, TheCacheFollowsEverySecondOnEveryThread) {
  // Alternating seconds on two threads: each call's text is its own second.
  const auto check = [](std::int64_t base) {
    for (int i = 0; i < 2000; ++i) {
      const std::int64_t s = base + (i % 3) * 86'401;
      const std::string want = i % 3 == 0 ? "2026-12-04T14:00:00Z" : i % 3 == 1 ? "2026-12-05T14:00:01Z" : "2026-12-06T14:00:02Z";
      if (base == 1'796'392'800) ASSERT_EQ(osl::utc_time(s), want) << i;
      else ASSERT_EQ(osl::utc_time(s).substr(0, 4), "2001") << i;
    }
  };
  std::thread other(check, 978'307'200);  // 2001-01-01
  check(1'796'392'800);
  other.join();
}

}  // namespace
