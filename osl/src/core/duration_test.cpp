// osl::parse_duration / parse_whole_number: every accepted spelling, and the
// exact message a person sees for each kind of bad input.

#include <airssys/osl/duration.hpp>

#include <gtest/gtest.h>

namespace airssys::osl {
namespace {

using namespace std::chrono_literals;

TEST(Duration, AcceptsEveryUnit) {
  const DurationRules r{.what = "--timeout"};
  EXPECT_EQ(parse_duration("500ms", r).value(), 500ms);
  EXPECT_EQ(parse_duration("90s", r).value(), 90s);
  EXPECT_EQ(parse_duration("15m", r).value(), 15min);
  EXPECT_EQ(parse_duration("2h", r).value(), 2h);
  EXPECT_EQ(parse_duration("1d", r).value(), 24h);
  EXPECT_EQ(parse_duration("007s", r).value(), 7s);
  EXPECT_EQ(parse_duration("36500d", r).value(), 36500 * 24h);
}

TEST(Duration, ABareNumberIsSecondsOrNeedsAUnitAsTheCallerSays) {
  EXPECT_EQ(parse_duration("7", {}).value(), 7s);
  const DurationRules strict{.what = "scan_interval", .bare_number_is_seconds = false, .allow_zero = true};
  EXPECT_EQ(parse_duration("0", strict).value(), 0ms);
  auto e = parse_duration("5", strict);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(e.error().message, "scan_interval: '5' needs a unit (ms, s, m, h or d); use e.g. 5s");
}

TEST(Duration, FractionsOnlyWhereAllowedRoundedToTheMillisecond) {
  const DurationRules frac{.what = "--timeout", .allow_fraction = true};
  EXPECT_EQ(parse_duration("1.5s", frac).value(), 1500ms);
  EXPECT_EQ(parse_duration("0.25m", frac).value(), 15s);
  EXPECT_EQ(parse_duration("0.0005s", frac).value(), 1ms);  // half up
  EXPECT_EQ(parse_duration("2.5", frac).value(), 2500ms);
  EXPECT_EQ(parse_duration("1.000000000000000000000001h", frac).value(), 1h);
  auto e = parse_duration("1.5s", {.what = "--grace"});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message, "--grace: '1.5s' is not a whole number of a unit; use e.g. 1500ms or 90s");
}

TEST(Duration, ZeroOnlyWhereAllowed) {
  EXPECT_EQ(parse_duration("0s", {.allow_zero = true}).value(), 0ms);
  auto e = parse_duration("0s", {.what = "--timeout"});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message, "--timeout: '0s' is zero; give a duration above 0, e.g. 30s, 5m, 1h");
  // Rounds to zero milliseconds: as good as zero.
  EXPECT_FALSE(parse_duration("0.0001s", {.allow_fraction = true}));
}

TEST(Duration, BadInputSaysWhatToTypeInstead) {
  struct Case {
    std::string_view text;
    std::string_view message;
  };
  const DurationRules r{.what = "--timeout"};
  for (const Case& c : {
           Case{"5x", "--timeout: '5x' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{"", "--timeout: no value given; use e.g. 30s, 5m, 1h"},
           Case{"s", "--timeout: 's' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{"1S", "--timeout: '1S' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{"1 s", "--timeout: '1 s' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{" 1s", "--timeout: ' 1s' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{"1m30s", "--timeout: '1m30s' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{"+5s", "--timeout: '+5s' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{"5.s", "--timeout: '5.s' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{".5s", "--timeout: '.5s' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{"-5s", "--timeout: '-5s' is negative; use e.g. 30s, 5m, 1h"},
           Case{"36501d", "--timeout: '36501d' is too large (at most 36500d)"},
           Case{"99999999999999999999999s", "--timeout: '99999999999999999999999s' is too large (at most 36500d)"},
           Case{"18446744073709551615d", "--timeout: '18446744073709551615d' is too large (at most 36500d)"},
           Case{"1\x1b[2Js", "--timeout: '1\\x1b[2Js' is not a duration; use e.g. 30s, 5m, 1h"},
           Case{std::string_view("1\0s", 3), "--timeout: '1\\x00s' is not a duration; use e.g. 30s, 5m, 1h"},
       }) {
    auto d = parse_duration(c.text, r);
    ASSERT_FALSE(d) << c.text;
    EXPECT_EQ(d.error().category, ErrorCategory::invalid_argument);
    EXPECT_EQ(d.error().message, c.message);
  }
}

TEST(Duration, TheCallerSetsTheLargest) {
  const DurationRules year{.what = "--timeout", .max = 365 * 24h};
  EXPECT_EQ(parse_duration("365d", year).value(), 365 * 24h);
  auto e = parse_duration("8761h", year);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message, "--timeout: '8761h' is too large (at most 365d)");
}

TEST(Duration, LongInputIsShortenedInTheMessage) {
  auto e = parse_duration(std::string(1000, '9') + "x", {.what = "--timeout"});
  ASSERT_FALSE(e);
  EXPECT_LT(e.error().message.size(), 120u);
}

TEST(Duration, FormatsTheShortestExactSpelling) {
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(26h), "1d2h");
}

TEST(WholeNumber, WithinTheCallersBounds) {
  const NumberRules r{.what = "--count", .min = 1, .max = 1000};
  EXPECT_EQ(parse_whole_number("1", r).value(), 1u);
  EXPECT_EQ(parse_whole_number("1000", r).value(), 1000u);
  struct Case {
    std::string_view text;
    std::string_view message;
  };
  for (const Case& c : {
           Case{"ten", "--count: 'ten' is not a whole number; use e.g. 10"},
           Case{"", "--count: no value given; use e.g. 10"},
           Case{"-1", "--count: '-1' is not a whole number; use e.g. 10"},
           Case{"1.5", "--count: '1.5' is not a whole number; use e.g. 10"},
           Case{"10k", "--count: '10k' is not a whole number; use e.g. 10"},
           Case{"0", "--count: 0 is too small (at least 1)"},
           Case{"1001", "--count: '1001' is too large (at most 1000)"},
           Case{"99999999999999999999999", "--count: '99999999999999999999999' is too large (at most 1000)"},
       }) {
    auto n = parse_whole_number(c.text, r);
    ASSERT_FALSE(n) << c.text;
    EXPECT_EQ(n.error().message, c.message);
  }
}

TEST(Size, EveryUnitInAnyCase) {
  struct Case {
    std::string_view text;
    std::uint64_t bytes;
  };
  for (const Case& c : {Case{"0", 0}, Case{"100", 100}, Case{"100b", 100}, Case{"64K", 64ULL << 10}, Case{"64k", 64ULL << 10},
                        Case{"64KiB", 64ULL << 10}, Case{"512M", 512ULL << 20}, Case{"512mib", 512ULL << 20},
                        Case{"2G", 2ULL << 30}, Case{"2GiB", 2ULL << 30}, Case{"1T", 1ULL << 40}, Case{"1TiB", 1ULL << 40},
                        Case{"5KB", 5000}, Case{"5mb", 5'000'000}, Case{"5GB", 5'000'000'000}, Case{"5TB", 5'000'000'000'000}}) {
    auto n = parse_size(c.text);
    ASSERT_TRUE(n) << c.text << ": " << n.error().message;
    EXPECT_EQ(*n, c.bytes) << c.text;
  }
}

TEST(Size, KBReadsAsKWhereTheCallerSays) {
  const SizeRules binary{.kb_is_1000 = false};
  EXPECT_EQ(parse_size("1GB", binary).value(), 1ULL << 30);
  EXPECT_EQ(parse_size("512MB", binary).value(), 512ULL << 20);
  EXPECT_EQ(parse_size("3kb", binary).value(), 3ULL << 10);
  EXPECT_EQ(parse_size("3KiB", binary).value(), 3ULL << 10);
}

TEST(Size, BadInputSaysWhatToTypeInstead) {
  const SizeRules r{.what = "--memory", .min = 1ULL << 20};
  struct Case {
    std::string_view text;
    std::string_view message;
  };
  for (const Case& c : {
           Case{"", "--memory: no value given; use e.g. 512M, 2G"},
           Case{"12Q", "--memory: '12Q' is not a size; use e.g. 512M, 2G"},
           Case{"M", "--memory: 'M' is not a size; use e.g. 512M, 2G"},
           Case{"-1M", "--memory: '-1M' is not a size; use e.g. 512M, 2G"},
           Case{"1.5G", "--memory: '1.5G' is not a size; use e.g. 512M, 2G"},
           Case{"1 G", "--memory: '1 G' is not a size; use e.g. 512M, 2G"},
           Case{"512K", "--memory: '512K' is too small (at least 1M)"},
           Case{"99999999999T", "--memory: '99999999999T' is too large (at most 18446744073709551615)"},
           Case{"99999999999999999999", "--memory: '99999999999999999999' is too large (at most 18446744073709551615)"},
       }) {
    auto n = parse_size(c.text, r);
    ASSERT_FALSE(n) << c.text;
    EXPECT_EQ(n.error().category, ErrorCategory::invalid_argument);
    EXPECT_EQ(n.error().message, c.message);
  }
  EXPECT_EQ(parse_size("3G", {.what = "x", .max = 2ULL << 30}).error().message, "x: '3G' is too large (at most 2G)");
  EXPECT_EQ(parse_size("16777216T", {}).error().message, "'16777216T' is too large (at most 18446744073709551615)");
}

TEST(Size, FormatsTheShortestExactBinarySpelling) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(1ULL << 20), "1M");
  EXPECT_EQ(format_size(3ULL << 30), "3G");
  EXPECT_EQ(format_size(1ULL << 40), "1T");
}

}  // namespace
}  // namespace airssys::osl
