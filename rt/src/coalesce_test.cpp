// Sender-side coalescing (cell.cpp, Outbox): a handler's consecutive tells
// to one target are chained and published together. These tests check that
// the mailbox contract holds for them exactly as for single tells: the
// capacity (tells refused exactly when it is full, reservations small and
// given back, waking a blocked sender), per-sender order, a bounded fan-in.
// Causal order (replies, system messages, failures, a stopped target):
// coalesce_order_test.cpp.
#include <airssys/rt/system.hpp>
#include <airssys/testing/eventually.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

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

// A handler that tells slowly still feeds its receiver: a tell made a tick
// of the envelope clock (1-4 ms) after the chain's first publishes the
// chain with it, before the handler returns.
struct Slow { rt::ActorRef<Item> to; std::uint32_t* depth_after_pause; };
class SlowTeller : public rt::Actor<SlowTeller, Slow> {
 public:
  void handle(Slow& m) {
    (void)m.to.tell(Item{0});
    (void)m.to.tell(Item{1});                     // chained, held
    std::this_thread::sleep_for(10ms);            // more than a tick: the work between two tells
    (void)m.to.tell(Item{2});                     // finds the chain old: all go
    *m.depth_after_pause = m.to.stats().mailbox_depth;
  }
};

TEST(Coalesce, AChainHeldForAClockTickGoesWithTheNextTell) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen;
  std::uint32_t depth = 0;
  auto s = sys.spawn<Sink>(&seen).value();
  auto t = sys.spawn<SlowTeller>().value();
  sys.run_until_idle();
  ASSERT_TRUE(t.tell(Slow{s, &depth}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(depth, 3u);
  EXPECT_EQ(seen, iota(0, 3));
}

// A sender that has told twice in a row and then holds its chain (the
// handler goes on working) reserves what it used and a little more, not
// the rest of the capacity: others can still fill it. Reservations grow
// 1, 2, 4, ... and never exceed an eighth of the capacity (here 2).
struct TellThenShare { rt::ActorRef<Item> to; int* others_accepted; std::uint32_t* reserved; };
class Sharer : public rt::Actor<Sharer, TellThenShare> {
 public:
  void handle(TellThenShare& m) {
    for (int i = 0; i < 3; ++i) (void)m.to.tell(Item{i});
    *m.reserved = m.to.stats().mailbox_reserved;
    // Another sender while this handler holds its chain: a plain thread
    // (deterministic mode: the target does not run meanwhile).
    std::thread other([&] {
      while (m.to.tell(Item{100})) ++*m.others_accepted;
    });
    other.join();
  }
};

TEST(Coalesce, AHoldingSenderLeavesTheRestOfTheCapacityToOthers) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen;
  int others = 0;
  std::uint32_t reserved = 0;
  auto s = sys.spawn_with<Sink>(bounded(16, rt::Overflow::fail), &seen).value();
  auto h = sys.spawn<Sharer>().value();
  sys.run_until_idle();
  ASSERT_TRUE(h.tell(TellThenShare{s, &others, &reserved}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(reserved, 3u);  // 1, then 2: two used, one spare
  EXPECT_EQ(others, 16 - 1 - 3);
  EXPECT_EQ(seen.size(), 3u + 12u);
  EXPECT_EQ(s.stats().mailbox_reserved, 0u);  // the spare one was given back
}

// Parks the receiving actor on its worker until *until is true.
struct Gate { std::atomic<bool>* entered; std::atomic<bool>* until; };
class GatedSink : public rt::Actor<GatedSink, Item, Gate> {
 public:
  void handle(Item&) {}
  void handle(Gate& g) {
    g.entered->store(true);
    (void)eventually([&] { return g.until->load(); });  // only a test blocks a worker like this
  }
};

// Fills the target's capacity exactly, one slot of it reserved and unused,
// and returns only once the plain thread blocked on the full mailbox sleeps.
struct Fill {
  rt::ActorRef<Item> to;
  std::uint32_t* depth;
  std::uint32_t* reserved;
  std::atomic<bool>* filled;
  std::atomic<bool>* blocked;
};
class Filler : public rt::Actor<Filler, Fill> {
 public:
  void handle(Fill& f) {
    for (int i = 0; i < 15; ++i) (void)f.to.tell(Item{i});
    const auto st = f.to.stats();
    *f.depth = st.mailbox_depth;
    *f.reserved = st.mailbox_reserved;
    f.filled->store(true);
    (void)eventually([&] { return f.blocked->load(); });
  }
};

// A thread's state letter in /proc ('S': sleeping, here in the mailbox's
// condition variable).
char thread_state(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(in, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '?';
}

// The slot a returning handler gives back is room a plain thread blocked in
// Overflow::block waits for: the give-back wakes it. The receiver is parked
// meanwhile, so nothing else frees room or wakes the thread (its block
// timeout is far beyond the test's wait).
TEST(Coalesce, GivenBackSlotsWakeABlockedSender) {
  std::atomic<bool> entered{false}, release{false}, filled{false}, blocked{false}, told{false};
  std::atomic<pid_t> tid{0};
  std::uint32_t depth = 0, reserved = 0;
  rt::ActorSystem sys{{.workers = 2}};
  rt::SpawnOptions o = bounded(17, rt::Overflow::block);
  o.mailbox.block_timeout = 600s;
  auto t = sys.spawn_with<GatedSink>(o).value();
  auto f = sys.spawn<Filler>().value();
  ASSERT_TRUE(eventually([&] { return t.stats().mailbox_depth == 0; }));  // started
  ASSERT_TRUE(t.tell(Gate{&entered, &release}).has_value());
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  ASSERT_TRUE(f.tell(Fill{t, &depth, &reserved, &filled, &blocked}).has_value());
  std::expected<void, rt::Error> result = std::unexpected(rt::Error{rt::ErrorCategory::timeout, "not told"});
  std::thread sender([&] {
    (void)eventually([&] { return filled.load(); });
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    result = t.tell(Item{99});
    told = true;
  });
  const bool slept = eventually([&] { return tid.load() != 0 && thread_state(tid.load()) == 'S'; });
  blocked = true;  // the filler returns and gives its spare slot back
  const bool woken = eventually([&] { return told.load(); });
  release = true;  // unpark the receiver in any case, so the sender ends
  sender.join();
  EXPECT_EQ(depth, 2u);      // the Gate and the first tell
  EXPECT_EQ(reserved, 15u);  // 14 chained tells and one spare: 17, full
  EXPECT_TRUE(slept);
  EXPECT_TRUE(woken);
  EXPECT_TRUE(result.has_value());
}

// Fan-in onto a bounded mailbox from actors (coalescing, refused and
// resumed with when_space) and a plain thread (blocking), at once: every
// accepted message arrives once, in each sender's order (run under TSan
// too: reservations, give-backs and wake-ups race with the receiver).
struct Seq { int sender; int n; };
class Checker : public rt::Actor<Checker, Seq> {
 public:
  Checker(std::atomic<long>* got, std::atomic<long>* out_of_order) : got_(got), bad_(out_of_order) {}
  void handle(Seq& m) {
    if (m.n != next_[static_cast<std::size_t>(m.sender)]) bad_->fetch_add(1);
    next_[static_cast<std::size_t>(m.sender)] = m.n + 1;
    got_->fetch_add(1);
  }

 private:
  std::atomic<long>* got_;
  std::atomic<long>* bad_;
  std::vector<int> next_ = std::vector<int>(8, 0);
};
struct Go {};
class Feeder : public rt::Actor<Feeder, Go> {
 public:
  Feeder(rt::ActorRef<Seq> to, int id, int count) : to_(std::move(to)), id_(id), count_(count) {}
  void handle(Go&) {
    for (int k = 0; k < 500 && n_ < count_; ++k) {
      if (!to_.tell(Seq{id_, n_})) {
        when_space(to_, [this] { (void)self().tell(Go{}); });
        return;
      }
      ++n_;
    }
    if (n_ < count_) (void)self().tell(Go{});
  }

 private:
  rt::ActorRef<Seq> to_;
  int id_, count_, n_ = 0;
};

TEST(Coalesce, FanInOntoABoundedMailbox) {
  constexpr int kPer = 20'000;
  std::atomic<long> got{0}, bad{0};
  rt::ActorSystem sys{{.workers = 2}};
  auto c = sys.spawn_with<Checker>(bounded(64, rt::Overflow::block), &got, &bad).value();
  std::vector<Feeder::ref_type> feeders;
  for (int i = 0; i < 3; ++i) feeders.push_back(sys.spawn<Feeder>(rt::ActorRef<Seq>(c), i, kPer).value());
  for (auto& f : feeders) ASSERT_TRUE(f.tell(Go{}).has_value());
  for (int n = 0; n < kPer; ++n) ASSERT_TRUE(c.tell(Seq{3, n}).has_value());  // blocks while full
  ASSERT_TRUE(eventually([&] { return got.load() == 4L * kPer; }));
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(c.stats().mailbox_reserved, 0u);
}

}  // namespace
