// Bounded mailboxes: each overflow strategy behaves exactly as documented.
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <sys/resource.h>
#include <vector>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

struct Item { int v; };
struct Sum { using reply_type = long; };

class Sink : public rt::Actor<Sink, Item, Sum> {
 public:
  explicit Sink(std::vector<int>* seen = nullptr) : seen_(seen) {}
  void handle(Item& m) {
    total_ += m.v;
    if (seen_ != nullptr) seen_->push_back(m.v);
  }
  long handle(Sum&) { return total_; }

 private:
  std::vector<int>* seen_;
  long total_ = 0;
};

rt::SpawnOptions bounded(std::uint32_t cap, rt::Overflow o) {
  rt::SpawnOptions s;
  s.mailbox.capacity = cap;
  s.mailbox.overflow = o;
  s.mailbox.block_timeout = 30s;
  return s;
}

// Deterministic mode: nothing runs until run_until_idle, so the mailbox
// fills exactly. The start token counts as one pending entry until the first run.
TEST(Mailbox, FailRefusesWithMailboxFull) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen;
  auto s = sys.spawn_with<Sink>(bounded(4, rt::Overflow::fail), &seen).value();
  sys.run_until_idle();  // consume the start token
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.tell(Item{i}).has_value());
  auto r = s.tell(Item{99});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().category, rt::ErrorCategory::mailbox_full);
  EXPECT_EQ(s.stats().dropped, 1u);
  sys.run_until_idle();
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_TRUE(s.tell(Item{5}).has_value());  // room again
}

TEST(Mailbox, DropNewestKeepsTheFirst) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen;
  auto s = sys.spawn_with<Sink>(bounded(3, rt::Overflow::drop_newest), &seen).value();
  sys.run_until_idle();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.tell(Item{i}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(s.stats().dropped, 7u);
}

TEST(Mailbox, DropOldestKeepsTheLast) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<int> seen;
  auto s = sys.spawn_with<Sink>(bounded(3, rt::Overflow::drop_oldest), &seen).value();
  sys.run_until_idle();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.tell(Item{i}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(seen, (std::vector<int>{7, 8, 9}));
  EXPECT_EQ(s.stats().dropped, 7u);
}

// Block: plain-thread senders wait for room; nothing is lost.
TEST(Mailbox, BlockWaitsForRoomFromPlainThreads) {
  rt::ActorSystem sys{{.workers = 2}};
  auto s = sys.spawn_with<Sink>(bounded(8, rt::Overflow::block)).value();
  constexpr int kThreads = 3, kEach = 2000;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        if (!s.tell(Item{1})) failures++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(s.ask(Sum{}, 30s).value(), kThreads * kEach);
  EXPECT_EQ(s.stats().dropped, 0u);
  EXPECT_LE(s.stats().mailbox_depth, 8u);
}

// A blocked plain-thread sender sleeps on the mailbox until the receiver
// frees room: it does not poll. Deterministic mode: nothing drains until
// run_until_idle, so the sender stays blocked for the whole pause.
// Voluntary context switches count its wake-ups (a 1 ms poll would make
// hundreds during the pause; a condition variable makes one or two).
TEST(Mailbox, BlockedSenderSleepsUntilRoomIsFreed) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto s = sys.spawn_with<Sink>(bounded(2, rt::Overflow::block)).value();
  sys.run_until_idle();  // consume the start token
  ASSERT_TRUE(s.tell(Item{1}).has_value());
  ASSERT_TRUE(s.tell(Item{1}).has_value());  // full
  std::atomic<bool> sent{false};
  long switches = -1;
  std::expected<void, rt::Error> result;
  std::thread sender([&] {
    rusage before{}, after{};
    getrusage(RUSAGE_THREAD, &before);
    result = s.tell(Item{5});
    getrusage(RUSAGE_THREAD, &after);
    switches = after.ru_nvcsw - before.ru_nvcsw;
    sent = true;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(sent.load());  // still blocked: nobody has drained
  while (!sent.load()) {
    sys.run_until_idle();
    std::this_thread::sleep_for(1ms);
  }
  sender.join();
  ASSERT_TRUE(result.has_value());
  sys.run_until_idle();
  EXPECT_EQ(s.stats().processed, 3u);
  EXPECT_LT(switches, 20) << "the blocked sender woke up " << switches << " times";
  EXPECT_EQ(s.stats().dropped, 0u);
}

// A sender blocked on an actor that stops gets actor_stopped at once.
TEST(Mailbox, BlockedSenderLearnsTheActorStopped) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto s = sys.spawn_with<Sink>(bounded(1, rt::Overflow::block)).value();
  sys.run_until_idle();
  ASSERT_TRUE(s.tell(Item{1}).has_value());  // full
  std::atomic<bool> done{false};
  std::expected<void, rt::Error> result;
  std::thread sender([&] {
    result = s.tell(Item{2});
    done = true;
  });
  std::this_thread::sleep_for(50ms);
  s.kill();
  while (!done.load()) {
    sys.run_until_idle();
    std::this_thread::sleep_for(1ms);
  }
  sender.join();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().category, rt::ErrorCategory::actor_stopped);
}

// Block from inside an actor must not block the worker: it fails instead.
struct Flood { int n; };
struct Result { using reply_type = int; };
class Flooder : public rt::Actor<Flooder, Flood, Result> {
 public:
  explicit Flooder(rt::ActorRef<Item> to) : to_(std::move(to)) {}
  void handle(Flood& f) {
    for (int i = 0; i < f.n; ++i)
      if (!to_.tell(Item{1})) ++refused_;
  }
  int handle(Result&) { return refused_; }

 private:
  rt::ActorRef<Item> to_;
  int refused_ = 0;
};

TEST(Mailbox, BlockNeverBlocksAWorker) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto s = sys.spawn_with<Sink>(bounded(2, rt::Overflow::block)).value();
  auto f = sys.spawn<Flooder>(s).value();
  sys.run_until_idle();
  ASSERT_TRUE(f.tell(Flood{10}).has_value());
  sys.run_until_idle();  // would hang if the sender blocked
  EXPECT_EQ(s.stats().dropped, 8u);
  EXPECT_EQ(s.stats().processed, 2u);
}

// Backpressure without retry loops: a refused sender parks with when_space()
// and resumes once the receiver has drained half its mailbox.
struct Pump { int n; };
class Pumper : public rt::Actor<Pumper, Pump> {
 public:
  explicit Pumper(rt::ActorRef<Item> to) : to_(std::move(to)) {}
  void handle(Pump& p) {
    left_ += p.n;
    resume();
  }
  void resume() {
    while (left_ > 0) {
      if (!to_.tell(Item{1})) {
        ++waits_;
        when_space(to_, [this] { resume(); });
        return;
      }
      --left_;
    }
  }
  int left_ = 0;
  int waits_ = 0;

 private:
  rt::ActorRef<Item> to_;
};

TEST(Mailbox, WhenSpaceResumesARefusedSender) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto s = sys.spawn_with<Sink>(bounded(8, rt::Overflow::fail)).value();
  auto p = sys.spawn<Pumper>(s).value();
  sys.run_until_idle();
  ASSERT_TRUE(p.tell(Pump{1000}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(s.stats().processed, 1000u);
  EXPECT_GE(s.stats().dropped, 1u);     // it did hit the limit ...
  EXPECT_LE(s.stats().dropped, 1000u);  // ... and waited instead of spinning
}

TEST(Mailbox, WhenSpaceOnRealThreads) {
  rt::ActorSystem sys{{.workers = 2}};
  auto s = sys.spawn_with<Sink>(bounded(16, rt::Overflow::fail)).value();
  std::vector<Pumper::ref_type> ps;
  for (int i = 0; i < 3; ++i) ps.push_back(sys.spawn<Pumper>(s).value());
  for (auto& p : ps) ASSERT_TRUE(p.tell(Pump{20000}).has_value());
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (s.stats().processed < 60000u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(s.ask(Sum{}, 60s).value(), 60000);
}

// Many producers into one unbounded mailbox on real threads: nothing lost.
TEST(Mailbox, UnboundedManyProducers) {
  rt::ActorSystem sys{{.workers = 2}};
  auto s = sys.spawn<Sink>().value();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) ASSERT_TRUE(s.tell(Item{1}).has_value());
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(s.ask(Sum{}, 60s).value(), 80000);
}

}  // namespace
