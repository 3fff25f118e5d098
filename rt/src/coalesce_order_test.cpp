// Coalesced tells (cell.cpp, Outbox) and causal order: what a handler told
// before it lets anyone see its work (a reply, a system message to any
// actor, a failure handled) is in the receiver's mailbox by then, so
// nothing sent afterwards by whoever saw it overtakes it.
//
// Each test tells exactly twice in a row: the first tell goes at once, the
// second is chained and, being the chain's first, is held until something
// publishes it (a longer chain may also be published early by the clock
// bound). Where the observer must run while the sender's handler still
// holds the chain, the observer is parked on the other worker in a Gate
// handler beforehand, so the sender's tells do not make it runnable on the
// sender's own worker.
#include <airssys/rt/router.hpp>
#include <airssys/rt/system.hpp>
#include <airssys/testing/eventually.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace rt = airssys::rt;
using namespace std::chrono_literals;
using airssys::testing::eventually;

namespace {

struct Item { int v; };
struct Get { using reply_type = int; };
// Parks the receiving actor on its worker until *until is true.
struct Gate {
  std::atomic<bool>* entered;
  std::atomic<bool>* until;
};

void park(Gate& g) {
  g.entered->store(true);
  // Only a test blocks a worker like this.
  (void)eventually([&] { return g.until->load(); });
}

// Records the Items it gets, in order. The test reads them after an ask
// (Get) has answered: the reply orders the actor's writes before the read.
class Recorder : public rt::Actor<Recorder, Item, Get, Gate> {
 public:
  explicit Recorder(std::vector<int>* seen) : seen_(seen) {}
  void handle(Item& m) { seen_->push_back(m.v); }
  int handle(Get&) { return static_cast<int>(seen_->size()); }
  void handle(Gate& g) { park(g); }

 private:
  std::vector<int>* seen_;
};

// Traps exits; on an exit signal (but the system's shutdown) tells
// `report` (itself if empty) the marker -1 and says so.
struct ReportTo { rt::ActorRef<Item> to; };
class Trapper : public rt::Actor<Trapper, Item, Get, Gate, ReportTo> {
 public:
  Trapper(std::vector<int>* seen, std::atomic<bool>* exited) : seen_(seen), exited_(exited) {}
  void pre_start() override { trap_exit(true); }
  void handle(Item& m) { seen_->push_back(m.v); }
  int handle(Get&) { return static_cast<int>(seen_->size()); }
  void handle(Gate& g) { park(g); }
  void handle(ReportTo& r) { report_ = r.to; }
  void on_exit(const rt::ExitSignal& s) override {
    if (s.reason == rt::ExitReason::shutdown) {  // the system's, at the end of the test
      stop();
      return;
    }
    (void)(report_.valid() ? report_ : rt::ActorRef<Item>(self())).tell(Item{-1});
    exited_->store(true);
  }

 private:
  std::vector<int>* seen_;
  std::atomic<bool>* exited_;
  rt::ActorRef<Item> report_;
};

// Tells `to` 0 and 1, then sends `signal` an exit signal, then waits (in
// the handler) until the signal's receiver has acted on it.
struct TellThenSignal {
  rt::ActorRef<Item> to;
  rt::AnyRef signal;
  std::atomic<bool>* sent;
  std::atomic<bool>* acted;
};
class Signaller : public rt::Actor<Signaller, TellThenSignal> {
 public:
  void handle(TellThenSignal& m) {
    (void)m.to.tell(Item{0});
    (void)m.to.tell(Item{1});
    m.signal.send_exit(rt::ExitReason::normal);
    m.sent->store(true);
    (void)eventually([&] { return m.acted->load(); });
  }
};

// The receiver of the tells traps the exit signal sent right after them and
// tells itself a marker: the tells are in its mailbox before the signal, so
// the marker comes after both.
TEST(CoalesceOrder, ASystemMessageToTheTargetGoesAfterTheTells) {
  std::vector<int> seen;
  std::atomic<bool> entered{false}, sent{false}, exited{false};
  rt::ActorSystem sys{{.workers = 2}};
  auto x = sys.spawn<Trapper>(&seen, &exited).value();
  auto s = sys.spawn<Signaller>().value();
  ASSERT_TRUE(x.tell(Gate{&entered, &sent}).has_value());
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  ASSERT_TRUE(s.tell(TellThenSignal{x, x, &sent, &exited}).has_value());
  ASSERT_TRUE(eventually([&] { return x.stats().processed == 4; }));  // Gate, 0, 1, -1
  ASSERT_TRUE(x.ask(Get{}, 60s).has_value());
  EXPECT_EQ(seen, (std::vector<int>{0, 1, -1}));
}

// The same with the signal going to a third actor, which then tells the
// target: the handler's chain goes before any system message it sends.
TEST(CoalesceOrder, ASystemMessageToAnotherActorGoesAfterTheTells) {
  std::vector<int> ys, zs;
  std::atomic<bool> entered{false}, sent{false}, exited{false};
  rt::ActorSystem sys{{.workers = 2}};
  auto y = sys.spawn<Recorder>(&ys).value();
  auto z = sys.spawn<Trapper>(&zs, &exited).value();
  auto s = sys.spawn<Signaller>().value();
  ASSERT_TRUE(z.tell(ReportTo{y}).has_value());
  ASSERT_TRUE(z.tell(Gate{&entered, &sent}).has_value());
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  ASSERT_TRUE(s.tell(TellThenSignal{y, z, &sent, &exited}).has_value());
  ASSERT_TRUE(eventually([&] { return y.stats().processed == 3; }));
  ASSERT_TRUE(y.ask(Get{}, 60s).has_value());
  EXPECT_EQ(ys, (std::vector<int>{0, 1, -1}));
}

// The reviewer's example (session 11): main asks coord; coord's handler
// tells y twice and replies, then goes on working (here: waits for main);
// main, having its reply, asks y how many it got: both.
struct Fan {
  using reply_type = int;
  rt::ActorRef<Item> y;
  std::atomic<bool>* release;
};
class Coord : public rt::Actor<Coord, Fan> {
 public:
  int handle(Fan& f) {
    (void)f.y.tell(Item{0});
    (void)f.y.tell(Item{1});
    defer_reply(f).deliver(0);
    (void)eventually([&] { return f.release->load(); });
    return 0;  // ignored: the reply went above
  }
};

TEST(CoalesceOrder, AReplyGoesAfterTheTellsOfTheReplyingHandler) {
  std::vector<int> ys;
  std::atomic<bool> entered{false}, replied{false}, release{false};
  rt::ActorSystem sys{{.workers = 2}};
  auto y = sys.spawn<Recorder>(&ys).value();
  auto coord = sys.spawn<Coord>().value();
  ASSERT_TRUE(y.tell(Gate{&entered, &replied}).has_value());
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  ASSERT_TRUE(coord.ask(Fan{y, &release}, 60s).has_value());
  replied = true;  // y leaves the Gate and takes what is queued
  auto n = y.ask(Get{}, 60s);
  release = true;
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 2);
}

// A handler that throws: its chained tells are queued before the failure
// is handled (on_error sees both in the receiver's mailbox), and delivered.
struct Boom { rt::ActorRef<Item> to; };
class Thrower : public rt::Actor<Thrower, Boom> {
 public:
  explicit Thrower(std::uint32_t* depth_on_error) : depth_(depth_on_error) {}
  void handle(Boom& b) {
    to_ = b.to;
    (void)b.to.tell(Item{0});
    (void)b.to.tell(Item{1});
    throw std::runtime_error("after two tells");
  }
  rt::Directive on_error(const rt::Failure&) override {
    *depth_ = to_.stats().mailbox_depth;
    return rt::Directive::escalate;
  }

 private:
  std::uint32_t* depth_;
  rt::ActorRef<Item> to_;
};

TEST(CoalesceOrder, TellsBeforeAThrowAreQueuedBeforeTheFailureIsHandled) {
  std::vector<int> seen;
  std::uint32_t depth = 0;
  rt::ActorSystem sys{{.deterministic = true}};
  auto s = sys.spawn<Recorder>(&seen).value();
  auto t = sys.spawn<Thrower>(&depth).value();
  sys.run_until_idle();
  ASSERT_TRUE(t.tell(Boom{s}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(depth, 2u);
  EXPECT_TRUE(t.stopped());
  EXPECT_EQ(seen, (std::vector<int>{0, 1}));
}

// The target stops while the sender's handler still holds its second tell
// (the mailbox shows one of the two): published to the stopped actor when
// the handler returns, it becomes a dead letter, as the first does.
struct Hold {
  rt::ActorRef<Item> to;
  std::atomic<int>* told;
  std::atomic<std::uint32_t>* queued_by_tells;
};
class Holder : public rt::Actor<Holder, Hold> {
 public:
  void handle(Hold& h) {
    const auto before = h.to.stats().mailbox_depth;
    for (int i = 0; i < 2; ++i)
      if (h.to.tell(Item{i})) h.told->fetch_add(1);
    h.queued_by_tells->store(h.to.stats().mailbox_depth - before);
    (void)eventually([&] { return h.to.stopped(); });
  }
};

TEST(CoalesceOrder, TargetStoppedBeforeThePublishDeadLettersTheChain) {
  std::vector<int> seen;
  std::atomic<bool> entered{false}, go{false};
  std::atomic<int> told{0};
  std::atomic<std::uint32_t> queued_by_tells{99};  // 99: not yet recorded
  rt::ActorSystem sys{{.workers = 2}};
  auto g = sys.spawn<Recorder>(&seen).value();
  auto h = sys.spawn<Holder>().value();
  const auto dead0 = sys.stats().dead_letters;
  ASSERT_TRUE(g.tell(Gate{&entered, &go}).has_value());
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  ASSERT_TRUE(h.tell(Hold{g, &told, &queued_by_tells}).has_value());
  ASSERT_TRUE(eventually([&] { return told.load() == 2; }));
  g.stop();   // queued behind the Gate, ahead of the Items (system priority)
  go = true;  // the Gate returns; g stops; the holder then returns and publishes
  ASSERT_TRUE(eventually([&] { return sys.stats().dead_letters - dead0 == 2; }));
  ASSERT_TRUE(eventually([&] { return queued_by_tells.load() != 99; }));
  EXPECT_EQ(queued_by_tells.load(), 1u);  // the second was held in the chain
  EXPECT_TRUE(g.stopped());
  EXPECT_EQ(g.stats().processed, 1u);  // the Gate only
  EXPECT_TRUE(seen.empty());
}

// least_loaded inside a handler: the handler's own chained tells count in
// the routees' depths (published before each pick). Routee b has 4 queued
// (told by this handler too); of 10 routed, a gets 7 (4 until it is as
// deep, then every other one) and b 3, rather than a all 10 once a chain
// to it hides them.
struct Spread {
  rt::Router<Item>* pool;
  rt::ActorRef<Item> b;
};
class Spreader : public rt::Actor<Spreader, Spread> {
 public:
  void handle(Spread& s) {
    for (int i = 0; i < 4; ++i) (void)s.b.tell(Item{100 + i});
    for (int i = 0; i < 10; ++i) (void)s.pool->tell(Item{i});
  }
};

TEST(CoalesceOrder, LeastLoadedInsideAHandlerSeesItsOwnTells) {
  std::vector<int> a, b;
  rt::ActorSystem sys{{.deterministic = true}};
  auto ra = sys.spawn<Recorder>(&a).value();
  auto rb = sys.spawn<Recorder>(&b).value();
  rt::Router<Item> pool(rt::Routing::least_loaded, {rt::ActorRef<Item>(ra), rt::ActorRef<Item>(rb)});
  auto sp = sys.spawn<Spreader>().value();
  sys.run_until_idle();
  ASSERT_TRUE(sp.tell(Spread{&pool, rb}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(a.size(), 7u);
  EXPECT_EQ(b.size(), 7u);
}

}  // namespace
