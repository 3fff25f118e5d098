#include <airssys/osl/detail/shown_text.hpp>

#include <gtest/gtest.h>

#include <string>

namespace airssys::osl::detail {
namespace {

TEST(ShownText, ShortTextIsShownWhole) {
  EXPECT_EQ(shown_text("debug"), "debug");
  EXPECT_EQ(shown_text(""), "");
  EXPECT_EQ(shown_text(std::string(64, 'a')), std::string(64, 'a')) << "64 bytes is not cut";
  EXPECT_EQ(shown_text("caf\xc3\xa9"), "caf\xc3\xa9") << "UTF-8 passes";
}

TEST(ShownText, LongTextIsCutAndItsLengthGiven) {
  EXPECT_EQ(shown_text(std::string(500'000, 'A')), std::string(64, 'A') + "… (500000 bytes)");
  EXPECT_EQ(shown_text(std::string(65, 'A')), std::string(64, 'A') + "… (65 bytes)");
  EXPECT_EQ(shown_text("abcdef", 3), "abc… (6 bytes)");
}

TEST(ShownText, TheCutDoesNotSplitACharacter) {
  // 63 ASCII bytes, then a 2-byte letter across the 64-byte mark.
  const std::string text = std::string(63, 'a') + "\xc3\xa9" + "zz";
  EXPECT_EQ(shown_text(text), std::string(63, 'a') + "… (67 bytes)");
  // A 4-byte character cut after its first byte goes whole.
  EXPECT_EQ(shown_text("ab\xf0\x9f\x98\x80yz", 3), "ab… (8 bytes)");
}

TEST(ShownText, ControlBytesAndQuotesAreEscaped) {
  EXPECT_EQ(shown_text("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(shown_text(std::string("n\0l\n", 4)), "n\\x00l\\x0a");
  EXPECT_EQ(shown_text("it's \"x\" \\ \x7f"), "it\\x27s \"x\" \\x5c \\x7f");
}

}  // namespace
}  // namespace airssys::osl::detail
