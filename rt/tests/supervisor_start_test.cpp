// Supervisor start semantics (children started one after another, each
// after the previous pre_start returned; a failed init fails the
// supervisor's start), restart backoff on the runtime's timers, and dynamic
// children (StartChild / TerminateChild / RestartChild / DeleteChild).
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "probe.hpp"

namespace rt = airssys::rt;
using namespace std::chrono_literals;
using rt_test::eventually;
using rt_test::Probe;

namespace {

struct Crash {};
struct Ping {
  using reply_type = int;
};

// pre_start takes a while, so an overlapping start of the next child would
// show up between begin:X and start:X.
class Slow : public rt::Actor<Slow, Crash, Ping> {
 public:
  Slow(Probe* p, std::string name, bool fail_start = false) : p_(p), name_(std::move(name)), fail_(fail_start) {}
  void pre_start() override {
    p_->add("begin:" + name_);
    std::this_thread::sleep_for(20ms);
    if (fail_) throw std::runtime_error("cannot open " + name_);
    p_->add("start:" + name_);
  }
  void post_stop() override { p_->add("stop:" + name_); }
  void handle(Crash&) { throw std::runtime_error("crash"); }
  int handle(Ping&) { return 7; }

 private:
  Probe* p_;
  std::string name_;
  bool fail_;
};

rt::ChildSpec slow(Probe* p, const std::string& name, bool fail = false,
                   rt::Restart r = rt::Restart::permanent) {
  return rt::worker_spec<Slow>(name, r, p, name, fail);
}

std::vector<rt::ChildInfo> children(const rt::SupervisorRef& s) {
  auto r = s.ask(rt::WhichChildren{}, 60s);
  return r ? *r : std::vector<rt::ChildInfo>{};
}

rt::ActorRef<Crash, Ping> child(const rt::SupervisorRef& s, const std::string& id) {
  for (auto& c : children(s))
    if (c.id == id) return rt::ActorRef<Crash, Ping>(c.ref.cell());
  return {};
}

TEST(SupervisorStart, EachChildStartsAfterThePreviousFinishedItsPreStart) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(sys, {}, {slow(&p, "a"), slow(&p, "b"), slow(&p, "c")}, 60s);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  // start_supervisor returned: every child has started, in order, none overlapping.
  EXPECT_EQ(p.since(0),
            (std::vector<std::string>{"begin:a", "start:a", "begin:b", "start:b", "begin:c", "start:c"}));
}

TEST(SupervisorStart, NestedSupervisorCountsAsStartedOnceItsChildrenHave) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(
      sys, {}, {rt::supervisor_spec("mid", {}, {slow(&p, "a"), slow(&p, "b")}), slow(&p, "c")}, 60s);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(p.since(0),
            (std::vector<std::string>{"begin:a", "start:a", "begin:b", "start:b", "begin:c", "start:c"}));
}

TEST(SupervisorStart, InitFailureFailsTheStartAndStopsTheStartedChildren) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(sys, {}, {slow(&p, "a"), slow(&p, "b", true), slow(&p, "c")}, 60s);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().category, rt::ErrorCategory::start_failed);
  EXPECT_NE(s.error().message.find("child 'b' failed to start"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("cannot open b"), std::string::npos) << s.error().message;
  ASSERT_TRUE(eventually([&] { return p.count("stop:a") == 1; }));
  EXPECT_EQ(p.count("begin:c"), 0);  // never started
  EXPECT_TRUE(eventually([&] { return sys.stats().live_actors == 0; }));
}

TEST(SupervisorStart, InitFailureInANestedSupervisorFailsTheParentStart) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(sys, {},
                                {slow(&p, "a"), rt::supervisor_spec("mid", {}, {slow(&p, "x", true)}), slow(&p, "c")},
                                60s);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().category, rt::ErrorCategory::start_failed);
  EXPECT_NE(s.error().message.find("child 'mid' failed to start: error: child 'x' failed to start: error: cannot open x"),
            std::string::npos)
      << s.error().message;
  EXPECT_EQ(p.count("begin:c"), 0);
  EXPECT_TRUE(eventually([&] { return sys.stats().live_actors == 0; }));
}

TEST(SupervisorStart, StartSupervisorRefusesWorkerThreadsAndSpawnSupervisorDoesNotWait) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::spawn_supervisor(sys, {}, {slow(&p, "a", true)}).value();  // fails in the background
  ASSERT_TRUE(eventually([&] { return s.stopped(); }));
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::error);
}

// ---- backoff ----

TEST(SupervisorBackoff, RestartsWaitGrowingDelaysWithoutBlockingTheSupervisor) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  rt::SupervisorFlags f{.intensity = 10, .period = 600s, .backoff = {.initial = 300ms, .multiplier = 2.0, .max = 10s}};
  auto s = rt::start_supervisor(sys, f, {slow(&p, "a"), slow(&p, "b")}, 60s).value();

  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(child(s, "a").tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("stop:a") == 1; }));
  // While a waits for its restart the supervisor still answers (its worker
  // is not blocked); a is not listed until it runs again.
  auto during = s.ask(rt::WhichChildren{}, 60s);
  ASSERT_TRUE(during.has_value());
  if (p.count("begin:a") == 1) {  // not restarted yet (only a very slow machine gets past 300 ms here)
    EXPECT_EQ(during->size(), 1u);
    EXPECT_EQ(during->at(0).id, "b");
  }
  ASSERT_TRUE(eventually([&] { return p.count("start:a") == 2; }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);  // a lower bound: a slow machine only waits longer

  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(child(s, "a").tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("start:a") == 3; }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 600ms);  // doubled
  EXPECT_EQ(child(s, "a").ask(Ping{}, 60s).value(), 7);
}

TEST(SupervisorBackoff, ShutdownDuringBackoffStopsPromptly) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  rt::SupervisorFlags f{.backoff = {.initial = 600s}};
  auto s = rt::start_supervisor(sys, f, {slow(&p, "a"), slow(&p, "b")}, 60s).value();
  ASSERT_TRUE(child(s, "a").tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("stop:a") == 1; }));
  s.stop();
  ASSERT_TRUE(eventually([&] { return s.stopped(); }, 30s));  // not after the 600 s backoff
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::shutdown);
  EXPECT_EQ(p.count("stop:b"), 1);
  EXPECT_EQ(p.count("start:a"), 1);
}

// ---- dynamic children ----

TEST(SupervisorDynamic, StartTerminateRestartDeleteChild) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(sys, {}, {slow(&p, "a")}, 60s).value();

  auto added = s.ask(rt::StartChild{slow(&p, "b")}, 60s);
  ASSERT_TRUE(added.has_value());
  ASSERT_TRUE(added->has_value()) << added->error().message;
  EXPECT_EQ(p.count("start:b"), 1);  // started (pre_start done) when the reply came
  ASSERT_EQ(children(s).size(), 2u);
  EXPECT_EQ(children(s).at(1).id, "b");
  EXPECT_EQ(children(s).at(1).ref.id(), (*added)->id());

  auto dup = s.ask(rt::StartChild{slow(&p, "b")}, 60s).value();
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().category, rt::ErrorCategory::invalid_argument);

  // A dynamic child is supervised like the others.
  auto b1 = child(s, "b");
  ASSERT_TRUE(b1.tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("start:b") == 2; }));
  EXPECT_NE(child(s, "b").id(), b1.id());

  auto del_running = s.ask(rt::DeleteChild{"b"}, 60s).value();
  ASSERT_FALSE(del_running.has_value());
  EXPECT_EQ(del_running.error().category, rt::ErrorCategory::invalid_argument);

  ASSERT_TRUE(s.ask(rt::TerminateChild{"b"}, 60s).value().has_value());
  EXPECT_EQ(p.count("stop:b"), 2);  // stopped when the reply came
  EXPECT_EQ(children(s).size(), 1u);

  auto again = s.ask(rt::RestartChild{"b"}, 60s).value();
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(p.count("start:b"), 3);
  ASSERT_TRUE(s.ask(rt::TerminateChild{"b"}, 60s).value().has_value());
  ASSERT_TRUE(s.ask(rt::DeleteChild{"b"}, 60s).value().has_value());
  EXPECT_EQ(s.ask(rt::RestartChild{"b"}, 60s).value().error().category, rt::ErrorCategory::not_found);
  EXPECT_EQ(s.ask(rt::TerminateChild{"zz"}, 60s).value().error().category, rt::ErrorCategory::not_found);
  EXPECT_EQ(s.ask(rt::DeleteChild{"zz"}, 60s).value().error().category, rt::ErrorCategory::not_found);
  EXPECT_FALSE(s.stopped());
}

TEST(SupervisorDynamic, AChildThatFailsToStartIsNotKept) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(sys, {}, {slow(&p, "a")}, 60s).value();
  auto r = s.ask(rt::StartChild{slow(&p, "x", true)}, 60s).value();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().category, rt::ErrorCategory::start_failed);
  EXPECT_NE(r.error().message.find("cannot open x"), std::string::npos) << r.error().message;
  EXPECT_EQ(children(s).size(), 1u);
  EXPECT_EQ(s.ask(rt::DeleteChild{"x"}, 60s).value().error().category, rt::ErrorCategory::not_found);
  EXPECT_FALSE(s.stopped());  // a failed start_child does not count as a restart
}

// A start function that is missing or throws is that child's failed start:
// the supervisor answers the request and keeps its other children running.
TEST(SupervisorDynamic, AMissingOrThrowingStartFunctionIsAFailedStartNotASupervisorCrash) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(sys, {}, {slow(&p, "a")}, 60s).value();
  rt::ChildSpec empty;
  empty.id = "empty";
  auto r1 = s.ask(rt::StartChild{empty}, 60s).value();
  ASSERT_FALSE(r1.has_value());
  EXPECT_EQ(r1.error().category, rt::ErrorCategory::invalid_argument);
  rt::ChildSpec throwing;
  throwing.id = "throws";
  throwing.start = [](rt::ActorSystem&, const rt::AnyRef&) -> std::expected<rt::AnyRef, rt::Error> {
    throw std::runtime_error("no resources");
  };
  auto r2 = s.ask(rt::StartChild{throwing}, 60s).value();
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().category, rt::ErrorCategory::start_failed);
  EXPECT_NE(r2.error().message.find("no resources"), std::string::npos) << r2.error().message;
  EXPECT_FALSE(s.stopped());
  ASSERT_EQ(children(s).size(), 1u);
  EXPECT_FALSE(child(s, "a").stopped());
}

TEST(SupervisorDynamic, TemporaryChildIsDeletedWhenTerminated) {
  Probe p;
  rt::ActorSystem sys{{.workers = 2}};
  auto s = rt::start_supervisor(sys, {}, {}, 60s).value();
  for (int i = 0; i < 5; ++i)  // simple_one_for_one style: many instances of one template
    ASSERT_TRUE(s.ask(rt::StartChild{slow(&p, "job" + std::to_string(i), false, rt::Restart::temporary)}, 60s)
                    .value()
                    .has_value());
  EXPECT_EQ(children(s).size(), 5u);
  ASSERT_TRUE(s.ask(rt::TerminateChild{"job2"}, 60s).value().has_value());
  EXPECT_EQ(s.ask(rt::RestartChild{"job2"}, 60s).value().error().category, rt::ErrorCategory::not_found);
  EXPECT_EQ(children(s).size(), 4u);
}

}  // namespace
