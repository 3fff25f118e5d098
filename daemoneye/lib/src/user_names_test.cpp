// UserNames against the host's real NSS (getpwuid_r): uid 0 is root on every
// Linux host; uids from 3,000,000,000 up are in no passwd database here, as
// a user namespace's subuids are not.
#include "user_names.hpp"

#include <gtest/gtest.h>

namespace airssys::daemoneye {
namespace {

constexpr uid_t kUnmapped = 3000000000u;

TEST(UserNames, NamesAKnownUidAndCachesAnUnknownOneAsEmpty) {
  UserNames names;
  EXPECT_EQ(names.name(0), "root");
  EXPECT_EQ(names.name(kUnmapped), "");
  EXPECT_EQ(names.size(), 2u);
  EXPECT_EQ(names.name(0), "root");
  EXPECT_EQ(names.size(), 2u);
}

TEST(UserNames, LookupsPerCollectionAreBoundedAndTheRestComeLater) {
  UserNames names(/*max_entries=*/4096, /*lookups_per_collection=*/10);
  names.begin_collection();
  for (uid_t i = 0; i < 100; ++i) (void)names.name(kUnmapped + i);
  EXPECT_EQ(names.size(), 10u);
  EXPECT_EQ(names.deferred(), 90u);
  // Cached ones still answer past the budget.
  EXPECT_EQ(names.name(kUnmapped), "");
  EXPECT_EQ(names.deferred(), 90u);
  names.begin_collection();
  (void)names.name(0);
  EXPECT_EQ(names.size(), 11u);
  EXPECT_EQ(names.name(0), "root");
}

TEST(UserNames, TheCacheNeverHoldsMoreThanItsBound) {
  UserNames names(/*max_entries=*/8, /*lookups_per_collection=*/1000);
  names.begin_collection();
  for (uid_t i = 0; i < 100; ++i) {
    (void)names.name(kUnmapped + i);
    EXPECT_LE(names.size(), 8u);
  }
  EXPECT_EQ(names.name(0), "root");
}

}  // namespace
}  // namespace airssys::daemoneye
