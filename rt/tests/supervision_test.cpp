// Supervision with OTP semantics on real worker threads: each strategy,
// each restart type, intensity exhaustion, escalation through two levels,
// shutdown timeouts, links and monitors. Waits are bounded, never timed.
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include "probe.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

using rt_test::eventually;
using rt_test::Probe;

struct Crash {};
struct Quit {};
struct Ping { using reply_type = int; };

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

std::vector<rt::ChildInfo> children(const rt::SupervisorRef& s) {
  auto r = s.ask(rt::WhichChildren{}, 60s);
  return r ? *r : std::vector<rt::ChildInfo>{};
}

Child::ref_type child(const rt::SupervisorRef& s, const std::string& id) {
  for (auto& c : children(s))
    if (c.id == id) return Child::ref_type(c.ref.cell());
  return {};
}

std::vector<rt::ChildSpec> abc(Probe* p, rt::Restart r = rt::Restart::permanent) {
  return {rt::worker_spec<Child>("a", r, p, std::string("a")), rt::worker_spec<Child>("b", r, p, std::string("b")),
          rt::worker_spec<Child>("c", r, p, std::string("c"))};
}

bool all_started(Probe& p, int n_each) {
  return p.count("start:a") >= n_each && p.count("start:b") >= n_each && p.count("start:c") >= n_each;
}

TEST(Supervision, StartsChildrenInOrder) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {}, abc(&p)).value();
  ASSERT_TRUE(eventually([&] { return all_started(p, 1); }));
  auto ids = children(s);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].id, "a");
  EXPECT_EQ(ids[2].id, "c");
  // Spawned in order (ids increase); supervisor_start_test.cpp checks that
  // each pre_start finishes before the next child is spawned.
  EXPECT_LT(ids[0].ref.id(), ids[1].ref.id());
  EXPECT_LT(ids[1].ref.id(), ids[2].ref.id());
}

TEST(Supervision, OneForOneRestartsOnlyTheFailedChild) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {.strategy = rt::Strategy::one_for_one}, abc(&p)).value();
  ASSERT_TRUE(eventually([&] { return all_started(p, 1); }));
  auto old_b = child(s, "b");
  ASSERT_TRUE(old_b.tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("start:b") == 2; }));
  auto new_b = child(s, "b");
  EXPECT_NE(new_b.id(), old_b.id());
  EXPECT_EQ(new_b.ask(Ping{}, 60s).value(), 1);
  EXPECT_EQ(old_b.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(p.count("start:a"), 1);
  EXPECT_EQ(p.count("start:c"), 1);
  EXPECT_EQ(p.count("stop:a"), 0);
}

TEST(Supervision, OneForAllStopsOthersInReverseAndRestartsAllInOrder) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {.strategy = rt::Strategy::one_for_all}, abc(&p)).value();
  ASSERT_TRUE(eventually([&] { return all_started(p, 1); }));
  auto mark = p.size();
  ASSERT_TRUE(child(s, "b").tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return all_started(p, 2); }));
  auto ev = p.since(mark);
  // b failed (its post_stop runs first), then c and a are stopped in reverse order.
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[0], "stop:b");
  EXPECT_EQ(ev[1], "stop:c");
  EXPECT_EQ(ev[2], "stop:a");
  EXPECT_EQ(children(s).size(), 3u);
}

TEST(Supervision, RestForOneRestartsTheFailedAndLaterChildren) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {.strategy = rt::Strategy::rest_for_one}, abc(&p)).value();
  ASSERT_TRUE(eventually([&] { return all_started(p, 1); }));
  ASSERT_TRUE(child(s, "b").tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("start:b") == 2 && p.count("start:c") == 2; }));
  EXPECT_EQ(p.count("start:a"), 1);
  EXPECT_EQ(p.count("stop:a"), 0);
  EXPECT_EQ(p.count("stop:c"), 1);
}

TEST(Supervision, PermanentIsRestartedEvenAfterANormalExit) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {}, {rt::worker_spec<Child>("a", rt::Restart::permanent, &p, std::string("a"))})
               .value();
  ASSERT_TRUE(eventually([&] { return p.count("start:a") == 1; }));
  ASSERT_TRUE(child(s, "a").tell(Quit{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("start:a") == 2; }));
}

TEST(Supervision, TransientIsRestartedOnlyAfterAnAbnormalExit) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {}, {rt::worker_spec<Child>("a", rt::Restart::transient, &p, std::string("a"))})
               .value();
  ASSERT_TRUE(eventually([&] { return p.count("start:a") == 1; }));
  ASSERT_TRUE(child(s, "a").tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("start:a") == 2; }));
  auto a = child(s, "a");
  ASSERT_TRUE(a.tell(Quit{}).has_value());
  ASSERT_TRUE(eventually([&] { return a.stopped(); }));
  ASSERT_TRUE(eventually([&] { return children(s).empty(); }));
  EXPECT_EQ(p.count("start:a"), 2);
  EXPECT_FALSE(s.stopped());
}

TEST(Supervision, TemporaryIsNeverRestartedAndIsRemoved) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {}, abc(&p, rt::Restart::temporary)).value();
  ASSERT_TRUE(eventually([&] { return all_started(p, 1); }));
  ASSERT_TRUE(child(s, "b").tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return children(s).size() == 2; }));
  EXPECT_EQ(p.count("start:b"), 1);
  EXPECT_EQ(child(s, "c").ask(Ping{}, 60s).value(), 1);
}

TEST(Supervision, IntensityExhaustionTerminatesTheSupervisor) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {.intensity = 2, .period = 600s}, abc(&p)).value();
  ASSERT_TRUE(eventually([&] { return all_started(p, 1); }));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(child(s, "a").tell(Crash{}).has_value());
    ASSERT_TRUE(eventually([&] { return p.count("start:a") == i + 2; }));
  }
  ASSERT_TRUE(child(s, "a").tell(Crash{}).has_value());  // third restart within the period: give up
  ASSERT_TRUE(eventually([&] { return s.stopped(); }));
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(p.count("start:a"), 3);
  EXPECT_EQ(p.count("stop:b"), 1);
  EXPECT_EQ(p.count("stop:c"), 1);
  // Remaining children were stopped before the supervisor exited.
  EXPECT_TRUE(eventually([&] { return sys.stats().live_actors == 0; }));
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

TEST(Supervision, RestartStormEndsAtTheIntensityLimit) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto s = rt::spawn_supervisor(sys, {.intensity = 5, .period = 600s},
                                {rt::worker_spec<CrashOnRestart>("x", rt::Restart::permanent, &p)})
               .value();
  ASSERT_TRUE(eventually([&] { return p.count("start:x") == 1; }));
  auto kids = children(s);
  ASSERT_EQ(kids.size(), 1u);
  ASSERT_TRUE(rt::ActorRef<Crash>(kids[0].ref.cell()).tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return s.stopped(); }));
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(p.count("start:x"), 6);  // first start + 5 restarts
}

// root (intensity 0) -> mid (intensity 1) -> leaf. Two leaf crashes exhaust
// mid; mid fails to root; root has no restarts left and fails too.
TEST(Supervision, EscalationThroughTwoLevels) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto mid = rt::supervisor_spec("mid", {.intensity = 1, .period = 600s},
                                 {rt::worker_spec<Child>("leaf", rt::Restart::permanent, &p, std::string("leaf"))});
  auto root = rt::spawn_supervisor(sys, {.intensity = 0, .period = 600s}, {mid}).value();
  auto leaf = [&] {
    auto kids = children(root);
    if (kids.empty()) return Child::ref_type{};
    auto m = rt::SupervisorRef(kids[0].ref.cell());
    return child(m, "leaf");
  };
  ASSERT_TRUE(eventually([&] { return p.count("start:leaf") == 1; }));
  auto mid_ref = children(root).at(0).ref;
  ASSERT_TRUE(leaf().tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("start:leaf") == 2; }));
  ASSERT_TRUE(leaf().tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return root.stopped(); }));
  EXPECT_EQ(mid_ref.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(root.exit_reason(), rt::ExitReason::error);
  EXPECT_TRUE(eventually([&] { return sys.stats().live_actors == 0; }));
}

// Same tree, but root may restart mid once: a fresh mid with a fresh leaf.
TEST(Supervision, ParentRestartsAFailedChildSupervisor) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto mid = rt::supervisor_spec("mid", {.intensity = 0, .period = 600s},
                                 {rt::worker_spec<Child>("leaf", rt::Restart::permanent, &p, std::string("leaf"))});
  auto root = rt::spawn_supervisor(sys, {.intensity = 1, .period = 600s}, {mid}).value();
  ASSERT_TRUE(eventually([&] { return p.count("start:leaf") == 1; }));
  auto mid1 = children(root).at(0).ref;
  ASSERT_TRUE(child(rt::SupervisorRef(mid1.cell()), "leaf").tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return p.count("start:leaf") == 2; }));
  ASSERT_TRUE(eventually([&] { return mid1.stopped(); }));
  ASSERT_TRUE(eventually([&] { return !children(root).empty() && children(root).at(0).ref.id() != mid1.id(); }));
  EXPECT_FALSE(root.stopped());
}

TEST(Supervision, ShutdownTimeoutKillsAChildThatIgnoresShutdown) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto stubborn = rt::worker_spec<Child>("s", rt::Restart::permanent, &p, std::string("s"), true);
  stubborn.shutdown = rt::Shutdown::after(50ms);
  auto quick = rt::worker_spec<Child>("q", rt::Restart::permanent, &p, std::string("q"));
  quick.shutdown = rt::Shutdown::immediate();
  auto s = rt::spawn_supervisor(sys, {}, {stubborn, quick}).value();
  ASSERT_TRUE(eventually([&] { return p.count("start:s") == 1 && p.count("start:q") == 1; }));
  auto kids = children(s);
  s.stop();
  ASSERT_TRUE(eventually([&] { return s.stopped(); }));
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::shutdown);
  EXPECT_EQ(kids[0].ref.exit_reason(), rt::ExitReason::killed);  // after its 50 ms
  EXPECT_EQ(kids[1].ref.exit_reason(), rt::ExitReason::killed);  // immediate
  auto ev = p.since(0);
  EXPECT_LT(std::find(ev.begin(), ev.end(), "stop:q"), std::find(ev.begin(), ev.end(), "stop:s"));  // reverse order
}

struct Watch { rt::AnyRef who; bool link; };
struct Seen { using reply_type = std::vector<std::string>; };
class Watcher : public rt::Actor<Watcher, Watch, Seen> {
 public:
  explicit Watcher(bool trap) : trap_(trap) {}
  void pre_start() override { trap_exit(trap_); }
  void handle(Watch& w) {
    if (w.link) link(w.who);
    else monitor(w.who);
  }
  std::vector<std::string> handle(Seen&) { return seen_; }
  void on_down(const rt::Down& d) override { seen_.push_back(std::string("down:") + rt::to_string(d.reason)); }
  void on_exit(const rt::ExitSignal& e) override { seen_.push_back(std::string("exit:") + rt::to_string(e.reason)); }

 private:
  bool trap_;
  std::vector<std::string> seen_;
};

TEST(Supervision, MonitorsGetDownWithTheExitReason) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto w = sys.spawn<Watcher>(false).value();
  auto c = sys.spawn<Child>(&p, std::string("c")).value();
  ASSERT_TRUE(w.tell(Watch{c, false}).has_value());
  (void)w.ask(Seen{}, 60s);  // the Watch has been handled once this returns
  ASSERT_TRUE(c.tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return w.ask(Seen{}, 60s).value_or(std::vector<std::string>{}).size() == 1; }));
  EXPECT_EQ(w.ask(Seen{}, 60s).value().at(0), "down:error");
  // Monitoring an actor that is already gone delivers at once.
  ASSERT_TRUE(w.tell(Watch{c, false}).has_value());
  ASSERT_TRUE(eventually([&] { return w.ask(Seen{}, 60s).value_or(std::vector<std::string>{}).size() == 2; }));
}

TEST(Supervision, LinksPropagateAbnormalExitsUnlessTrapped) {
  Probe p;  // outlives the system: post_stop hooks write to it
  rt::ActorSystem sys;
  auto plain = sys.spawn<Watcher>(false).value();
  auto trapping = sys.spawn<Watcher>(true).value();
  auto c = sys.spawn<Child>(&p, std::string("c")).value();
  ASSERT_TRUE(plain.tell(Watch{c, true}).has_value());
  ASSERT_TRUE(trapping.tell(Watch{c, true}).has_value());
  (void)plain.ask(Seen{}, 60s);
  (void)trapping.ask(Seen{}, 60s);
  ASSERT_TRUE(c.tell(Crash{}).has_value());
  ASSERT_TRUE(eventually([&] { return plain.stopped(); }));
  EXPECT_EQ(plain.exit_reason(), rt::ExitReason::error);
  ASSERT_TRUE(eventually([&] { return trapping.ask(Seen{}, 60s).value_or(std::vector<std::string>{}).size() == 1; }));
  EXPECT_EQ(trapping.ask(Seen{}, 60s).value().at(0), "exit:error");
}

TEST(Supervision, SystemShutdownStopsTreesInOrder) {
  Probe p;
  {
    rt::ActorSystem sys{{.shutdown_timeout = 30s}};
    auto s = rt::spawn_supervisor(sys, {}, abc(&p)).value();
    ASSERT_TRUE(eventually([&] { return all_started(p, 1); }));
    EXPECT_TRUE(sys.shutdown().has_value());
  }
  auto ev = p.since(3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0], "stop:c");
  EXPECT_EQ(ev[1], "stop:b");
  EXPECT_EQ(ev[2], "stop:a");
}

}  // namespace
