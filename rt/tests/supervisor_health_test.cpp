// A supervisor's restart state in ActorSystem::health(): restart decisions,
// the intensity window on the runtime's clock, per-child restarts, last
// exit and running incarnation, and the exit signals it ignored.
// Deterministic mode with virtual time: the window is moved by hand.
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include "supervision_fixtures.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

using rt_test::Crash;
using rt_test::LinkTo;
using rt_test::Quit;
using rt_test::Stranger;

using Refs = std::map<std::string, rt::AnyRef>;
using WorkerRef = rt::ActorRef<Crash, Quit>;

// Publishes its current incarnation in *refs (deterministic mode: one thread).
class Worker : public rt::Actor<Worker, Crash, Quit> {
 public:
  Worker(Refs* refs, std::string name) : refs_(refs), name_(std::move(name)) {}
  void pre_start() override { (*refs_)[name_] = self_any(); }
  void handle(Crash&) { throw std::runtime_error("crash " + name_); }
  void handle(Quit&) { stop(); }

 private:
  Refs* refs_;
  std::string name_;
};

rt::ChildSpec worker(Refs* refs, const char* name, rt::Restart r = rt::Restart::permanent) {
  return rt::worker_spec<Worker>(name, r, refs, std::string(name));
}

void crash(Refs& refs, const std::string& name) {
  ASSERT_TRUE(WorkerRef(refs[name].cell()).tell(Crash{}).has_value());
}

// The supervisor's entry of a fresh snapshot.
std::optional<rt::SupervisorHealth> board(rt::ActorSystem& sys, const rt::AnyRef& sup) {
  for (auto& a : sys.health().actors)
    if (a.id == sup.id()) return a.supervisor;
  return std::nullopt;
}

class SupervisorInHealth : public ::testing::Test {
 protected:
  rt::SupervisorRef start(rt::SupervisorFlags f, std::vector<rt::ChildSpec> kids) {
    return rt_test::start_until_idle(sys_, f, std::move(kids));
  }
  Refs refs_;
  rt::ActorSystem sys_{rt_test::virtual_time()};
};

TEST_F(SupervisorInHealth, FreshSupervisorShowsItsFlagsAndRunningChildren) {
  auto s = start({.intensity = 3, .period = 5s}, {worker(&refs_, "a"), worker(&refs_, "b")});
  auto h = board(sys_, s);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->restarts, 0u);
  EXPECT_EQ(h->restarts_in_period, 0u);
  EXPECT_EQ(h->intensity, 3);
  EXPECT_EQ(h->period, 5000ms);
  EXPECT_EQ(h->ignored_exits, 0u);
  ASSERT_EQ(h->children.size(), 2u);
  EXPECT_EQ(h->children[0].id, "a");
  EXPECT_EQ(h->children[0].actor, refs_["a"].id());
  EXPECT_EQ(h->children[1].id, "b");
  EXPECT_EQ(h->children[1].actor, refs_["b"].id());
  EXPECT_EQ(h->children[0].restarts, 0u);
  EXPECT_FALSE(h->children[0].last_exit.has_value());
  // Plain actors carry no supervisor entry.
  for (auto& a : sys_.health().actors)
    if (a.id != s.id()) {
      EXPECT_FALSE(a.supervisor.has_value());
    }
}

TEST_F(SupervisorInHealth, RestartsAndTheIntensityWindowFollowTheClock) {
  auto s = start({.intensity = 3, .period = 5s}, {worker(&refs_, "a"), worker(&refs_, "b")});
  const auto first_a = refs_["a"].id();
  crash(refs_, "a");  // t = 0
  sys_.run_until_idle();
  sys_.advance_time(1s);
  crash(refs_, "a");  // t = 1 s
  sys_.run_until_idle();
  auto h = board(sys_, s);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->restarts, 2u);
  EXPECT_EQ(h->restarts_in_period, 2u);
  EXPECT_EQ(h->children[0].restarts, 2u);
  EXPECT_EQ(h->children[0].last_exit, rt::ExitReason::error);
  EXPECT_NE(h->children[0].actor, first_a);
  EXPECT_EQ(h->children[0].actor, refs_["a"].id());
  EXPECT_EQ(h->children[1].restarts, 0u);  // one_for_one: b untouched
  EXPECT_FALSE(h->children[1].last_exit.has_value());

  sys_.advance_time(4001ms);  // t = 5.001 s: the restart at 0 has left the window
  h = board(sys_, s);
  EXPECT_EQ(h->restarts_in_period, 1u);
  EXPECT_EQ(h->restarts, 2u);
  sys_.advance_time(1s);  // t = 6.001 s: both have
  EXPECT_EQ(board(sys_, s)->restarts_in_period, 0u);
}

TEST_F(SupervisorInHealth, OneForAllCountsOneDecisionAndEveryRestartedChild) {
  auto s = start({.strategy = rt::Strategy::one_for_all, .intensity = 3, .period = 5s},
                 {worker(&refs_, "a"), worker(&refs_, "b"), worker(&refs_, "c")});
  crash(refs_, "b");
  sys_.run_until_idle();
  auto h = board(sys_, s);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->restarts, 1u);
  EXPECT_EQ(h->restarts_in_period, 1u);
  ASSERT_EQ(h->children.size(), 3u);
  for (auto& c : h->children) {
    EXPECT_EQ(c.restarts, 1u) << c.id;
    EXPECT_EQ(c.actor, refs_[c.id].id()) << c.id;
  }
  EXPECT_EQ(h->children[1].last_exit, rt::ExitReason::error);     // the one that failed
  EXPECT_EQ(h->children[0].last_exit, rt::ExitReason::shutdown);  // stopped for the restart
  EXPECT_EQ(h->children[2].last_exit, rt::ExitReason::shutdown);
}

TEST_F(SupervisorInHealth, StoppedAndRemovedChildren) {
  auto s = start({.intensity = 3, .period = 5s},
                 {worker(&refs_, "keep"), worker(&refs_, "done", rt::Restart::transient),
                  worker(&refs_, "once", rt::Restart::temporary)});
  ASSERT_TRUE(WorkerRef(refs_["done"].cell()).tell(Quit{}).has_value());  // normal: not restarted
  crash(refs_, "once");                                                                  // temporary: removed
  ASSERT_TRUE(s.tell(rt::TerminateChild{"keep"}).has_value());                           // spec kept
  sys_.run_until_idle();
  auto h = board(sys_, s);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->restarts, 0u);
  ASSERT_EQ(h->children.size(), 2u);
  EXPECT_EQ(h->children[0].id, "keep");
  EXPECT_EQ(h->children[0].actor, 0u);
  EXPECT_EQ(h->children[0].last_exit, rt::ExitReason::shutdown);
  EXPECT_EQ(h->children[1].id, "done");
  EXPECT_EQ(h->children[1].actor, 0u);
  EXPECT_EQ(h->children[1].last_exit, rt::ExitReason::normal);
  // A dynamic child is listed after the others.
  ASSERT_TRUE(s.tell(rt::StartChild{worker(&refs_, "dyn")}).has_value());
  ASSERT_TRUE(s.tell(rt::DeleteChild{"done"}).has_value());
  sys_.run_until_idle();
  h = board(sys_, s);
  ASSERT_EQ(h->children.size(), 2u);
  EXPECT_EQ(h->children[0].id, "keep");
  EXPECT_EQ(h->children[1].id, "dyn");
  EXPECT_EQ(h->children[1].actor, refs_["dyn"].id());
}

TEST_F(SupervisorInHealth, IgnoredExitsAreCounted) {
  auto s = start({}, {worker(&refs_, "a")});
  auto stranger = sys_.spawn<Stranger>().value();
  ASSERT_TRUE(stranger.tell(LinkTo{s}).has_value());
  sys_.run_until_idle();
  ASSERT_TRUE(stranger.tell(Crash{}).has_value());
  sys_.run_until_idle();
  auto h = board(sys_, s);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->ignored_exits, 1u);
  EXPECT_EQ(h->restarts, 0u);
  EXPECT_EQ(h->children[0].actor, refs_["a"].id());
}

TEST_F(SupervisorInHealth, SupervisorThatGaveUpLeavesTheSnapshot) {
  auto s = start({.intensity = 1, .period = 5s}, {worker(&refs_, "a")});
  crash(refs_, "a");
  sys_.run_until_idle();
  ASSERT_EQ(board(sys_, s)->restarts_in_period, 1u);
  crash(refs_, "a");  // the second within 5 s: more than intensity 1
  sys_.run_until_idle();
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::error);
  EXPECT_FALSE(board(sys_, s).has_value());
}

// On worker threads: health() reads the board while the supervisor writes
// it (the TSan build checks the locking). The child is crashed once; its
// next 19 incarnations fail in pre_start (each a failed restart, which
// counts as another), the 21st stays up: 20 restart decisions in all.
class Flaky : public rt::Actor<Flaky, Crash> {
 public:
  explicit Flaky(std::atomic<int>* starts) : starts_(starts) {}
  void pre_start() override {
    const int n = starts_->fetch_add(1);
    if (n >= 1 && n < 20) throw std::runtime_error("flaky");
  }
  void handle(Crash&) { throw std::runtime_error("crash"); }

 private:
  std::atomic<int>* starts_;
};

TEST(SupervisorInHealthThreads, SnapshotsWhileRestarting) {
  std::atomic<int> starts{0};
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(sys, {.intensity = 1000, .period = 60s},
                                {rt::worker_spec<Flaky>("flaky", rt::Restart::permanent, &starts)}, 60s)
               .value();
  auto kids = s.ask(rt::WhichChildren{}, 60s).value();
  ASSERT_EQ(kids.size(), 1u);
  ASSERT_TRUE(rt::ActorRef<Crash>(kids[0].ref.cell()).tell(Crash{}).has_value());
  const auto deadline = std::chrono::steady_clock::now() + 60s;  // ends a hung test only
  std::uint64_t seen = 0;
  std::uint32_t child_restarts = 0;
  while ((seen < 20 || child_restarts < 20) && std::chrono::steady_clock::now() < deadline) {
    auto h = board(sys, s);
    ASSERT_TRUE(h.has_value());
    ASSERT_EQ(h->children.size(), 1u);
    EXPECT_GE(h->restarts, seen);  // never goes back
    seen = h->restarts;
    // Each decision restarts this one child; a snapshot can fall between
    // the decision and the child's new start.
    child_restarts = h->children[0].restarts;
    EXPECT_LE(child_restarts, seen);
    EXPECT_GE(child_restarts + 1, seen);
    std::this_thread::yield();
  }
  EXPECT_EQ(seen, 20u);
  EXPECT_EQ(child_restarts, 20u);
  EXPECT_FALSE(s.stopped());
}

}  // namespace
