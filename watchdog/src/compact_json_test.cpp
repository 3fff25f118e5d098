#include "compact_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

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
