#include <airssys/osl/detail/utf8.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace {

using airssys::osl::detail::utf8_sequence_length;

// UTF-8 of `cp` as RFC 3629 writes it (surrogates too, to test refusing them).
std::string encode(std::uint32_t cp) {
  std::string s;
  const auto put = [&](std::uint32_t b) { s += static_cast<char>(b); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6)), put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12)), put(0x80 | ((cp >> 6) & 0x3F)), put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18)), put(0x80 | ((cp >> 12) & 0x3F)), put(0x80 | ((cp >> 6) & 0x3F)), put(0x80 | (cp & 0x3F));
  }
  return s;
}

TEST(Utf8, EveryScalarValueIsOneSequenceOfItsLength) {
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string s = encode(cp) + "x";
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    ASSERT_EQ(utf8_sequence_length(s, 0), surrogate ? 0 : s.size() - 1) << std::hex << cp;
  }
}

TEST(Utf8, EveryTwoByteTextIsJudgedByTheRfc) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string s{static_cast<char>(a), static_cast<char>(b)};
      const std::size_t want = a < 0x80 ? 1 : (a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF) ? 2 : 0;
      ASSERT_EQ(utf8_sequence_length(s, 0), want) << a << " " << b;
    }
  }
}

TEST(Utf8, OverlongPastTheEndAndCutShortAreNone) {
  for (const char* bad : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF",
                          "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80", "\xFF", "\x80", "\xBF",
                          "\xE2\x28\xA1", "\xE2\x82\x28", "\xF0\x28\x8C\xBC", "\xF0\x90\x28\xBC", "\xF0\x90\x8C\x28",
                          "\xED\xA0\x80", "\xED\xBF\xBF"}) {
    EXPECT_EQ(utf8_sequence_length(bad, 0), 0U) << bad;
  }
  const std::string euro = "a\xE2\x82\xAC";
  EXPECT_EQ(utf8_sequence_length(euro, 1), 3U) << "at an offset";
  for (std::size_t cut = 2; cut < euro.size(); ++cut) {
    EXPECT_EQ(utf8_sequence_length(std::string_view(euro).substr(0, cut), 1), 0U) << cut;
  }
  static_assert(utf8_sequence_length("\xF4\x8F\xBF\xBF", 0) == 4, "usable at compile time");
}

}  // namespace
