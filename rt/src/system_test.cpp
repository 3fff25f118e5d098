// The system's live list (system_core.hpp): terminated actors leave health
// and shutdown at once, and their cells (with the spawn arguments they
// keep) are freed once they stopped, whichever thread spawned them and
// whether or not that thread spawns again.
#include <airssys/rt/system.hpp>
#include <airssys/testing/eventually.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace rt = airssys::rt;
using airssys::testing::eventually;

namespace {

struct Quit {};
// Keeps a copy of the token as its spawn argument (the cell keeps it for
// restarts until the cell is freed).
class Kid : public rt::Actor<Kid, Quit> {
 public:
  explicit Kid(std::shared_ptr<int> token) : token_(std::move(token)) {}
  void handle(Quit&) { stop(); }

 private:
  std::shared_ptr<int> token_;
};

struct Go {
  long quitting;
  long staying;
  std::atomic<bool>* spawned_all = nullptr;  // set once every kid is spawned
};
class Parent : public rt::Actor<Parent, Go> {
 public:
  explicit Parent(std::shared_ptr<int> token) : token_(std::move(token)) {}
  void handle(Go& g) {
    for (long i = 0; i < g.quitting + g.staying; ++i) {
      auto k = system().spawn<Kid>(token_);
      ASSERT_TRUE(k.has_value());
      if (i < g.quitting) (void)k->tell(Quit{});
      else kept_.push_back(*k);
    }
    if (g.spawned_all != nullptr) g.spawned_all->store(true);
  }

 private:
  std::shared_ptr<int> token_;
  std::vector<Kid::ref_type> kept_;
};

// Spawned on a worker: the cells go through the workers' batches and the
// spawning thread's shard.
TEST(LiveList, ActorsSpawnedByAnActorLeaveHealthWhenTheyStopAndAreFreed) {
  auto token = std::make_shared<int>(0);
  rt::ActorSystem sys{{.workers = 2}};
  auto parent = sys.spawn<Parent>(token).value();
  std::atomic<bool> spawned_all{false};
  ASSERT_TRUE(parent.tell(Go{3000, 5, &spawned_all}).has_value());
  // live_actors passes through 6 while the parent is still spawning (kids
  // stop as fast as it spawns them): wait for it to have finished first.
  ASSERT_TRUE(eventually([&] { return spawned_all.load() && sys.stats().live_actors == 6; }));
  EXPECT_EQ(sys.stats().spawned, 3006u);
  // The stopped kids' cells are freed with their copies of the token; this
  // test's and two per live actor (its spawn argument and its member) remain.
  // Checked before health(), which would free them itself.
  EXPECT_TRUE(eventually([&] { return token.use_count() == 1 + 2 * 6; })) << token.use_count();
  auto h = sys.health();
  EXPECT_EQ(h.actors.size(), 6u);  // the parent and the 5 kept kids, no stopped one
  EXPECT_TRUE(sys.shutdown().has_value());  // clean: every live actor stopped when asked
  EXPECT_EQ(sys.stats().live_actors, 0u);
}

// Spawned by a plain thread that spawns nothing afterwards: fewer cells
// than a worker frees on its own account, so only the idle workers free them.
TEST(LiveList, ActorsSpawnedByAThreadThatSpawnsNoMoreAreFreedWhenTheyStop) {
  auto token = std::make_shared<int>(0);
  rt::ActorSystem sys{{.workers = 2}};
  std::vector<Kid::ref_type> kids;
  for (int i = 0; i < 100; ++i) kids.push_back(sys.spawn<Kid>(token).value());
  for (auto& k : kids) ASSERT_TRUE(k.tell(Quit{}).has_value());
  kids.clear();
  ASSERT_TRUE(eventually([&] { return sys.stats().live_actors == 0; }));
  EXPECT_TRUE(eventually([&] { return token.use_count() == 1; })) << token.use_count();
  EXPECT_TRUE(sys.health().actors.empty());
}

// Health snapshots and spawns from several threads while actors stop on
// the workers (under TSan: the shards' locks, dead stacks and hand-back).
TEST(LiveList, HealthWhileActorsAreSpawnedAndStopFromSeveralThreads) {
  auto token = std::make_shared<int>(0);
  rt::ActorSystem sys{{.workers = 2}};
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    while (!stop.load()) {
      auto h = sys.health();
      for (auto& a : h.actors) EXPECT_NE(a.id, 0u);
    }
  });
  std::vector<std::thread> spawners;
  for (int t = 0; t < 2; ++t)
    spawners.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto k = sys.spawn<Kid>(token);
        ASSERT_TRUE(k.has_value());
        (void)k->tell(Quit{});
      }
    });
  {
    auto parent = sys.spawn<Parent>(token).value();
    ASSERT_TRUE(parent.tell(Go{2000, 3}).has_value());
  }
  for (auto& t : spawners) t.join();
  ASSERT_TRUE(eventually([&] { return sys.stats().live_actors == 4; }));
  stop.store(true);
  watcher.join();
  EXPECT_EQ(sys.health().actors.size(), 4u);
  EXPECT_TRUE(sys.shutdown().has_value());
  EXPECT_TRUE(eventually([&] { return token.use_count() == 1; })) << token.use_count();
}

// Holds the worker it runs on until released.
struct Hold {
  std::atomic<bool>* running;
  std::atomic<bool>* release;
};
class Hog : public rt::Actor<Hog, Hold> {
 public:
  void handle(Hold& h) {
    h.running->store(true);
    while (!h.release->load()) std::this_thread::yield();
  }
};

// Keeps its worker busy without ever leaving it idle: it tells itself again
// until `go` is set and no more than `live` actors are left, then holds the
// worker like Hog.
struct Keep {
  std::atomic<bool>* go;
  std::uint64_t live;
  std::atomic<bool>* running;
  std::atomic<bool>* release;
};
class Busy : public rt::Actor<Busy, Keep> {
 public:
  void handle(Keep& k) {
    if (!k.go->load() || system().stats().live_actors > k.live) {
      ASSERT_TRUE(self().tell(Keep{k}).has_value());
      return;
    }
    k.running->store(true);
    while (!k.release->load()) std::this_thread::yield();
  }
};

// Worker A ends 100 actors (64, a full batch, go onto the shard's dead
// stack; 36 stay in A's own batch) and stays busy; their spawner spawns no
// more. Worker B, which ended none, goes idle: it frees the full batch.
TEST(LiveList, AnIdleWorkerFreesCellsAnotherWorkerEndedWhileThatOneStaysBusy) {
  auto token = std::make_shared<int>(0);
  rt::ActorSystem sys{{.workers = 2}};
  std::atomic<bool> hog_running{false}, hog_release{false};
  auto hog = sys.spawn<Hog>().value();
  ASSERT_TRUE(hog.tell(Hold{&hog_running, &hog_release}).has_value());
  ASSERT_TRUE(eventually([&] { return hog_running.load(); }));  // B is held: everything below runs on A
  std::atomic<bool> go{false}, busy_running{false}, busy_release{false};
  auto busy = sys.spawn<Busy>().value();
  ASSERT_TRUE(busy.tell(Keep{&go, 2, &busy_running, &busy_release}).has_value());
  std::vector<Kid::ref_type> kids;
  for (int i = 0; i < 100; ++i) kids.push_back(sys.spawn<Kid>(token).value());  // all before any ends
  for (auto& k : kids) ASSERT_TRUE(k.tell(Quit{}).has_value());
  kids.clear();
  go.store(true);
  ASSERT_TRUE(eventually([&] { return busy_running.load(); }));  // the kids ended on A, which never idled
  EXPECT_EQ(token.use_count(), 1 + 100);  // nobody freed a cell yet
  hog_release.store(true);                // B goes idle
  EXPECT_TRUE(eventually([&] { return token.use_count() == 1 + 36; })) << token.use_count();
  busy_release.store(true);  // A goes idle and frees its own batch
  EXPECT_TRUE(eventually([&] { return token.use_count() == 1; })) << token.use_count();
  EXPECT_TRUE(sys.shutdown().has_value());
}

struct Check {
  rt::ActorId kid;
};
struct Flags {
  std::atomic<int> listed{-1};  // whether health() listed the kid (-1: not looked yet)
  std::atomic<bool> shutting{false};
};
class Nop : public rt::Actor<Nop, Quit> {
 public:
  void handle(Quit&) {}
};
// Looks for the kid in health() while the kid has ended but its slot is
// not freed (the kid is in this worker's batch until the worker idles),
// then keeps the worker until shutdown() has asked the actors to stop.
class Checker : public rt::Actor<Checker, Check> {
 public:
  explicit Checker(Flags* f) : f_(f) {}
  void handle(Check& c) {
    auto h = system().health();
    f_->listed.store(std::ranges::any_of(h.actors, [&](const rt::ActorHealth& a) { return a.id == c.kid; }) ? 1 : 0);
    while (!f_->shutting.load()) std::this_thread::yield();
    while (system().spawn<Nop>().has_value()) {  // until shutdown() has begun
    }
    // shutdown() now asks every top-level actor it lists to stop: had it
    // listed the ended kid, that would be a dead letter. Give it the time
    // to (the test passes either way if it is slower).
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

 private:
  Flags* f_;
};
struct Report {
  Checker::ref_type to;
};
class Reporter : public rt::Actor<Reporter, Report> {
 public:
  void handle(Report& r) {
    ASSERT_TRUE(r.to.tell(Check{id()}).has_value());  // the checker runs next on this worker
    stop();
  }
};

TEST(LiveList, AnActorThatStoppedIsNotListedWhileItsSlotWaitsToBeFreed) {
  Flags f;
  rt::ActorSystem sys{{.workers = 1}};
  auto checker = sys.spawn<Checker>(&f).value();
  auto kid = sys.spawn<Reporter>().value();
  ASSERT_TRUE(kid.tell(Report{checker}).has_value());
  ASSERT_TRUE(eventually([&] { return f.listed.load() != -1; }));
  EXPECT_EQ(f.listed.load(), 0);
  const auto dead_letters = sys.stats().dead_letters;
  f.shutting.store(true);
  EXPECT_TRUE(sys.shutdown().has_value());
  EXPECT_EQ(sys.stats().dead_letters, dead_letters);
  EXPECT_EQ(sys.stats().live_actors, 0u);
}

// Holds its worker until the test has told it more, then stops.
struct HoldUntil {
  std::atomic<bool>* told;
};
class Lingerer : public rt::Actor<Lingerer, HoldUntil, Quit> {
 public:
  explicit Lingerer(std::shared_ptr<int> token) : token_(std::move(token)) {}
  void handle(HoldUntil& h) {
    while (!h.told->load()) std::this_thread::yield();
    stop();
  }
  void handle(Quit&) {}

 private:
  std::shared_ptr<int> token_;
};

// The run that stops the actor leaves more than a batch (64) of messages
// queued: the worker's terminated batch has taken that run's reference
// (CellBase::run), the cell runs again to dead-letter the rest, and only
// then is it freed, once (ASan: neither a use after free nor a leak).
TEST(LiveList, AnActorStoppedWithMoreThanABatchQueuedIsFreedAfterTheRestIsDeadLettered) {
  auto token = std::make_shared<int>(0);
  rt::ActorSystem sys{{.workers = 2}};
  std::atomic<bool> told{false};
  {
    auto a = sys.spawn<Lingerer>(token).value();
    ASSERT_TRUE(a.tell(HoldUntil{&told}).has_value());
    constexpr std::uint64_t kRest = 200;
    for (std::uint64_t i = 0; i < kRest; ++i) ASSERT_TRUE(a.tell(Quit{}).has_value());
    told.store(true);
    ASSERT_TRUE(eventually([&] { return a.stopped() && sys.stats().dead_letters == kRest; }))
        << sys.stats().dead_letters;
  }
  EXPECT_TRUE(eventually([&] { return token.use_count() == 1; })) << token.use_count();
  EXPECT_EQ(sys.stats().live_actors, 0u);
  EXPECT_TRUE(sys.shutdown().has_value());
}

// snapshot() reads a shard only up to its last cell and compacts a shard
// left mostly free by a burst: whatever the slots, health() lists exactly
// the live actors, before and after, and spawns reuse the slots.
TEST(LiveList, HealthListsTheLiveActorsAfterABurstIsCompacted) {
  auto token = std::make_shared<int>(0);
  rt::ActorSystem sys{{.workers = 2}};
  auto ids_of = [&] {
    std::vector<rt::ActorId> ids;
    for (auto& a : sys.health().actors) ids.push_back(a.id);
    return ids;
  };
  std::vector<Kid::ref_type> kids;
  for (int i = 0; i < 5000; ++i) kids.push_back(sys.spawn<Kid>(token).value());
  // The first, one in the middle and one at four fifths stay (the free
  // slots behind that one go).
  std::vector<Kid::ref_type> staying{kids[0], kids[2500], kids[4000]};
  std::vector<rt::ActorId> kept{kids[0].id(), kids[2500].id(), kids[4000].id()};
  for (int i = 0; i < 5000; ++i) {
    if (i == 0 || i == 2500 || i == 4000) continue;
    ASSERT_TRUE(kids[i].tell(Quit{}).has_value());
  }
  kids.clear();
  ASSERT_TRUE(eventually([&] { return sys.stats().live_actors == 3; }));
  EXPECT_EQ(ids_of(), kept);  // compacts this thread's shard
  EXPECT_EQ(ids_of(), kept);
  ASSERT_TRUE(eventually([&] { return token.use_count() == 1 + 2 * 3; })) << token.use_count();
  // Spawns after the compaction fill freed slots; some end again.
  for (int i = 0; i < 3000; ++i) {
    auto k = sys.spawn<Kid>(token).value();
    if (i % 1000 == 0) {
      kept.push_back(k.id());
      staying.push_back(k);
    } else {
      ASSERT_TRUE(k.tell(Quit{}).has_value());
    }
  }
  ASSERT_TRUE(eventually([&] { return sys.stats().live_actors == 6; }));
  EXPECT_EQ(ids_of(), kept);
  EXPECT_TRUE(sys.shutdown().has_value());
  EXPECT_EQ(sys.stats().live_actors, 0u);
  staying.clear();  // their cells (with the token) go with the last references
  EXPECT_TRUE(eventually([&] { return token.use_count() == 1; })) << token.use_count();
}

}  // namespace
