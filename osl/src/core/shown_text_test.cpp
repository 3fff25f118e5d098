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

// Review of 0082308: shown_path's paths are shown unquoted, so an escaped '
// (o\x27brien) could not be copied or grepped. \ is still escaped, so every
// \ in the result starts an escape.
TEST(ShownPath, KeepsQuotesAndEscapesTheRest) {
  EXPECT_EQ(shown_path("/tmp/o'brien/nofile"), "/tmp/o'brien/nofile");
  EXPECT_EQ(shown_path("/a\\b\x1b[2J\xc2\x9b\xff"), "/a\\x5cb\\x1b[2J\\xc2\\x9b\\xff");
  EXPECT_EQ(shown_text("o'brien", kShownPathMax), "o\\x27brien") << "shown_text is for quoted values";
}

// Session 13: a long path was cut after its first 256 bytes, so two paths
// that differ only at the end (/srv/…/a.csv, /srv/…/b.csv) read alike. Now
// its first 128 and last 128 bytes around its whole length.
TEST(ShownPath, ALongPathKeepsItsStartAndItsEnd) {
  EXPECT_EQ(shown_path(std::string(256, 'p')), std::string(256, 'p')) << "256 bytes is not cut";
  const std::string dir = "/srv/" + std::string(300, 'd');
  EXPECT_EQ(shown_path(dir + "/a.csv"), "/srv/" + std::string(123, 'd') + "… (311 bytes) …" + std::string(122, 'd') + "/a.csv");
  EXPECT_NE(shown_path(dir + "/a.csv"), shown_path(dir + "/b.csv"));
  EXPECT_EQ(shown_path(std::string(257, 'p')), std::string(128, 'p') + "… (257 bytes) …" + std::string(128, 'p'));
  // Each end is escaped as a short path is, and ' kept.
  EXPECT_EQ(shown_path("\x1b" + std::string(300, 'x') + "o'brien\x07"),
            "\\x1b" + std::string(127, 'x') + "… (309 bytes) …" + std::string(120, 'x') + "o'brien\\x07");
}

// Neither end splits a character: a 2-byte letter across the 128-byte mark
// of the start is left out whole, and so is one the end's cut goes through.
TEST(ShownPath, NeitherEndSplitsACharacter) {
  const std::string e = "\xc3\xa9";  // é
  const std::string start = std::string(127, 'a') + e;       // é at bytes 127-128
  const std::string end = e + std::string(127, 'z');         // é's second byte is the 128th from the end
  const std::string path = start + std::string(100, 'm') + end;
  EXPECT_EQ(shown_path(path), std::string(127, 'a') + "… (" + std::to_string(path.size()) + " bytes) …" +
                                  std::string(127, 'z'));
  // 4-byte characters throughout: whole characters, valid UTF-8, at both ends.
  std::string smiles;
  for (int i = 0; i < 100; ++i) smiles += "\xf0\x9f\x98\x80";
  std::string want_end;
  for (int i = 0; i < 32; ++i) want_end += "\xf0\x9f\x98\x80";
  EXPECT_EQ(shown_path(smiles), want_end + "… (400 bytes) …" + want_end);
}

// Review of aba1697: C1 controls and invalid UTF-8 passed; a raw 0x9b is
// CSI on an 8-bit terminal, U+009B its UTF-8 form.
TEST(ShownText, C1ControlsAndInvalidUtf8AreEscaped) {
  EXPECT_EQ(shown_text("a\x9b" "2Jb"), "a\\x9b2Jb") << "a raw C1 byte";
  EXPECT_EQ(shown_text("a\xc2\x9b" "2Jb"), "a\\xc2\\x9b2Jb") << "U+009B";
  EXPECT_EQ(shown_text("\xc2\x80\xc2\x9f"), "\\xc2\\x80\\xc2\\x9f") << "U+0080, U+009F";
  EXPECT_EQ(shown_text("\xc2\xa0\xc3\xa9"), "\xc2\xa0\xc3\xa9") << "U+00A0 and after pass";
  EXPECT_EQ(shown_text("\xc0\xaf"), "\\xc0\\xaf") << "overlong '/'";
  EXPECT_EQ(shown_text("\xed\xa0\x80"), "\\xed\\xa0\\x80") << "a surrogate";
  EXPECT_EQ(shown_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80") << "past U+10FFFF";
  EXPECT_EQ(shown_text("x\xe2\x82"), "x\\xe2\\x82") << "a character cut short at the end";
  EXPECT_EQ(shown_text("\xe2\x82\xac\xf0\x9f\x98\x80"), "\xe2\x82\xac\xf0\x9f\x98\x80") << "3- and 4-byte characters pass";
  // 500,000 stray continuation bytes: the first 64, escaped, not a scan
  // back to nothing.
  std::string want;
  for (int i = 0; i < 64; ++i) want += "\\x80";
  EXPECT_EQ(shown_text(std::string(500'000, '\x80')), want + "… (500000 bytes)");
}

}  // namespace
}  // namespace airssys::osl::detail
