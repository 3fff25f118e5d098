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

TEST(YamlDocument, ANulByteIsNamedWithItsLine) {
  // Before: "YAML syntax error: unknown escape character: y" (a raw NUL in
  // "name: x\0y", /proc/self/environ given as --config, a UTF-16 rule file).
  auto r = load_yaml_document(std::string("id: a\nname: x\0y\n", 16), 1 << 20, "a rule file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().line, 2);
  EXPECT_EQ(r.error().message, "a NUL byte: a rule file is YAML text (UTF-8), not a binary or UTF-16 file");
  r = load_yaml_document(std::string("\xff\xfei\0d\0:\0", 8), 1 << 20, "a config file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().line, 1);
  // The two characters \0 in a double-quoted string are YAML's escape, not a NUL byte in the text.
  EXPECT_TRUE(load_yaml_document("a: \"x\\0y\"\n", 1 << 20, "a rule file"));
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
