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
#include <utility>
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

// Waits until the envelope clock (coarse, a tick of 1-10 ms) has moved past
// its reading now: the next tell's timestamp differs from every earlier one.
void next_tick() {
  const std::int64_t t = rt::detail::now_ns();
  while (rt::detail::now_ns() == t) std::this_thread::sleep_for(100us);
}

// A teller's handler records the target's depth where it wants to know
// what has been delivered.
struct Probe { rt::ActorRef<Item> to; std::vector<std::uint32_t>* depths; };

struct Probed { std::vector<std::uint32_t> depths; std::vector<int> seen; };

// Runs Teller's handler once on a deterministic system (the receiver does
// not drain meanwhile): the depths it recorded, what the receiver then saw.
template <class Teller>
Probed probe() {
  rt::ActorSystem sys{{.deterministic = true}};
  Probed r;
  auto s = sys.spawn<Sink>(&r.seen).value();
  auto t = sys.spawn<Teller>().value();
  sys.run_until_idle();
  EXPECT_TRUE(t.tell(Probe{s, &r.depths}).has_value());
  sys.run_until_idle();
  return r;
}

// A handler slower than a clock tick ("compute; tell" in a loop) holds
// nothing: each tell is in the mailbox when tell() returns, not when the
// handler does.
class SlowLooper : public rt::Actor<SlowLooper, Probe> {
 public:
  void handle(Probe& m) {
    for (int i = 0; i < 4; ++i) {
      (void)m.to.tell(Item{i});
      m.depths->push_back(m.to.stats().mailbox_depth);
      next_tick();  // the work between two tells, longer than a tick
    }
  }
};

TEST(Coalesce, ASenderSlowerThanAClockTickHoldsNothing) {
  const Probed r = probe<SlowLooper>();
  EXPECT_EQ(r.depths, (std::vector<std::uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.seen, iota(0, 4));
}

// A burst's chain goes with the first tell to that target a tick later.
class SlowTeller : public rt::Actor<SlowTeller, Probe> {
 public:
  void handle(Probe& m) {
    for (int i = 0; i < 3; ++i) (void)m.to.tell(Item{i});  // chained, held (unless the clock ticked)
    next_tick();
    (void)m.to.tell(Item{3});  // all go
    m.depths->push_back(m.to.stats().mailbox_depth);
  }
};

TEST(Coalesce, ABurstGoesWithTheNextTellAClockTickLater) {
  const Probed r = probe<SlowTeller>();
  EXPECT_EQ(r.depths, (std::vector<std::uint32_t>{4}));
  EXPECT_EQ(r.seen, iota(0, 4));
}

// A tell with a TTL is timed from the tell: it is never held, and what was
// chained before it goes first.
class TtlTeller : public rt::Actor<TtlTeller, Probe> {
 public:
  void handle(Probe& m) {
    (void)m.to.tell(Item{0});
    (void)m.to.tell(Item{1});  // chained unless the clock ticked
    (void)m.to.tell(Item{2}, rt::SendOptions{.ttl = 60s});
    m.depths->push_back(m.to.stats().mailbox_depth);
  }
};

TEST(Coalesce, ATellWithATtlIsNotHeld) {
  const Probed r = probe<TtlTeller>();
  EXPECT_EQ(r.depths, (std::vector<std::uint32_t>{3}));
  EXPECT_EQ(r.seen, iota(0, 3));
}

// The scenarios below need a handler's tells in one clock tick (a tick in
// between sends the chain early, by design). The handler reads the clock
// before and after its tells; when it moved, the scenario is run again on
// a fresh system (a tick is 1-10 ms, the tells take microseconds: a rerun
// is rare, two in a row rarer still).
constexpr int kTickRetries = 50;

// A sender that has told twice in a row and then holds its chain (the
// handler goes on working) reserves what it used and a little more, not
// the rest of the capacity: others can still fill it. Reservations grow
// 1, 2, 4, ... and never exceed an eighth of the capacity (here 2).
struct TellThenShare { rt::ActorRef<Item> to; int* others_accepted; std::uint32_t* reserved; bool* ticked; };
class Sharer : public rt::Actor<Sharer, TellThenShare> {
 public:
  void handle(TellThenShare& m) {
    const std::int64_t t0 = rt::detail::now_ns();
    for (int i = 0; i < 3; ++i) (void)m.to.tell(Item{i});
    *m.ticked = rt::detail::now_ns() != t0;
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
  int others = 0, attempt = 0;
  std::uint32_t reserved = 0, reserved_after = 0;
  std::size_t seen_count = 0;
  bool ticked = true;
  for (; ticked && attempt < kTickRetries; ++attempt) {
    rt::ActorSystem sys{{.deterministic = true}};
    std::vector<int> seen;
    others = 0;
    auto s = sys.spawn_with<Sink>(bounded(16, rt::Overflow::fail), &seen).value();
    auto h = sys.spawn<Sharer>().value();
    sys.run_until_idle();
    ASSERT_TRUE(h.tell(TellThenShare{s, &others, &reserved, &ticked}).has_value());
    sys.run_until_idle();
    seen_count = seen.size();
    reserved_after = s.stats().mailbox_reserved;
  }
  ASSERT_FALSE(ticked) << "the clock ticked during every attempt";
  EXPECT_EQ(reserved, 3u);  // 1, then 2: two used, one spare
  EXPECT_EQ(others, 16 - 1 - 3);
  EXPECT_EQ(seen_count, 3u + 12u);
  EXPECT_EQ(reserved_after, 0u);  // the spare one was given back
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
// and returns only once the plain thread blocked on the full mailbox sleeps
// (or at once when the clock ticked during the tells: the test reruns).
struct Fill {
  rt::ActorRef<Item> to;
  std::uint32_t* depth;
  std::uint32_t* reserved;
  std::atomic<bool>* ticked;
  std::atomic<bool>* filled;
  std::atomic<bool>* blocked;
};
class Filler : public rt::Actor<Filler, Fill> {
 public:
  void handle(Fill& f) {
    const std::int64_t t0 = rt::detail::now_ns();
    for (int i = 0; i < 15; ++i) (void)f.to.tell(Item{i});
    f.ticked->store(rt::detail::now_ns() != t0);
    const auto st = f.to.stats();
    *f.depth = st.mailbox_depth;
    *f.reserved = st.mailbox_reserved;
    f.filled->store(true);
    if (!f.ticked->load()) (void)eventually([&] { return f.blocked->load(); });
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

struct GiveBackRun {
  bool ticked = false;
  std::uint32_t depth = 0, reserved = 0;
  bool slept = false, woken = false, told_ok = false;
};

GiveBackRun give_back_once() {
  GiveBackRun r;
  std::atomic<bool> entered{false}, release{false}, ticked{false}, filled{false}, blocked{false}, told{false};
  std::atomic<pid_t> tid{0};
  rt::ActorSystem sys{{.workers = 2}};
  rt::SpawnOptions o = bounded(17, rt::Overflow::block);
  o.mailbox.block_timeout = 600s;
  auto t = sys.spawn_with<GatedSink>(o).value();
  auto f = sys.spawn<Filler>().value();
  if (!eventually([&] { return t.stats().mailbox_depth == 0; })) return r;  // started
  if (!t.tell(Gate{&entered, &release}) || !eventually([&] { return entered.load(); })) return r;
  if (!f.tell(Fill{t, &r.depth, &r.reserved, &ticked, &filled, &blocked})) return r;
  (void)eventually([&] { return filled.load(); });
  if (ticked.load()) {
    r.ticked = true;
    release = true;
    return r;
  }
  std::expected<void, rt::Error> result = std::unexpected(rt::Error{rt::ErrorCategory::timeout, "not told"});
  std::thread sender([&] {
    tid = static_cast<pid_t>(::syscall(SYS_gettid));
    result = t.tell(Item{99});
    told = true;
  });
  r.slept = eventually([&] { return tid.load() != 0 && thread_state(tid.load()) == 'S'; });
  blocked = true;  // the filler returns and gives its spare slot back
  r.woken = eventually([&] { return told.load(); });
  release = true;  // unpark the receiver in any case, so the sender ends
  sender.join();
  r.told_ok = result.has_value();
  return r;
}

// The slot a returning handler gives back is room a plain thread blocked in
// Overflow::block waits for: the give-back wakes it. The receiver is parked
// meanwhile, so nothing else frees room or wakes the thread (its block
// timeout is far beyond the test's wait).
TEST(Coalesce, GivenBackSlotsWakeABlockedSender) {
  GiveBackRun r;
  int attempt = 0;
  for (r.ticked = true; r.ticked && attempt < kTickRetries; ++attempt) r = give_back_once();
  ASSERT_FALSE(r.ticked) << "the clock ticked during every attempt";
  EXPECT_EQ(r.depth, 2u);      // the Gate and the first tell
  EXPECT_EQ(r.reserved, 15u);  // 14 chained tells and one spare: 17, full
  EXPECT_TRUE(r.slept);
  EXPECT_TRUE(r.woken);
  EXPECT_TRUE(r.told_ok);
}

// Publishing a chain can run user code: a stopped waiter's when_space
// function, refused, is destroyed on the publishing thread. Tells from its
// destructor are neither held after the handler that published nor lost.
struct TellsTwiceOnDestroy {
  rt::ActorRef<Item> to;
  explicit TellsTwiceOnDestroy(rt::ActorRef<Item> t) : to(std::move(t)) {}
  TellsTwiceOnDestroy(TellsTwiceOnDestroy&& o) noexcept : to(std::exchange(o.to, {})) {}
  TellsTwiceOnDestroy& operator=(TellsTwiceOnDestroy&&) = delete;
  ~TellsTwiceOnDestroy() {
    if (!to.valid()) return;
    (void)to.tell(Item{1});
    (void)to.tell(Item{2});
  }
};

struct Register { rt::ActorRef<Item> target; std::atomic<bool>* ran; std::atomic<bool>* done; };
class Waiter : public rt::Actor<Waiter, Register> {
 public:
  void handle(Register& r) {
    when_space(r.target, [p = TellsTwiceOnDestroy(r.target), ran = r.ran] { ran->store(true); });
    r.done->store(true);
  }
};

// Tells `to` 9 times (one direct, 8 chained: 9 slots reserved) and holds
// the chain until *go.
struct Hold { rt::ActorRef<Item> to; std::atomic<bool>* ticked; std::atomic<bool>* holding; std::atomic<bool>* go; };
class Holder : public rt::Actor<Holder, Hold> {
 public:
  void handle(Hold& h) {
    const std::int64_t t0 = rt::detail::now_ns();
    for (int i = 0; i < 9; ++i) (void)h.to.tell(Item{i});
    h.ticked->store(rt::detail::now_ns() != t0);
    h.holding->store(true);
    if (!h.ticked->load()) (void)eventually([&] { return h.go->load(); });
  }
};

TEST(Coalesce, TellsMadeWhileAChainIsPublishedAreNotHeld) {
  bool ticked = true, got_both = false, ran = false;
  rt::ActorStats before;
  for (int attempt = 0; ticked && attempt < kTickRetries; ++attempt) {
    std::atomic<bool> entered{false}, release{false}, tk{false}, holding{false}, go{false}, registered{false},
        fn_ran{false};
    rt::ActorSystem sys{{.workers = 3}};  // the parked receiver, the holder, the waiter
    auto t = sys.spawn_with<GatedSink>(bounded(20, rt::Overflow::fail)).value();
    auto h = sys.spawn<Holder>().value();
    auto w = sys.spawn<Waiter>().value();
    ASSERT_TRUE(eventually([&] { return t.stats().mailbox_depth == 0; }));  // started
    ASSERT_TRUE(t.tell(Gate{&entered, &release}).has_value());
    ASSERT_TRUE(eventually([&] { return entered.load(); }));
    ASSERT_TRUE(h.tell(Hold{t, &tk, &holding, &go}).has_value());
    ASSERT_TRUE(eventually([&] { return holding.load(); }));
    ticked = tk.load();
    if (ticked) {
      release = true;
      continue;
    }
    // 2 queued (the gate, the direct tell) + 9 reserved: 11 of 20, above
    // half, so the waiter is not woken when it registers.
    before = t.stats();
    ASSERT_TRUE(w.tell(Register{t, &fn_ran, &registered}).has_value());
    ASSERT_TRUE(eventually([&] { return registered.load(); }));
    w.stop();
    ASSERT_TRUE(eventually([&] { return w.stopped(); }));
    // The holder returns: 8 published, its spare slot given back, 10 of 20
    // (half): the waiter's function is refused and destroyed on the
    // holder's thread, and tells the parked receiver twice more.
    go = true;
    got_both = eventually([&] { return t.stats().mailbox_depth == 2 + 8 + 2; });
    ran = fn_ran.load();
    release = true;
  }
  ASSERT_FALSE(ticked) << "the clock ticked during every attempt";
  EXPECT_EQ(before.mailbox_depth, 2u);
  EXPECT_EQ(before.mailbox_reserved, 9u);
  EXPECT_TRUE(got_both);
  EXPECT_FALSE(ran);
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
