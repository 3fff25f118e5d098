#include <airssys/daemoneye/burst_trim.hpp>

#include <gtest/gtest.h>

namespace airssys::daemoneye {
namespace {

TEST(BurstTrim, TrimsOnlyAfterABurstThenAtTheNextQuietSpells) {
  BurstTrim t(100, 2);
  EXPECT_FALSE(t.quiet());  // nothing handled: an idle daemon never trims
  t.count(99);
  EXPECT_FALSE(t.quiet());  // below the burst size
  t.count(1);
  EXPECT_TRUE(t.quiet());   // the queue drained after 100 events
  EXPECT_TRUE(t.quiet());   // and twice more, for what later cleanups free
  EXPECT_TRUE(t.quiet());
  EXPECT_FALSE(t.quiet());
  EXPECT_EQ(t.trims(), 3u);
  t.count(150);
  EXPECT_TRUE(t.quiet());
  EXPECT_EQ(t.trims(), 4u);
}

}  // namespace
}  // namespace airssys::daemoneye
