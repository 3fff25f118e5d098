// AnyRef on an empty ref (no null dereference), rt::ref_cast (the checked
// cast between refs) and Error's equality.
#include <airssys/rt/system.hpp>
#include <airssys/testing/eventually.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <type_traits>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

struct Inc {
  int by = 1;
};
struct Get {
  using reply_type = int;
};
struct Other {};
struct Boom {};

class Counter : public rt::Actor<Counter, Inc, Get, Boom> {
 public:
  void handle(Inc& m) { n_ += m.by; }
  int handle(Get&) { return n_; }
  void handle(Boom&) { throw std::runtime_error("boom"); }

 private:
  int n_ = 0;
};

TEST(AnyRef, AnEmptyRefAnswersEveryQueryWithoutAnActor) {
  const rt::AnyRef empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_EQ(empty.id(), 0u);
  EXPECT_TRUE(empty.stopped());
  EXPECT_EQ(empty.exit_reason(), rt::ExitReason::normal);
  EXPECT_EQ(empty.failure_text(), "");
  (void)empty.stats();
  empty.stop();  // no-ops, not crashes
  empty.kill();
  empty.send_exit(rt::ExitReason::error);
  const Counter::ref_type typed;
  EXPECT_EQ(typed.exit_reason(), rt::ExitReason::normal);
  auto r = typed.tell(Inc{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, rt::ErrorCategory::actor_stopped);
}

TEST(AnyRef, ExitReasonOfAStoppedActor) {
  rt::ActorSystem sys;
  auto c = sys.spawn<Counter>();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->tell(Boom{}).has_value());
  ASSERT_TRUE(airssys::testing::eventually([&] { return c->stopped(); }));
  EXPECT_EQ(c->exit_reason(), rt::ExitReason::error);
}

TEST(RefCast, ToTheActorsOwnTypesOrASubsetSucceeds) {
  rt::ActorSystem sys;
  auto c = sys.spawn<Counter>();
  ASSERT_TRUE(c);
  const rt::AnyRef any = *c;
  auto full = rt::ref_cast<Counter::ref_type>(any);
  ASSERT_TRUE(full) << full.error().message;
  ASSERT_TRUE(full->tell(Inc{5}).has_value());
  auto sub = rt::ref_cast<rt::ActorRef<Get>>(any);
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->ask(Get{}, 30s).value(), 5);
  EXPECT_EQ(*sub, any);
}

TEST(RefCast, ToATypeTheActorDoesNotHandleIsRefused) {
  rt::ActorSystem sys;
  auto c = sys.spawn<Counter>();
  ASSERT_TRUE(c);
  auto r = rt::ref_cast<rt::ActorRef<Inc, Other>>(*c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, rt::ErrorCategory::invalid_argument);
  EXPECT_NE(r.error().message.find("does not handle"), std::string::npos) << r.error().message;
}

TEST(RefCast, OfAnEmptyRefIsActorStopped) {
  auto r = rt::ref_cast<Counter::ref_type>(rt::AnyRef{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, rt::ErrorCategory::actor_stopped);
}

TEST(Error, EqualityComparesCategoryMessageAndContext) {
  EXPECT_EQ((rt::Error{rt::ErrorCategory::timeout, "ask: no reply"}),
            (rt::Error{rt::ErrorCategory::timeout, "ask: no reply"}));
  EXPECT_NE((rt::Error{rt::ErrorCategory::timeout, "ask Get"}),
            (rt::Error{rt::ErrorCategory::timeout, "ask Put"}));
  EXPECT_NE((rt::Error{rt::ErrorCategory::timeout, "x"}), (rt::Error{rt::ErrorCategory::not_found, "x"}));
  EXPECT_NE((rt::Error{rt::ErrorCategory::timeout, "x", 0}), (rt::Error{rt::ErrorCategory::timeout, "x", 4}));
}

TEST(Error, HasTheSharedShape) {
  rt::Error e{rt::ErrorCategory::timeout, "no reply before the timeout"};
  EXPECT_EQ(e.errno_value, 0);  // no system call failed
  EXPECT_EQ(e.to_string(), "timeout: no reply before the timeout");
  EXPECT_STREQ(rt::to_string(rt::ErrorCategory::start_failed), "start_failed");
}

// The old name still compiles (with a deprecation warning) and is the same type.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static_assert(std::is_same_v<rt::Errc, rt::ErrorCategory>);
#pragma GCC diagnostic pop

}  // namespace
