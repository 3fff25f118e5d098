// regexp() as SQLite runs it: the answer at a PCRE2 limit, and the heap
// limit that bounds what one call may keep (sqlite_regexp.hpp).

#include "sqlite_regexp.hpp"

#include <gtest/gtest.h>

#include <string>

#include "sqlite_util.hpp"

namespace airssys::daemoneye {
namespace {

class Regexp : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = sqlite::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    ASSERT_EQ(detail::register_regexp(db_.get()), SQLITE_OK);
  }

  // regexp(pattern, value, at_limit) with bound arguments.
  int regexp(const std::string& pattern, const std::string& value, int at_limit) {
    auto st = sqlite::prepare(db_.get(), "SELECT regexp(?, ?, ?)");
    EXPECT_TRUE(st) << st.error().message;
    if (!st) return -1;
    ::sqlite3_bind_text(st->get(), 1, pattern.data(), static_cast<int>(pattern.size()), SQLITE_TRANSIENT);
    ::sqlite3_bind_text(st->get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    ::sqlite3_bind_int(st->get(), 3, at_limit);
    EXPECT_EQ(::sqlite3_step(st->get()), SQLITE_ROW) << ::sqlite3_errmsg(db_.get());
    return ::sqlite3_column_int(st->get(), 0);
  }

  sqlite::Db db_;
};

TEST_F(Regexp, MatchesAnywhereAndSaysNoOtherwise) {
  EXPECT_EQ(regexp("b+c", "aabbbcd", 0), 1);
  EXPECT_EQ(regexp("^b", "abc", 1), 0);
}

TEST_F(Regexp, TheMatchHeapStopsAtItsLimit) {
  // 200 capture groups make every backtracking frame ~3 KiB; each 'a' of
  // the value is one more frame (well under the depth and match limits).
  // 2,000 of them need ~6 MiB: within the old 20 MiB heap (a match), past
  // the 1 MiB one (the at_limit answer). 20 need ~60 KiB and still match.
  std::string pattern = "^(?:";
  for (int i = 0; i < 200; ++i) pattern += "(y)";
  pattern += ")?(?:a|b)*$";
  EXPECT_LE(detail::kHeapLimitKib, 2048u);
  EXPECT_EQ(regexp(pattern, std::string(20, 'a'), 0), 1);
  EXPECT_EQ(regexp(pattern, std::string(2000, 'a'), 0), 0);
  EXPECT_EQ(regexp(pattern, std::string(2000, 'a'), 1), 1);
}

}  // namespace
}  // namespace airssys::daemoneye
