// Wildcard truth table, validation, and the trie index agreeing with
// subject_matches on every pair.

#include "subject_index.hpp"

#include <airssys/bus/subject.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace airssys::bus {
namespace {

struct Row {
  const char* pattern;
  const char* subject;
  bool match;
};

constexpr Row kTruth[] = {
    {"a", "a", true},
    {"a", "b", false},
    {"a", "a.b", false},
    {"a.b", "a", false},
    {"a.b", "a.b", true},
    {"*", "a", true},
    {"*", "a.b", false},      // '*' does not span dots
    {"a.*", "a.b", true},
    {"a.*", "a", false},
    {"a.*", "a.b.c", false},  // '*' is exactly one token
    {"*.b", "a.b", true},
    {"*.b", "a.c", false},
    {"a.*.c", "a.b.c", true},
    {"a.*.c", "a.b.x.c", false},
    {"*.*", "a.b", true},
    {"*.*", "a", false},
    {">", "a", true},
    {">", "a.b.c", true},
    {"a.>", "a", false},      // '>' needs at least one token: not the bare prefix
    {"a.>", "a.b", true},
    {"a.>", "a.b.c", true},
    {"a.>", "b.c", false},
    {"a.>", "ab.c", false},
    {"*.>", "a", false},
    {"*.>", "a.b", true},
    {"a.*.>", "a.b", false},
    {"a.*.>", "a.b.c.d", true},
    {"ab", "a", false},
    {"a", "ab", false},
};

TEST(Subject, TruthTable) {
  for (const Row& r : kTruth) {
    ASSERT_TRUE(validate_subscribe_subject(r.pattern)) << r.pattern;
    ASSERT_TRUE(validate_publish_subject(r.subject)) << r.subject;
    EXPECT_EQ(subject_matches(r.pattern, r.subject), r.match) << r.pattern << " vs " << r.subject;
  }
}

TEST(Subject, IndexAgreesWithTruthTable) {
  detail::SubjectIndex<int> index;
  std::vector<std::string> patterns;
  for (const Row& r : kTruth) {
    if (std::find(patterns.begin(), patterns.end(), r.pattern) == patterns.end()) patterns.emplace_back(r.pattern);
  }
  for (std::size_t i = 0; i < patterns.size(); ++i) index.insert(patterns[i], static_cast<int>(i));
  for (const Row& r : kTruth) {
    std::vector<int> got;
    index.match(r.subject, [&](int v) { got.push_back(v); });
    std::vector<int> want;
    for (std::size_t i = 0; i < patterns.size(); ++i)
      if (subject_matches(patterns[i], r.subject)) want.push_back(static_cast<int>(i));
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want) << r.subject;
  }
  for (std::size_t i = 0; i < patterns.size(); ++i) EXPECT_TRUE(index.erase(patterns[i], static_cast<int>(i)));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.erase("a.b", 1));
  int hits = 0;
  index.match("a.b", [&](int) { ++hits; });
  EXPECT_EQ(hits, 0);
}

TEST(Subject, DuplicatesAndErase) {
  detail::SubjectIndex<int> index;
  index.insert("a.*", 1);
  index.insert("a.*", 2);
  index.insert("a.b", 3);
  std::vector<int> got;
  index.match("a.b", [&](int v) { got.push_back(v); });
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(index.erase("a.*", 1));
  got.clear();
  index.match("a.b", [&](int v) { got.push_back(v); });
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{2, 3}));
}

TEST(Subject, RefusesInvalid) {
  for (const char* s : {"", ".", "a.", ".a", "a..b", "a b", "a\tb", "a*", "a.b>", "a.>.b", ">.a", "a.\x01"}) {
    const auto r = validate_subscribe_subject(s);
    ASSERT_FALSE(r) << s;
    EXPECT_EQ(r.error().category, ErrorCategory::invalid_subject);
    EXPECT_FALSE(validate_publish_subject(s)) << s;
  }
  for (const char* s : {"*", "a.*", ">", "a.>", "*.b"}) {
    EXPECT_TRUE(validate_subscribe_subject(s)) << s;
    const auto r = validate_publish_subject(s);
    ASSERT_FALSE(r) << s;
    EXPECT_NE(r.error().message.find("wildcard"), std::string::npos);
  }
  EXPECT_TRUE(validate_publish_subject(std::string(kMaxSubjectBytes, 'a')));
  EXPECT_FALSE(validate_publish_subject(std::string(kMaxSubjectBytes + 1, 'a')));
}

TEST(Subject, Covers) {
  EXPECT_TRUE(subject_covers(">", "a.*"));
  EXPECT_TRUE(subject_covers("a.>", "a.b.>"));
  EXPECT_FALSE(subject_covers("a.>", "a"));
  EXPECT_FALSE(subject_covers("a.>", ">"));
  EXPECT_TRUE(subject_covers("a.*", "a.b"));
  EXPECT_TRUE(subject_covers("a.*", "a.*"));
  EXPECT_FALSE(subject_covers("a.b", "a.*"));
  EXPECT_FALSE(subject_covers("a.*", "a.>"));
  EXPECT_FALSE(subject_covers("a.*", "a.b.c"));
}

}  // namespace
}  // namespace airssys::bus
