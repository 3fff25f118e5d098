// Supervision with OTP semantics: each strategy, each restart type,
// intensity exhaustion, escalation through two levels, shutdown timeouts,
// links and monitors. Deterministic mode with virtual time: every step runs
// on this thread inside run_until_idle(), the shutdown timeout fires when the
// test moves the clock, nothing waits on the wall clock.
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include "probe.hpp"
#include "supervision_fixtures.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

using rt_test::ask_now;
using rt_test::Crash;
using rt_test::Probe;
using rt_test::Quit;

struct Ping {
  using reply_type = int;
};

class Child : public rt::Actor<Child, Crash, Quit, Ping> {
 public:
  Child(Probe* p, std::string name, bool ignore_shutdown = false)
      : p_(p), name_(std::move(name)), ignore_(ignore_shutdown) {}
  void pre_start() override {
    if (ignore_) trap_exit(true);  // sees shutdown in on_exit and ignores it
    p_->add("start:" + name_);
  }
  void post_stop() override { p_->add("stop:" + name_); }
  void handle(Crash&) { throw std::runtime_error("crash " + name_); }
  void handle(Quit&) { stop(); }
  int handle(Ping&) { return 1; }

 private:
  Probe* p_;
  std::string name_;
  bool ignore_;
};

std::vector<rt::ChildInfo> children(rt::ActorSystem& sys, const rt::SupervisorRef& s) {
  return rt_test::children(sys, s);
}

Child::ref_type child(rt::ActorSystem& sys, const rt::SupervisorRef& s, const std::string& id) {
  for (auto& c : children(sys, s))
    if (c.id == id) return rt::ref_cast<Child::ref_type>(c.ref).value_or(Child::ref_type{});
  return {};
}

std::vector<rt::ChildSpec> abc(Probe* p, rt::Restart r = rt::Restart::permanent) {
  return {rt::worker_spec<Child>("a", r, p, std::string("a")),
          rt::worker_spec<Child>("b", r, p, std::string("b")),
          rt::worker_spec<Child>("c", r, p, std::string("c"))};
}

bool all_started(Probe& p, int n_each) {
  return p.count("start:a") >= n_each && p.count("start:b") >= n_each && p.count("start:c") >= n_each;
}

class Supervision : public ::testing::Test {
 protected:
  rt::SupervisorRef start(rt::SupervisorFlags f, std::vector<rt::ChildSpec> specs) {
    return rt_test::start_until_idle(sys, f, std::move(specs));
  }
  Probe p;  // declared before sys: post_stop hooks write to it during shutdown
  rt::ActorSystem sys{rt_test::virtual_time()};
};

TEST_F(Supervision, StartsChildrenInOrder) {
  auto s = start({}, abc(&p));
  ASSERT_TRUE(all_started(p, 1));
  auto ids = children(sys, s);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].id, "a");
  EXPECT_EQ(ids[2].id, "c");
  // Spawned in order (ids increase); supervisor_start_test.cpp checks that
  // each pre_start finishes before the next child is spawned.
  EXPECT_LT(ids[0].ref.id(), ids[1].ref.id());
  EXPECT_LT(ids[1].ref.id(), ids[2].ref.id());
}

TEST_F(Supervision, OneForOneRestartsOnlyTheFailedChild) {
  auto s = start({.strategy = rt::Strategy::one_for_one}, abc(&p));
  ASSERT_TRUE(all_started(p, 1));
  auto old_b = child(sys, s, "b");
  ASSERT_TRUE(old_b.tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_EQ(p.count("start:b"), 2);
  auto new_b = child(sys, s, "b");
  EXPECT_NE(new_b.id(), old_b.id());
  EXPECT_EQ(ask_now(sys, new_b, Ping{}).value(), 1);
  EXPECT_EQ(old_b.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(p.count("start:a"), 1);
  EXPECT_EQ(p.count("start:c"), 1);
  EXPECT_EQ(p.count("stop:a"), 0);
}

TEST_F(Supervision, OneForAllStopsOthersInReverseAndRestartsAllInOrder) {
  auto s = start({.strategy = rt::Strategy::one_for_all}, abc(&p));
  ASSERT_TRUE(all_started(p, 1));
  auto mark = p.size();
  ASSERT_TRUE(child(sys, s, "b").tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_TRUE(all_started(p, 2));
  auto ev = p.since(mark);
  // b failed (its post_stop runs first), then c and a are stopped in reverse order.
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[0], "stop:b");
  EXPECT_EQ(ev[1], "stop:c");
  EXPECT_EQ(ev[2], "stop:a");
  EXPECT_EQ(children(sys, s).size(), 3u);
}

TEST_F(Supervision, RestForOneRestartsTheFailedAndLaterChildren) {
  auto s = start({.strategy = rt::Strategy::rest_for_one}, abc(&p));
  ASSERT_TRUE(all_started(p, 1));
  ASSERT_TRUE(child(sys, s, "b").tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_TRUE(p.count("start:b") == 2 && p.count("start:c") == 2);
  EXPECT_EQ(p.count("start:a"), 1);
  EXPECT_EQ(p.count("stop:a"), 0);
  EXPECT_EQ(p.count("stop:c"), 1);
}

TEST_F(Supervision, PermanentIsRestartedEvenAfterANormalExit) {
  auto s = start({}, {rt::worker_spec<Child>("a", rt::Restart::permanent, &p, std::string("a"))});
  ASSERT_EQ(p.count("start:a"), 1);
  ASSERT_TRUE(child(sys, s, "a").tell(Quit{}).has_value());
  sys.run_until_idle();
  ASSERT_EQ(p.count("start:a"), 2);
}

TEST_F(Supervision, TransientIsRestartedOnlyAfterAnAbnormalExit) {
  auto s = start({}, {rt::worker_spec<Child>("a", rt::Restart::transient, &p, std::string("a"))});
  ASSERT_EQ(p.count("start:a"), 1);
  ASSERT_TRUE(child(sys, s, "a").tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_EQ(p.count("start:a"), 2);
  auto a = child(sys, s, "a");
  ASSERT_TRUE(a.tell(Quit{}).has_value());
  sys.run_until_idle();
  ASSERT_TRUE(a.stopped());
  ASSERT_TRUE(children(sys, s).empty());
  EXPECT_EQ(p.count("start:a"), 2);
  EXPECT_FALSE(s.stopped());
}

TEST_F(Supervision, TemporaryIsNeverRestartedAndIsRemoved) {
  auto s = start({}, abc(&p, rt::Restart::temporary));
  ASSERT_TRUE(all_started(p, 1));
  ASSERT_TRUE(child(sys, s, "b").tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_EQ(children(sys, s).size(), 2u);
  EXPECT_EQ(p.count("start:b"), 1);
  EXPECT_EQ(ask_now(sys, child(sys, s, "c"), Ping{}).value(), 1);
}

TEST_F(Supervision, IntensityExhaustionTerminatesTheSupervisor) {
  auto s = start({.intensity = 2, .period = 600s}, abc(&p));
  ASSERT_TRUE(all_started(p, 1));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(child(sys, s, "a").tell(Crash{}).has_value());
    sys.run_until_idle();
    ASSERT_EQ(p.count("start:a"), i + 2);
  }
  ASSERT_TRUE(child(sys, s, "a").tell(Crash{}).has_value());  // third restart within the period: give up
  sys.run_until_idle();
  ASSERT_TRUE(s.stopped());
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(p.count("start:a"), 3);
  EXPECT_EQ(p.count("stop:b"), 1);
  EXPECT_EQ(p.count("stop:c"), 1);
  // Remaining children were stopped before the supervisor exited.
  EXPECT_EQ(sys.stats().live_actors, 0u);
}

// A restart storm ends: a child that crashes in pre_start is restarted until
// intensity runs out, never in an endless loop.
// (The first start succeeds: a failed initial start fails the supervisor's
// own start instead, see supervisor_start_test.cpp.)
class CrashOnRestart : public rt::Actor<CrashOnRestart, Crash> {
 public:
  explicit CrashOnRestart(Probe* p) : p_(p) {}
  void pre_start() override {
    const bool again = p_->count("start:x") > 0;
    p_->add("start:x");
    if (again) throw std::runtime_error("cannot start");
  }
  void handle(Crash&) { throw std::runtime_error("crash"); }

 private:
  Probe* p_;
};

TEST_F(Supervision, RestartStormEndsAtTheIntensityLimit) {
  auto s = start({.intensity = 5, .period = 600s},
                 {rt::worker_spec<CrashOnRestart>("x", rt::Restart::permanent, &p)});
  ASSERT_EQ(p.count("start:x"), 1);
  auto kids = children(sys, s);
  ASSERT_EQ(kids.size(), 1u);
  ASSERT_TRUE(rt::ActorRef<Crash>(kids[0].ref.cell()).tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_TRUE(s.stopped());
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(p.count("start:x"), 6);  // first start + 5 restarts
}

// root (intensity 0) -> mid (intensity 1) -> leaf. Two leaf crashes exhaust
// mid; mid fails to root; root has no restarts left and fails too.
TEST_F(Supervision, EscalationThroughTwoLevels) {
  auto mid =
      rt::supervisor_spec("mid", {.intensity = 1, .period = 600s},
                          {rt::worker_spec<Child>("leaf", rt::Restart::permanent, &p, std::string("leaf"))});
  auto root = start({.intensity = 0, .period = 600s}, {mid});
  auto leaf = [&] {
    auto kids = children(sys, root);
    if (kids.empty()) return Child::ref_type{};
    auto m = rt::SupervisorRef(kids[0].ref.cell());
    return child(sys, m, "leaf");
  };
  ASSERT_EQ(p.count("start:leaf"), 1);
  auto mid_ref = children(sys, root).at(0).ref;
  ASSERT_TRUE(leaf().tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_EQ(p.count("start:leaf"), 2);
  ASSERT_TRUE(leaf().tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_TRUE(root.stopped());
  EXPECT_EQ(mid_ref.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(root.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(sys.stats().live_actors, 0u);
}

// Same tree, but root may restart mid once: a fresh mid with a fresh leaf.
TEST_F(Supervision, ParentRestartsAFailedChildSupervisor) {
  auto mid =
      rt::supervisor_spec("mid", {.intensity = 0, .period = 600s},
                          {rt::worker_spec<Child>("leaf", rt::Restart::permanent, &p, std::string("leaf"))});
  auto root = start({.intensity = 1, .period = 600s}, {mid});
  ASSERT_EQ(p.count("start:leaf"), 1);
  auto mid1 = children(sys, root).at(0).ref;
  ASSERT_TRUE(child(sys, rt::SupervisorRef(mid1.cell()), "leaf").tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_EQ(p.count("start:leaf"), 2);
  ASSERT_TRUE(mid1.stopped());
  auto kids = children(sys, root);
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_NE(kids[0].ref.id(), mid1.id());
  EXPECT_FALSE(root.stopped());
}

TEST_F(Supervision, ShutdownTimeoutKillsAChildThatIgnoresShutdown) {
  auto stubborn = rt::worker_spec<Child>("s", rt::Restart::permanent, &p, std::string("s"), true);
  stubborn.shutdown = rt::Shutdown::after(50ms);
  auto quick = rt::worker_spec<Child>("q", rt::Restart::permanent, &p, std::string("q"));
  quick.shutdown = rt::Shutdown::immediate();
  auto s = start({}, {stubborn, quick});
  ASSERT_EQ(p.count("start:s"), 1);
  ASSERT_EQ(p.count("start:q"), 1);
  auto kids = children(sys, s);
  ASSERT_EQ(kids.size(), 2u);
  s.stop();
  sys.run_until_idle();
  EXPECT_EQ(kids[1].ref.exit_reason(), rt::ExitReason::killed);  // immediate
  // The stubborn child lives until its 50 ms have passed, and not a millisecond less.
  sys.advance_time(49ms);
  sys.run_until_idle();
  EXPECT_FALSE(kids[0].ref.stopped());
  EXPECT_FALSE(s.stopped());
  sys.advance_time(1ms);
  sys.run_until_idle();
  ASSERT_TRUE(s.stopped());
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::shutdown);
  EXPECT_EQ(kids[0].ref.exit_reason(), rt::ExitReason::killed);  // after its 50 ms
  auto ev = p.since(0);
  EXPECT_LT(std::find(ev.begin(), ev.end(), "stop:q"),
            std::find(ev.begin(), ev.end(), "stop:s"));  // reverse order
}

struct Watch {
  rt::AnyRef who;
  bool link;
};
struct Seen {
  using reply_type = std::vector<std::string>;
};
class Watcher : public rt::Actor<Watcher, Watch, Seen> {
 public:
  explicit Watcher(bool trap) : trap_(trap) {}
  void pre_start() override { trap_exit(trap_); }
  void handle(Watch& w) {
    if (w.link)
      link(w.who);
    else
      monitor(w.who);
  }
  std::vector<std::string> handle(Seen&) { return seen_; }
  void on_down(const rt::Down& d) override {
    seen_.push_back(std::string("down:") + rt::to_string(d.reason));
  }
  void on_exit(const rt::ExitSignal& e) override {
    seen_.push_back(std::string("exit:") + rt::to_string(e.reason));
  }

 private:
  bool trap_;
  std::vector<std::string> seen_;
};

TEST_F(Supervision, MonitorsGetDownWithTheExitReason) {
  auto w = sys.spawn<Watcher>(false).value();
  auto c = sys.spawn<Child>(&p, std::string("c")).value();
  ASSERT_TRUE(w.tell(Watch{c, false}).has_value());
  sys.run_until_idle();  // the Watch has been handled
  ASSERT_TRUE(c.tell(Crash{}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(ask_now(sys, w, Seen{}), (std::vector<std::string>{"down:error"}));
  // Monitoring an actor that is already gone delivers at once.
  ASSERT_TRUE(w.tell(Watch{c, false}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(ask_now(sys, w, Seen{}), (std::vector<std::string>{"down:error", "down:error"}));
}

TEST_F(Supervision, LinksPropagateAbnormalExitsUnlessTrapped) {
  auto plain = sys.spawn<Watcher>(false).value();
  auto trapping = sys.spawn<Watcher>(true).value();
  auto c = sys.spawn<Child>(&p, std::string("c")).value();
  ASSERT_TRUE(plain.tell(Watch{c, true}).has_value());
  ASSERT_TRUE(trapping.tell(Watch{c, true}).has_value());
  sys.run_until_idle();
  ASSERT_TRUE(c.tell(Crash{}).has_value());
  sys.run_until_idle();
  ASSERT_TRUE(plain.stopped());
  EXPECT_EQ(plain.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(ask_now(sys, trapping, Seen{}), (std::vector<std::string>{"exit:error"}));
}

TEST_F(Supervision, SystemShutdownStopsTreesInOrder) {
  auto s = start({}, abc(&p));
  ASSERT_TRUE(all_started(p, 1));
  EXPECT_TRUE(sys.shutdown().has_value());
  auto ev = p.since(3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0], "stop:c");
  EXPECT_EQ(ev[1], "stop:b");
  EXPECT_EQ(ev[2], "stop:a");
}

}  // namespace
