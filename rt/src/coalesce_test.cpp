// Sender-side coalescing (cell.cpp, Outbox): a handler's consecutive tells
// to one target are chained and published together. These tests check that
// the mailbox contract holds for them exactly as for single tells: the
// capacity (tells refused exactly when it is full, reservations given back),
// per-sender order, delivery when the handler returns or throws, dead
// letters when the target stops before the chain is published.
#include <airssys/rt/system.hpp>
#include <airssys/testing/eventually.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <vector>

namespace rt = airssys::rt;
using namespace std::chrono_literals;
using airssys::testing::eventually;

namespace {

struct Item { int v; };

class Sink : public rt::Actor<Sink, Item> {
 public:
  explicit Sink(std::vector<int>* seen) : seen_(seen) {}
  void handle(Item& m) { seen_->push_back(m.v); }

 private:
  std::vector<int>* seen_;
};

rt::SpawnOptions bounded(std::uint32_t cap, rt::Overflow o) {
  rt::SpawnOptions s;
  s.mailbox.capacity = cap;
  s.mailbox.overflow = o;
  return s;
}

std::vector<int> iota(int from, int to) {
  std::vector<int> v;
  for (int i = from; i < to; ++i) v.push_back(i);
  return v;
}

// Tells `to` the values [from, from + n) in one handler; records which were accepted.
struct Burst { rt::ActorRef<Item> to; int from; int n; };
class Burster : public rt::Actor<Burster, Burst> {
 public:
  explicit Burster(std::vector<int>* accepted) : accepted_(accepted) {}
  void handle(Burst& b) {
    for (int i = b.from; i < b.from + b.n; ++i)
      if (b.to.tell(Item{i})) accepted_->push_back(i);
  }

 private:
  std::vector<int>* accepted_;
};

// Deterministic: nothing drains while the handlers run, so the capacity is
// filled by this handler's tells alone (more than one chunk of them).
TEST(Coalesce, TellsFromOneHandlerStopExactlyAtTheCapacity) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen, accepted;
  auto s = sys.spawn_with<Sink>(bounded(100, rt::Overflow::fail), &seen).value();
  auto b = sys.spawn<Burster>(&accepted).value();
  sys.run_until_idle();
  ASSERT_TRUE(b.tell(Burst{s, 0, 250}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(accepted, iota(0, 100));
  EXPECT_EQ(s.stats().dropped, 150u);
  EXPECT_EQ(seen, iota(0, 100));
  EXPECT_EQ(s.stats().mailbox_depth, 0u);
}

// A handler reserves slots ahead in chunks; those it did not use go back
// when it returns, so the next sender finds exactly the room that is left.
TEST(Coalesce, UnusedReservationsAreGivenBack) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen;
  auto s = sys.spawn_with<Sink>(bounded(100, rt::Overflow::fail), &seen).value();
  std::vector<int> accepted;
  auto b = sys.spawn<Burster>(&accepted).value();
  sys.run_until_idle();
  // Two handlers of one actor, in one batch: s does not run in between.
  ASSERT_TRUE(b.tell(Burst{s, 0, 70}).has_value());
  ASSERT_TRUE(b.tell(Burst{s, 1000, 50}).has_value());
  sys.run_until_idle();
  std::vector<int> want = iota(0, 70);
  for (int v : iota(1000, 1030)) want.push_back(v);
  EXPECT_EQ(accepted, want);
  EXPECT_EQ(s.stats().dropped, 20u);
  EXPECT_EQ(seen.size(), 100u);
}

TEST(Coalesce, DropNewestInsideAHandlerKeepsTheFirst) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen, accepted;
  auto s = sys.spawn_with<Sink>(bounded(3, rt::Overflow::drop_newest), &seen).value();
  auto b = sys.spawn<Burster>(&accepted).value();
  sys.run_until_idle();
  ASSERT_TRUE(b.tell(Burst{s, 0, 10}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(accepted, iota(0, 10));  // drop_newest acknowledges and drops
  EXPECT_EQ(seen, iota(0, 3));
  EXPECT_EQ(s.stats().dropped, 7u);
}

// One handler alternating between two targets, in runs longer than a chunk:
// each target sees this sender's messages in the order they were told.
struct Mix { rt::ActorRef<Item> x, y; };
class Mixer : public rt::Actor<Mixer, Mix> {
 public:
  void handle(Mix& m) {
    for (int i = 0; i < 200; ++i) (void)m.x.tell(Item{i});
    (void)m.y.tell(Item{0});
    for (int i = 200; i < 300; ++i) (void)m.x.tell(Item{i});
    for (int i = 1; i < 70; ++i) (void)m.y.tell(Item{i});
    (void)m.x.tell(Item{300});
  }
};

TEST(Coalesce, PerSenderOrderAcrossChunksAndTargets) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> xs, ys;
  auto x = sys.spawn<Sink>(&xs).value();
  auto y = sys.spawn<Sink>(&ys).value();
  auto m = sys.spawn<Mixer>().value();
  ASSERT_TRUE(m.tell(Mix{x, y}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(xs, iota(0, 301));
  EXPECT_EQ(ys, iota(0, 70));
}

// Tells acknowledged before the handler throws are delivered (the chain is
// published before the failure is handled and the sender terminates).
struct Boom { rt::ActorRef<Item> to; };
class Thrower : public rt::Actor<Thrower, Boom> {
 public:
  void handle(Boom& b) {
    for (int i = 0; i < 5; ++i) (void)b.to.tell(Item{i});
    throw std::runtime_error("after five tells");
  }
};

TEST(Coalesce, TellsBeforeAThrowAreDelivered) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen;
  auto s = sys.spawn<Sink>(&seen).value();
  auto t = sys.spawn<Thrower>().value();
  ASSERT_TRUE(t.tell(Boom{s}).has_value());
  sys.run_until_idle();
  EXPECT_TRUE(t.stopped());
  EXPECT_EQ(seen, iota(0, 5));
}

// A stop sent by the handler after its tells goes after them, as it did
// when every tell was enqueued at once: the target has them queued when it
// stops, and they become dead letters, none lost.
struct FeedThenStop { rt::ActorRef<Item> to; };
class Stopper : public rt::Actor<Stopper, FeedThenStop> {
 public:
  void handle(FeedThenStop& f) {
    for (int i = 0; i < 10; ++i) (void)f.to.tell(Item{i});
    f.to.stop();
  }
};

TEST(Coalesce, StopAfterTellsFromTheSameHandler) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen;
  auto s = sys.spawn<Sink>(&seen).value();
  auto st = sys.spawn<Stopper>().value();
  sys.run_until_idle();
  const auto dead0 = sys.stats().dead_letters;
  ASSERT_TRUE(st.tell(FeedThenStop{s}).has_value());
  sys.run_until_idle();
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(seen.size() + (sys.stats().dead_letters - dead0), 10u);
}

// The target stops while the sender's handler still holds acknowledged
// tells in its chain: they are published to the stopped actor when the
// handler returns and counted as dead letters. The target is kept busy on
// one worker (so it is stopped right after, without waiting to be
// scheduled) while the sender runs on the other.
struct Wait { std::atomic<bool>* go; };
class Gated : public rt::Actor<Gated, Item, Wait> {
 public:
  void handle(Item&) {}
  // Only a test blocks a worker like this.
  void handle(Wait& w) { (void)eventually([&] { return w.go->load(); }); }
};
struct Hold { rt::ActorRef<Item> to; std::atomic<int>* told; };
class Holder : public rt::Actor<Holder, Hold> {
 public:
  void handle(Hold& h) {
    for (int i = 0; i < 10; ++i)
      if (h.to.tell(Item{i})) h.told->fetch_add(1);
    (void)eventually([&] { return h.to.stopped(); });
  }
};

TEST(Coalesce, TargetStoppedBeforeThePublishDeadLettersTheChain) {
  rt::ActorSystem sys{{.workers = 2}};
  auto g = sys.spawn<Gated>().value();
  auto h = sys.spawn<Holder>().value();
  std::atomic<bool> go{false};
  std::atomic<int> told{0};
  const auto dead0 = sys.stats().dead_letters;
  ASSERT_TRUE(g.tell(Wait{&go}).has_value());
  ASSERT_TRUE(h.tell(Hold{g, &told}).has_value());
  ASSERT_TRUE(eventually([&] { return told.load() == 10; }));
  g.stop();    // queued behind Wait, ahead of the Items (system priority)
  go = true;   // Wait returns; g stops; the holder then returns and publishes
  ASSERT_TRUE(eventually([&] { return sys.stats().dead_letters - dead0 == 10; }));
  EXPECT_TRUE(g.stopped());
  EXPECT_EQ(g.stats().processed, 1u);  // Wait only
}

}  // namespace
