// Scheduler behaviour on real workers: a busy actor cannot starve others
// (per-actor batch + yield to the back), spawning from inside an actor, and
// many actors exchanging messages across workers without loss.
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

struct Spin {};
struct Ping { using reply_type = int; };

// Keeps itself busy forever: every message sends itself another.
class Hog : public rt::Actor<Hog, Spin> {
 public:
  explicit Hog(std::atomic<bool>* stop) : stop_(stop) {}
  void handle(Spin&) {
    if (!stop_->load()) (void)self().tell(Spin{});
  }

 private:
  std::atomic<bool>* stop_;
};

class Echo : public rt::Actor<Echo, Ping> {
 public:
  int handle(Ping&) { return 7; }
};

TEST(Scheduler, BusyActorDoesNotStarveOthersOnOneWorker) {
  std::atomic<bool> stop{false};
  rt::ActorSystem sys{{.workers = 1}};
  auto hog = sys.spawn<Hog>(&stop).value();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(hog.tell(Spin{}).has_value());
  auto echo = sys.spawn<Echo>().value();
  for (int i = 0; i < 20; ++i) {
    auto r = echo.ask(Ping{}, 60s);
    ASSERT_TRUE(r.has_value()) << rt::to_string(r.error().category);
    EXPECT_EQ(*r, 7);
  }
  stop = true;
}

struct Go { int fanout; };
struct Done {};
class Leaf : public rt::Actor<Leaf, Done> {
 public:
  explicit Leaf(std::atomic<int>* n) : n_(n) {}
  void pre_start() override { n_->fetch_add(1); }
  void handle(Done&) { stop(); }

 private:
  std::atomic<int>* n_;
};
class Spawner : public rt::Actor<Spawner, Go> {
 public:
  explicit Spawner(std::atomic<int>* n) : n_(n) {}
  void handle(Go& g) {
    for (int i = 0; i < g.fanout; ++i) {
      auto c = system().spawn<Leaf>(n_);
      if (c) (void)c->tell(Done{});
    }
  }

 private:
  std::atomic<int>* n_;
};

TEST(Scheduler, SpawnFromInsideAnActor) {
  std::atomic<int> started{0};
  rt::ActorSystem sys{{.workers = 2}};
  auto s = sys.spawn<Spawner>(&started).value();
  ASSERT_TRUE(s.tell(Go{20000}).has_value());
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while ((started.load() < 20000 || sys.stats().live_actors > 1) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(started.load(), 20000);
  EXPECT_EQ(sys.stats().live_actors, 1u);  // every leaf stopped
}

// On one worker nothing is stolen while the spawning handler runs, so its
// children sit in every place a spawn can wait: the worker's private newest
// slot, its deque (1,024), chunks of 62 on their way to the shared queue,
// and a last, shorter chunk that goes only when the handler returns.
// Fan-outs around those edges; each child must start and stop.
TEST(Scheduler, EverySpawnStartsOnOneWorkerWhereverItWaited) {
  for (int fanout : {1, 2, 1025, 1026, 1025 + 61, 1025 + 62, 1025 + 63, 1025 + 62 * 3 + 17, 3000}) {
    std::atomic<int> started{0};
    rt::ActorSystem sys{{.workers = 1}};
    auto s = sys.spawn<Spawner>(&started).value();
    ASSERT_TRUE(s.tell(Go{fanout}).has_value());
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while ((started.load() < fanout || sys.stats().live_actors > 1) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    EXPECT_EQ(started.load(), fanout) << "fanout " << fanout;
    EXPECT_EQ(sys.stats().live_actors, 1u) << "fanout " << fanout;
  }
}

struct Ball { int left; };
struct Partner { rt::AnyRef other; };
class Player : public rt::Actor<Player, Ball, Partner> {
 public:
  explicit Player(std::atomic<int>* done) : done_(done) {}
  void handle(Partner& p) { other_ = rt::ActorRef<Ball>(p.other.cell()); }
  void handle(Ball& b) {
    if (b.left == 0) {
      done_->fetch_add(1);
      return;
    }
    (void)other_.tell(Ball{b.left - 1});
  }

 private:
  std::atomic<int>* done_;
  rt::ActorRef<Ball> other_;
};

TEST(Scheduler, ManyPairsPingPongWithoutLoss) {
  constexpr int kPairs = 50, kHops = 2000;
  std::atomic<int> done{0};
  rt::ActorSystem sys{{.workers = 2}};
  std::vector<Player::ref_type> firsts;
  for (int i = 0; i < kPairs; ++i) {
    auto a = sys.spawn<Player>(&done).value();
    auto b = sys.spawn<Player>(&done).value();
    ASSERT_TRUE(a.tell(Partner{b}).has_value());
    ASSERT_TRUE(b.tell(Partner{a}).has_value());
    firsts.push_back(a);
  }
  for (auto& a : firsts) ASSERT_TRUE(a.tell(Ball{kHops}).has_value());
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (done.load() < kPairs && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(done.load(), kPairs);
}

}  // namespace
