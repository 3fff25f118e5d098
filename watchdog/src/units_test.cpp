#include <airssys/watchdog/units.hpp>

#include <gtest/gtest.h>

#include <tuple>

using namespace airssys::watchdog;
using namespace std::chrono_literals;

TEST(Units, Durations) {
  EXPECT_EQ(parse_duration("90s").value(), 90s);
  EXPECT_EQ(parse_duration("15m").value(), 15min);
  EXPECT_EQ(parse_duration("2h").value(), 2h);
  EXPECT_EQ(parse_duration("500ms").value(), 500ms);
  EXPECT_EQ(parse_duration("1d").value(), 24h);
  EXPECT_EQ(parse_duration("7").value(), 7s);
  for (const char* bad : {"", "s", "10x", "-5s", "1.5s", "10 s", "99999999999999999999s", "9999999d"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().category, ErrorCategory::usage);
  }
  EXPECT_EQ(parse_duration("5x", "--timeout").error().message, "--timeout: '5x' is not a duration; use e.g. 30s, 5m, 1h");
}

TEST(Units, Sizes) {
  EXPECT_EQ(parse_size("512M").value(), 512ULL << 20);
  EXPECT_EQ(parse_size("2G").value(), 2ULL << 30);
  EXPECT_EQ(parse_size("64K").value(), 64ULL << 10);
  EXPECT_EQ(parse_size("100").value(), 100U);
  EXPECT_EQ(parse_size("1GB").value(), 1ULL << 30);
  EXPECT_FALSE(parse_size("12Q"));
  EXPECT_FALSE(parse_size("M"));
  EXPECT_FALSE(parse_size("99999999999T"));
  EXPECT_EQ(parse_size("12Q", "--memory").error().message, "--memory: '12Q' is not a size; use e.g. 512M, 2G");
  EXPECT_EQ(parse_size("12Q").error().category, ErrorCategory::usage);
}

// osl::format_duration underneath (its cases are in osl.duration).
TEST(Units, FormatDuration) { EXPECT_EQ(format_duration(90s), "1m30s"); }

TEST(Units, TaskIds) {
  EXPECT_TRUE(valid_task_id("build-1_A"));
  EXPECT_TRUE(valid_task_id(std::string(64, 'a')));
  EXPECT_FALSE(valid_task_id(std::string(65, 'a')));
  EXPECT_FALSE(valid_task_id(""));
  EXPECT_FALSE(valid_task_id("a b"));
  EXPECT_FALSE(valid_task_id("../x"));
  EXPECT_FALSE(valid_task_id("a.b"));
}

TEST(Units, Limits) {
  auto l = parse_limits("512M", "0.5", "32");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l->memory_bytes, 512ULL << 20);
  EXPECT_DOUBLE_EQ(*l->cpus, 0.5);
  EXPECT_EQ(*l->pids, 32u);
  EXPECT_FALSE(parse_limits("", "", "")->any());
  EXPECT_EQ(parse_limits("100K", "", "").error().message, "--memory: '100K' is too small (at least 1M)");
  EXPECT_EQ(*parse_limits("1MB", "", "")->memory_bytes, 1ULL << 20);
  // A long value is shown cut (outside probe, session 11: 100 KB came back whole).
  const std::string big(100'000, 'v');
  const std::string cut = std::string(64, 'v') + "… (100000 bytes)";
  EXPECT_EQ(parse_limits("", big, "").error().message,
            "invalid --cpus '" + cut + "': expected a number of CPUs from 0.01 to 4096, e.g. 0.5 or 2");
  EXPECT_EQ(parse_limits("", "", big).error().message,
            "invalid --pids '" + cut + "': expected a whole number of processes, at least 1");
  for (auto [m, c, p] : {std::tuple{"12Q", "", ""}, {"100K", "", ""}, {"", "0", ""}, {"", "-1", ""}, {"", "1.5x", ""},
                         {"", "nan", ""}, {"", "", "0"}, {"", "", "3.5"}, {"", "", "-2"}}) {
    auto r = parse_limits(m, c, p);
    ASSERT_FALSE(r) << m << "|" << c << "|" << p;
    EXPECT_EQ(r.error().category, ErrorCategory::usage);
  }
}
