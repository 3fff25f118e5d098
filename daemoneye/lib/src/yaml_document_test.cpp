// load_yaml_document (yaml_document.hpp): DaemonEye's config and rule files
// get osl's YAML guards, including the bound on aliases expanded.
#include "yaml_document.hpp"

#include <gtest/gtest.h>

#include <string>

using airssys::daemoneye::detail::load_yaml_document;

namespace {

TEST(YamlDocument, AliasAmplificationIsRefusedWithALine) {
  // One anchored list of 1,000 items referenced by 1,000 keys: 1 M nodes from 30 KB.
  std::string y = "base: &l [";
  for (int i = 0; i < 1000; ++i) y += i == 0 ? "x" : ", x";
  y += "]\nuses:\n";
  for (int i = 0; i < 1000; ++i) y += "  k" + std::to_string(i) + ": *l\n";
  ASSERT_LT(y.size(), 40'000U);
  const auto r = load_yaml_document(y, 1 << 20, "a config file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "a config file expands to more than 200000 YAML nodes (keys, values and list items; an alias counts again at "
            "every use): the limit is 200000");
  EXPECT_GE(r.error().line, 1);
}

TEST(YamlDocument, ANulByteInUtf8TextIsNamedWithItsLine) {
  // Before: "YAML syntax error: unknown escape character: y" (a raw NUL in
  // "name: x\0y", /proc/self/environ given as --config).
  auto r = load_yaml_document(std::string("id: a\nname: x\0y\n", 16), 1 << 20, "a rule file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().line, 2);
  EXPECT_EQ(r.error().message, "a NUL byte: a rule file is YAML text, not a binary file");
  // After a UTF-8 byte order mark too.
  r = load_yaml_document(std::string("\xef\xbb\xbf" "id: a\0\n", 9), 1 << 20, "a config file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().line, 1);
  // The two characters \0 in a double-quoted string are YAML's escape, not a NUL byte in the text.
  EXPECT_TRUE(load_yaml_document("a: \"x\\0y\"\n", 1 << 20, "a rule file"));
}

// The text in UTF-16 or UTF-32, `little` or big endian, with or without a
// byte order mark (ASCII input only).
std::string encode(std::string_view ascii, int width, bool little, bool bom) {
  std::string out;
  const auto put = [&](char32_t c) {
    for (int i = 0; i < width; ++i) {
      const int shift = 8 * (little ? i : width - 1 - i);
      out += static_cast<char>((c >> shift) & 0xff);
    }
  };
  if (bom) put(0xfeff);
  for (char c : ascii) put(static_cast<unsigned char>(c));
  return out;
}

TEST(YamlDocument, Utf16AndUtf32TextLoadsAsBefore) {
  // The NUL check refused these (each loaded before it, and loads again).
  for (int width : {2, 4}) {
    for (bool little : {true, false}) {
      for (bool bom : {true, false}) {
        const std::string text = encode("id: a\nname: [x, y]\n", width, little, bom);
        auto r = load_yaml_document(text, 1 << 20, "a rule file");
        ASSERT_TRUE(r) << width << little << bom << ": " << r.error().message;
        EXPECT_EQ((*r)["id"].Scalar(), "a") << width << little << bom;
        EXPECT_EQ((*r)["name"].size(), 2U) << width << little << bom;
      }
    }
  }
}

TEST(YamlDocument, TheOtherGuardsAndTheSizeLimitStillSpeakAsBefore) {
  auto r = load_yaml_document("a: 1\n---\nb: 2\n", 1 << 20, "a rule file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().line, 2);
  EXPECT_EQ(r.error().message, "a rule file holds one YAML document; found another one here");
  r = load_yaml_document("a: " + std::string(100, '['), 1 << 20, "a rule file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().line, 1);
  EXPECT_EQ(r.error().message, "collections nested deeper than 64 levels");
  r = load_yaml_document("a: 1\n", 3, "a config file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "5 bytes is too large for a config file (at most 3 bytes)");
  r = load_yaml_document("a: &x [1, 2]\nb: *x\n", 1 << 20, "a config file");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["b"].size(), 2U);
}

}  // namespace
