#include "compact_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

using airssys::watchdog::detail::is_compact_dump;

namespace {

constexpr int kDepth = 32;

// What the DOM reader would keep for `text`.
std::string dumped(const std::string& text) { return nlohmann::json::parse(text).dump(); }

}  // namespace

// Every text accepted is exactly what parse + dump gives back, so the fast
// reader may keep it as read and still hold what the DOM reader holds.
TEST(CompactJson, AcceptedTextIsItsOwnDump) {
  for (const std::string text : {
           R"("plain text")", "0", "-7", "123456789012345678", "-123456789012345678", "true", "false", "null", "{}", "[]",
           R"({"a":1})", R"({"a":{"b":[1,2,{"c":null}]},"b":"x"})", R"([[],{},[[]],"s",-1,true])",
           R"({"A":1,"B":2,"a":3,"b":4})", R"({"":0,"a":[]})", R"({"image":"x:1","name":"task-a","pid":42})",
       }) {
    EXPECT_TRUE(is_compact_dump(text, kDepth)) << text;
    EXPECT_EQ(dumped(text), text) << text;
  }
}

// Texts dump() would write differently (or that are no JSON) are refused:
// the reader then parses and re-encodes them, as before.
TEST(CompactJson, AnythingDumpWouldChangeIsRefused) {
  for (const std::string text : {
           "", " 1", "1 ", R"({"a": 1})", "[1, 2]", "[1,\n2]",                      // whitespace
           "1.5", "1e3", "1E3", "-0", "01", "1234567890123456789", "1e999",        // numbers dump() rewrites
           R"("a\"b")", R"("a\/b")", R"("\u00e9")", "\"\xc3\xa9\"", "\"a\tb\"",     // escapes, non-ASCII, controls
           R"({"b":1,"a":2})", R"({"a":1,"a":2})",                                   // unsorted, duplicate keys
           "[1,]", "[1", "{\"a\"}", "{\"a\":}", "tru", "nul", "[]]", "{}{}", "\"open", // not JSON
           "+1", "-", "[-]", "{1:2}",
       }) {
    EXPECT_FALSE(is_compact_dump(text, kDepth)) << text;
  }
}

TEST(CompactJson, NestingIsBounded) {
  const auto nested = [](int n) { return std::string(static_cast<std::size_t>(n), '[') + std::string(static_cast<std::size_t>(n), ']'); };
  EXPECT_TRUE(is_compact_dump(nested(kDepth), kDepth));
  EXPECT_FALSE(is_compact_dump(nested(kDepth + 1), kDepth));
  EXPECT_FALSE(is_compact_dump(nested(100'000), kDepth));  // no recursion, no stack overflow
  EXPECT_FALSE(is_compact_dump(std::string(100'000, '['), kDepth));
}

// Differential check over every text of up to 6 characters from an alphabet
// that makes every JSON token and most near-misses (4,826,809 of length 6, among them {"":0}):
// whatever is accepted must parse and dump back to exactly itself. A scanner
// rule that lets through one text dump() would change fails here with it.
TEST(CompactJson, EveryShortAcceptedTextIsItsOwnDump) {
  constexpr std::string_view alphabet = "[]{},:\"a0-1e.";  // 13 characters
  std::size_t accepted = 0;
  std::string text;
  for (std::size_t len = 1; len <= 6; ++len) {
    std::size_t total = 1;
    for (std::size_t i = 0; i < len; ++i) total *= alphabet.size();
    text.assign(len, ' ');
    for (std::size_t n = 0; n < total; ++n) {
      for (std::size_t i = 0, k = n; i < len; ++i, k /= alphabet.size()) text[i] = alphabet[k % alphabet.size()];
      if (!is_compact_dump(text, kDepth)) continue;
      ++accepted;
      const auto v = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(v.is_discarded()) << text;
      ASSERT_EQ(v.dump(), text) << text;
    }
  }
  EXPECT_GT(accepted, 100u);  // the enumeration does reach accepted texts
}
