// The one rule for text that reaches an operator's terminal
// (terminal_text.hpp): each control the rule names, as '?' in text and as
// \uXXXX in JSON, and the JSON parsing back to the very same strings.

#include <airssys/daemoneye/terminal_text.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace airssys::daemoneye {
namespace {

// Each control the rule names, as UTF-8, with its \u escape.
const std::vector<std::pair<std::string, std::string>> kControls = {
    {"\xc2\x80", "\\u0080"},     {"\xc2\x9b", "\\u009b"},     {"\xc2\x9d", "\\u009d"},     {"\xc2\x9f", "\\u009f"},
    {"\xe2\x80\xaa", "\\u202a"}, {"\xe2\x80\xab", "\\u202b"}, {"\xe2\x80\xac", "\\u202c"}, {"\xe2\x80\xad", "\\u202d"},
    {"\xe2\x80\xae", "\\u202e"}, {"\xe2\x81\xa6", "\\u2066"}, {"\xe2\x81\xa7", "\\u2067"}, {"\xe2\x81\xa8", "\\u2068"},
    {"\xe2\x81\xa9", "\\u2069"}, {"\xe2\x80\xa8", "\\u2028"}, {"\xe2\x80\xa9", "\\u2029"}, {"\x7f", "\\u007f"},
};

TEST(TerminalText, EachControlOfTheRuleIsOneQuestionMarkInText) {
  for (const auto& [c, escape] : kControls) {
    EXPECT_EQ(printable("a" + c + "b"), "a?b") << escape;
    EXPECT_EQ(is_terminal_control_at(c, 0), c.size()) << escape;
  }
  EXPECT_EQ(printable("\x1b[31m\x07\r\n\t"), "?[31m????");
  // Neighbours of the ranges are text: U+00A0, U+2029's and U+202E's
  // neighbours U+2027 and U+202F, U+2065 and U+206A, and 4-byte characters.
  for (const std::string keep : {"\xc2\xa0", "\xe2\x80\xa7", "\xe2\x80\xaf", "\xe2\x81\xa5", "\xe2\x81\xaa",
                                 "\xf0\x9f\x98\x80", "\xc3\xa9t\xc3\xa9"}) {
    EXPECT_EQ(printable(keep), keep);
    EXPECT_EQ(terminal_safe_json("\"" + keep + "\""), "\"" + keep + "\"");
  }
}

TEST(TerminalText, JsonEscapesEachControlAndParsesBackToTheSameText) {
  std::string hostile = "x\x1b]0;t\x07\r";
  for (const auto& [c, escape] : kControls) hostile += c + "|";
  const nlohmann::json doc = {{"cmdline", hostile}, {"k\xe2\x80\xae" "ey", 1}};
  const std::string text = terminal_safe_json(doc.dump(2));
  for (const auto& [c, escape] : kControls) {
    EXPECT_EQ(text.find(c), std::string::npos) << escape << " is still raw in " << text;
    EXPECT_NE(text.find(escape), std::string::npos) << escape;
  }
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(text), doc) << "the escapes are lossless";
  EXPECT_NE(text.find("\n  \""), std::string::npos) << "the layout's line feeds are kept";
  // Nothing to escape: the same text.
  EXPECT_EQ(terminal_safe_json(R"({"a":"\u001b b"})"), R"({"a":"\u001b b"})");
}

}  // namespace
}  // namespace airssys::daemoneye
