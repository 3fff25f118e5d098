// The system's live list (system_core.hpp): terminated actors leave health
// and shutdown at once, and their cells (with the spawn arguments they
// keep) are freed once they stopped, whichever thread spawned them and
// whether or not that thread spawns again.
#include <airssys/rt/system.hpp>
#include <airssys/testing/eventually.hpp>
#include <gtest/gtest.h>

#include <atomic>
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
  ASSERT_TRUE(parent.tell(Go{3000, 5}).has_value());
  ASSERT_TRUE(eventually([&] { return sys.stats().live_actors == 6; }));
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

}  // namespace
