// The word-at-a-time string scan must find exactly the byte a byte-by-byte
// loop finds, wherever it sits in the word, and the UTF-8 check must take
// exactly RFC 3629's sequences.
#include "json_string_scan.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

using namespace airssys::watchdog::detail;

namespace {

const char* first_special_bytewise(const char* p, const char* end) {
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
  }
  return end;
}

std::string encode(std::uint32_t cp) {
  std::string s;
  json_append_utf8(cp, s);
  return s;
}

bool one_sequence(const std::string& s) {
  return json_utf8_sequence(s.data(), s.data() + s.size()) == s.data() + s.size();
}

}  // namespace

TEST(JsonStringScan, FindsTheFirstSpecialByteAtEveryOffsetAndBehindEveryOtherByte) {
  // Every byte value as the one to find, after a run of plain bytes of every
  // length across two words, with a second special byte behind it (a borrow
  // from the first must not hide it or move the answer).
  for (int special = 0; special < 256; ++special) {
    for (std::size_t run = 0; run < 20; ++run) {
      for (const char behind : {'"', '\\', '\x01', '\x80', 'a'}) {
        std::string s(run, 'x');
        s += static_cast<char>(special);
        s += behind;
        s += "yyyyyyyyyyyy";
        const char* end = s.data() + s.size();
        ASSERT_EQ(json_skip_plain(s.data(), end), first_special_bytewise(s.data(), end)) << special << " after " << run;
      }
    }
  }
  // Plain bytes just under and over each boundary, and no special byte at all.
  const std::string plain = " !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\x7f";
  EXPECT_EQ(json_skip_plain(plain.data(), plain.data() + plain.size()), plain.data() + plain.size());
  for (std::size_t cut = 0; cut <= plain.size(); ++cut) {
    EXPECT_EQ(json_skip_plain(plain.data(), plain.data() + cut), plain.data() + cut);
  }
}

TEST(JsonStringScan, ChecksUtf8AsRfc3629) {
  // What the encoder writes for every scalar value is one sequence (the
  // encoder's own bytes for U+20AC, U+10348 and U+10FFFF checked by hand).
  EXPECT_EQ(encode(0x20AC), "\xE2\x82\xAC");
  EXPECT_EQ(encode(0x10348), "\xF0\x90\x8D\x88");
  EXPECT_EQ(encode(0x10FFFF), "\xF4\x8F\xBF\xBF");
  for (std::uint32_t cp = 0x80; cp <= 0x10FFFF; cp += (cp < 0x11000 ? 1 : 0x3F)) {
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    EXPECT_EQ(one_sequence(encode(cp)), !surrogate) << std::hex << cp;
  }
  EXPECT_TRUE(one_sequence(encode(0x10FFFF)));
  for (const char* bad : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF",
                          "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80", "\xFF", "\x80", "\xBF",
                          "\xC3\x28", "\xE2\x28\xA1", "\xE2\x82\x28", "\xF0\x28\x8C\xBC", "\xED\xA0\x80", "\xED\xBF\xBF"}) {
    EXPECT_EQ(json_utf8_sequence(bad, bad + std::char_traits<char>::length(bad)), nullptr) << bad;
  }
  // A sequence cut short by the end of the text.
  const std::string euro = encode(0x20AC);
  for (std::size_t cut = 1; cut < euro.size(); ++cut) {
    EXPECT_EQ(json_utf8_sequence(euro.data(), euro.data() + cut), nullptr);
  }
}
