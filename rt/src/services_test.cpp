// Registry, broker and routers (deterministic mode: exact outcomes).
#include <airssys/rt/broker.hpp>
#include <airssys/rt/registry.hpp>
#include <airssys/rt/router.hpp>
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include <map>
#include <set>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

struct Note { int v; };
struct Count { using reply_type = int; };
struct Quit {};

class Box : public rt::Actor<Box, Note, Count, Quit> {
 public:
  void handle(Note&) { ++n_; }
  int handle(Count&) { return n_; }
  void handle(Quit&) { stop(); }

 private:
  int n_ = 0;
};

int count(const Box::ref_type& b) { return static_cast<int>(b.stats().processed); }

TEST(Registry, UniqueNamesTypedLookupAndRemovalOnStop) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto a = sys.spawn<Box>().value();
  auto b = sys.spawn<Box>().value();
  sys.run_until_idle();
  auto& reg = sys.registry();
  ASSERT_TRUE(reg.register_name("svc", a).has_value());
  auto dup = reg.register_name("svc", b);
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().category, rt::ErrorCategory::name_taken);
  auto found = reg.whereis<Note, Count, Quit>("svc");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id(), a.id());
  auto wrong = reg.whereis<Note>("svc");  // registered as the full ref type
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().category, rt::ErrorCategory::invalid_argument);
  ASSERT_TRUE(a.tell(Quit{}).has_value());
  sys.run_until_idle();
  auto gone = reg.whereis_any("svc");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().category, rt::ErrorCategory::not_found);
  EXPECT_TRUE(reg.register_name("svc", b).has_value());  // free again
}

TEST(Registry, GroupsDropStoppedMembers) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto a = sys.spawn<Box>().value();
  auto b = sys.spawn<Box>().value();
  sys.run_until_idle();
  auto& reg = sys.registry();
  reg.join("workers", a);
  reg.join("workers", b);
  reg.join("workers", b);  // idempotent
  EXPECT_EQ(reg.members("workers").size(), 2u);
  ASSERT_TRUE(b.tell(Quit{}).has_value());
  sys.run_until_idle();
  auto m = reg.members("workers");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].id(), a.id());
  reg.leave("workers", a);
  EXPECT_TRUE(reg.members("workers").empty());
}

TEST(Broker, DeliversToEachSubscriberOfATopic) {
  rt::ActorSystem sys{{.deterministic = true}};
  rt::Broker<Note> broker;
  auto a = sys.spawn<Box>().value();
  auto b = sys.spawn<Box>().value();
  ASSERT_TRUE(broker.subscribe("t", a).has_value());
  ASSERT_TRUE(broker.subscribe("t", b).has_value());
  ASSERT_TRUE(broker.subscribe("u", b).has_value());
  EXPECT_EQ(broker.publish("t", Note{1}).delivered, 2u);
  EXPECT_EQ(broker.publish("u", Note{2}).delivered, 1u);
  EXPECT_EQ(broker.publish("nobody", Note{3}).delivered, 0u);
  broker.unsubscribe("t", a);
  EXPECT_EQ(broker.publish("t", Note{4}).delivered, 1u);
  sys.run_until_idle();
  EXPECT_EQ(count(a), 1);
  EXPECT_EQ(count(b), 3);
  ASSERT_TRUE(b.tell(Quit{}).has_value());
  sys.run_until_idle();
  auto r = broker.publish("t", Note{5});
  EXPECT_EQ(r.refused, 1u);
  EXPECT_EQ(broker.subscribers("t"), 0u);  // pruned
}

// NATS semantics: '*' one token, '>' one or more trailing tokens.
TEST(Broker, WildcardsFollowNatsSemantics) {
  namespace d = rt::detail;
  EXPECT_TRUE(d::subject_matches("a.*", "a.b"));
  EXPECT_FALSE(d::subject_matches("a.*", "a.b.c"));
  EXPECT_FALSE(d::subject_matches("a.*", "a"));
  EXPECT_TRUE(d::subject_matches("a.>", "a.b"));
  EXPECT_TRUE(d::subject_matches("a.>", "a.b.c"));
  EXPECT_FALSE(d::subject_matches("a.>", "a"));
  EXPECT_TRUE(d::subject_matches("*.b.>", "x.b.y.z"));
  EXPECT_FALSE(d::subject_matches("*.b.>", "x.c.y"));
  EXPECT_TRUE(d::subject_matches(">", "a"));
  EXPECT_TRUE(d::subject_matches("*", "a"));
  EXPECT_FALSE(d::subject_matches("*", "a.b"));
  EXPECT_TRUE(d::subject_matches("a.b", "a.b"));
  EXPECT_FALSE(d::subject_matches("a.b", "a.bc"));
  for (const char* bad : {"", ".", "a.", ".a", "a..b", "a.>.b", "a*", "b>", "a.*x", "a b"})
    EXPECT_EQ(d::classify_subject(bad), d::SubjectKind::invalid) << bad;
  EXPECT_EQ(d::classify_subject("a.*.>"), d::SubjectKind::wildcard);
  EXPECT_EQ(d::classify_subject("a.b-c.d_e"), d::SubjectKind::literal);

  rt::ActorSystem sys{{.deterministic = true}};
  rt::Broker<Note> broker;
  auto one = sys.spawn<Box>().value();
  auto all = sys.spawn<Box>().value();
  auto exact = sys.spawn<Box>().value();
  ASSERT_TRUE(broker.subscribe("prices.*", one).has_value());
  ASSERT_TRUE(broker.subscribe("prices.>", all).has_value());
  ASSERT_TRUE(broker.subscribe("prices.eur", exact).has_value());
  EXPECT_EQ(broker.subscribe("prices..eur", exact).error().category, rt::ErrorCategory::invalid_argument);
  EXPECT_EQ(broker.publish("prices.eur", Note{1}).delivered, 3u);
  EXPECT_EQ(broker.publish("prices.eur.usd", Note{2}).delivered, 1u);  // only '>'
  EXPECT_EQ(broker.publish("prices", Note{3}).delivered, 0u);
  EXPECT_EQ(broker.publish("prices.*", Note{4}).delivered, 0u);  // a wildcard is not a published subject
  broker.unsubscribe("prices.>", all);
  EXPECT_EQ(broker.publish("prices.gbp", Note{5}).delivered, 1u);
  sys.run_until_idle();
  EXPECT_EQ(count(one), 2);
  EXPECT_EQ(count(all), 2);
  EXPECT_EQ(count(exact), 1);
}

TEST(Router, RoundRobinSpreadsEvenly) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto pool = rt::make_pool<Box>(sys, 4, rt::Routing::round_robin, {}).value();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(pool.tell(Note{i}).has_value());
  sys.run_until_idle();
  for (auto& r : pool.routees()) EXPECT_EQ(count(r), 10);
}

TEST(Router, BroadcastReachesAll) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto pool = rt::make_pool<Box>(sys, 3, rt::Routing::broadcast, {}).value();
  ASSERT_TRUE(pool.tell(Note{1}).has_value());
  sys.run_until_idle();
  for (auto& r : pool.routees()) EXPECT_EQ(count(r), 1);
}

TEST(Router, LeastLoadedPicksTheShortestMailbox) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto pool = rt::make_pool<Box>(sys, 3, rt::Routing::least_loaded, {}).value();
  sys.run_until_idle();
  // Nothing runs between tells: each tell lands on the then-shortest mailbox.
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(pool.tell(Note{i}).has_value());
  for (auto& r : pool.routees()) EXPECT_EQ(r.stats().mailbox_depth, 10u);
  sys.run_until_idle();
}

TEST(Router, RandomUsesEveryRoutee) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto pool = rt::make_pool<Box>(sys, 4, rt::Routing::random, {}).value();
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(pool.tell(Note{i}).has_value());
  sys.run_until_idle();
  int total = 0;
  for (auto& r : pool.routees()) {
    EXPECT_GT(count(r), 0);
    total += count(r);
  }
  EXPECT_EQ(total, 400);
}

TEST(Router, ConsistentHashIsStableAndMovesFewKeys) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto pool = rt::make_pool<Box>(sys, 4, rt::Routing::consistent_hash, {}).value();
  for (int rep = 0; rep < 3; ++rep) ASSERT_TRUE(pool.tell_keyed(42, Note{rep}).has_value());
  sys.run_until_idle();
  int holders = 0;
  for (auto& r : pool.routees()) holders += count(r) > 0 ? 1 : 0;
  EXPECT_EQ(holders, 1);  // one key, one routee
  int moved = 0;
  for (std::uint64_t k = 0; k < 10000; ++k)
    if (rt::detail::jump_hash(k, 4) != rt::detail::jump_hash(k, 5)) ++moved;
  EXPECT_GT(moved, 1000);  // about 1/5 of the keys move to the new bucket
  EXPECT_LT(moved, 3000);
}

TEST(Health, SnapshotCountsEveryLiveActor) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto a = sys.spawn<Box>().value();
  auto b = sys.spawn<Box>().value();
  sys.run_until_idle();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a.tell(Note{i}).has_value());
  auto h = sys.health();
  EXPECT_EQ(h.system.live_actors, 2u);
  ASSERT_EQ(h.actors.size(), 2u);
  EXPECT_EQ(h.actors[0].id, a.id());
  EXPECT_EQ(h.actors[0].stats.mailbox_depth, 3u);
  EXPECT_EQ(h.mailbox_depth_total, 3u);
  sys.run_until_idle();
  EXPECT_EQ(sys.health().actors[0].stats.processed, 3u);
  (void)b;
}

}  // namespace
