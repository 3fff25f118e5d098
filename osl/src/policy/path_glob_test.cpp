// Path glob truth tables, plus a randomized comparison against a regex
// translation of the same rules (an independent, obviously-correct oracle).

#include "policy/path_glob.hpp"

#include <airssys/osl/policy.hpp>
#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <string>

#include "policy/glob.hpp"

namespace airssys::osl::detail {
namespace {

struct Case {
  const char* pattern;
  const char* path;
  bool match;
};

class PathGlobTable : public ::testing::TestWithParam<Case> {};

TEST_P(PathGlobTable, CompiledAndTextMatchersAgreeWithTable) {
  const Case& c = GetParam();
  const auto g = PathGlob::compile(c.pattern);
  ASSERT_TRUE(g.has_value()) << g.error();
  EXPECT_EQ(g->matches(c.path), c.match) << c.pattern << " vs " << c.path;
  EXPECT_EQ(path_glob_match(c.pattern, c.path), c.match) << c.pattern << " vs " << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Truth, PathGlobTable,
    ::testing::Values(
        // '**' matches zero or more segments, including the directory itself.
        Case{"/work/**", "/work", true}, Case{"/work/**", "/work/a", true}, Case{"/work/**", "/work/a/b/c", true},
        Case{"/work/**", "/workshop", false}, Case{"/work/**", "/workshop/a", false}, Case{"/work/**", "/", false},
        Case{"/work/**", "/wor", false},
        // '*' stays within one segment.
        Case{"/work/*", "/work/a", true}, Case{"/work/*", "/work/a/b", false}, Case{"/work/*", "/work", false},
        Case{"/work/*.txt", "/work/a.txt", true}, Case{"/work/*.txt", "/work/.txt", true},
        Case{"/work/*.txt", "/work/a/b.txt", false}, Case{"/work/*.txt", "/work/a.txt.bak", false},
        Case{"/*", "/etc", true}, Case{"/*", "/", false}, Case{"/*", "/etc/passwd", false},
        // '?' is one character, never '/'.
        Case{"/tmp/?", "/tmp/a", true}, Case{"/tmp/?", "/tmp/ab", false}, Case{"/tmp/?", "/tmp/", false},
        Case{"/a?c", "/a/c", false},
        // '**' in the middle, at the start, repeated.
        Case{"/a/**/b", "/a/b", true}, Case{"/a/**/b", "/a/x/b", true}, Case{"/a/**/b", "/a/x/y/b", true},
        Case{"/a/**/b", "/a/x/y/c", false}, Case{"/a/**/b", "/a/b/c", false}, Case{"/**/secret", "/secret", true},
        Case{"/**/secret", "/x/y/secret", true}, Case{"/**/secret", "/x/secretive", false},
        Case{"/a/**/**/b", "/a/b", true}, Case{"/a/**/x/**/b", "/a/1/x/2/3/b", true},
        Case{"/a/**/x/**/b", "/a/1/y/2/3/b", false}, Case{"/a/**/*.c", "/a/q/r/z.c", true},
        Case{"/a/**/*.c", "/a/q/r/z.h", false},
        // Root and literal patterns.
        Case{"/", "/", true}, Case{"/", "/a", false}, Case{"/**", "/", true}, Case{"/**", "/any/thing", true},
        Case{"/usr/bin/git", "/usr/bin/git", true}, Case{"/usr/bin/git", "/usr/bin/gitk", false},
        Case{"/usr/bin/git", "/usr/bin", false},
        // Whole-pattern wildcards match every resource string.
        Case{"*", "/anything/at/all", true}, Case{"**", "/x", true}, Case{"*", "relative", true},
        // Relative paths never match absolute patterns.
        Case{"/work/**", "work/a", false}, Case{"/**", "", false}));

TEST(PathGlob, RejectsMalformedPatterns) {
  for (const char* bad : {"", "work/**", "./work", "/work//a", "/work/", "/work/../etc", "/work/./a", "/work/a**",
                          "/work/**b", "~/x"}) {
    EXPECT_FALSE(PathGlob::compile(bad).has_value()) << bad;
  }
}

TEST(PathGlob, ErrorNamesTheProblem) {
  EXPECT_NE(PathGlob::compile("work/**").error().find("must be absolute"), std::string::npos);
  EXPECT_NE(PathGlob::compile("/a//b").error().find("empty segment"), std::string::npos);
  EXPECT_NE(PathGlob::compile("/a/b**").error().find("whole segment"), std::string::npos);
}

TEST(PathGlob, LiteralPrefix) {
  EXPECT_EQ(PathGlob::compile("/work/**")->literal_prefix(), "/work");
  EXPECT_EQ(PathGlob::compile("/work/a/*.txt")->literal_prefix(), "/work/a");
  EXPECT_EQ(PathGlob::compile("/usr/bin/git")->literal_prefix(), "/usr/bin/git");
  EXPECT_EQ(PathGlob::compile("/**")->literal_prefix(), "/");
  EXPECT_EQ(PathGlob::compile("/*/x")->literal_prefix(), "/");
  EXPECT_EQ(PathGlob::compile("/")->literal_prefix(), "/");
}

TEST(Glob, NameGlobs) {
  EXPECT_TRUE(glob_match("git", "git"));
  EXPECT_FALSE(glob_match("git", "gitk"));
  EXPECT_TRUE(glob_match("g*", "gitk"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("?", ""));
  EXPECT_TRUE(glob_match("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(glob_match("*.example.com", "example.com"));
  EXPECT_TRUE(glob_match("*a*b*c", "xxaxxbxxbxc"));
  EXPECT_FALSE(glob_match("*a*b*c", "xxaxxbxxbx"));
  EXPECT_FALSE(glob_match("Example", "example"));
  EXPECT_TRUE(glob_match("example*", "EXAMPLE.COM", CaseMode::fold_ascii));
}

// The oracle: '/seg' → '/' + segment regex, '/**' → '(/[^/]*)*', and the
// root path "/" is the empty sequence of segments.
std::string to_regex(const std::string& pattern) {
  std::string re;
  std::size_t pos = 1;
  while (pos <= pattern.size()) {
    std::size_t slash = pattern.find('/', pos);
    if (slash == std::string::npos) slash = pattern.size();
    const std::string seg = pattern.substr(pos, slash - pos);
    if (seg == "**") {
      re += "(/[^/]*)*";
    } else {
      re += "/";
      for (const char c : seg) {
        if (c == '*') re += "[^/]*";
        else if (c == '?') re += "[^/]";
        else re += c;  // the alphabet below has no regex metacharacters
      }
    }
    pos = slash + 1;
  }
  return re;
}

TEST(PathGlob, RandomizedAgainstRegexOracle) {
  std::mt19937 rng(20240601);
  const std::vector<std::string> pat_segs = {"a", "b", "ab", "*", "a*", "*b", "?", "a?", "**", "**", "*a*"};
  const std::vector<std::string> path_segs = {"a", "b", "ab", "ba", "aab", "x", "abab"};
  auto pick = [&](const std::vector<std::string>& v) { return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)]; };
  int matches = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string pattern;
    const int np = std::uniform_int_distribution<int>(1, 5)(rng);
    for (int j = 0; j < np; ++j) pattern += "/" + pick(pat_segs);
    std::string path;
    const int ns = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int j = 0; j < ns; ++j) path += "/" + pick(path_segs);
    if (path.empty()) path = "/";
    const std::regex re(to_regex(pattern));
    const bool expected = std::regex_match(path == "/" ? std::string() : path, re);
    const auto g = PathGlob::compile(pattern);
    ASSERT_TRUE(g.has_value()) << pattern;
    ASSERT_EQ(g->matches(path), expected) << pattern << " vs " << path;
    ASSERT_EQ(path_glob_match(pattern, path), expected) << pattern << " vs " << path;
    matches += expected;
  }
  EXPECT_GT(matches, 100);  // the generator must exercise both outcomes
  EXPECT_LT(matches, 1900);
}

}  // namespace
}  // namespace airssys::osl::detail
