// Deterministic mode with virtual time: timers fire only when the test
// moves the clock, so timeouts, intervals and supervisor backoff are tested
// without sleeping and without timing assumptions.
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

struct Tick {};
struct Arm {
  std::chrono::milliseconds after;
};

class Clocked : public rt::Actor<Clocked, Tick, Arm> {
 public:
  explicit Clocked(std::vector<std::string>* log) : log_(log) {}
  void handle(Tick&) { log_->push_back("tick"); }
  void handle(Arm& a) {
    schedule(a.after, [this] { log_->push_back("timeout"); });
  }

 private:
  std::vector<std::string>* log_;
};

rt::SystemConfig virtual_cfg() { return {.deterministic = true, .virtual_time = true}; }

TEST(VirtualTime, ScheduleFiresOnlyWhenTimeIsAdvancedPastIt) {
  std::vector<std::string> log;
  rt::ActorSystem sys{virtual_cfg()};
  auto a = sys.spawn<Clocked>(&log).value();
  ASSERT_TRUE(a.tell(Arm{100ms}).has_value());
  sys.run_until_idle();
  EXPECT_EQ(sys.advance_time(99ms), 0u);
  sys.run_until_idle();
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(sys.advance_time(1ms), 1u);
  sys.run_until_idle();
  EXPECT_EQ(log, std::vector<std::string>{"timeout"});
}

TEST(VirtualTime, IntervalsAndSendAfterInDueOrder) {
  std::vector<std::string> log;
  rt::ActorSystem sys{virtual_cfg()};
  auto a = sys.spawn<Clocked>(&log).value();
  sys.run_until_idle();
  auto id = sys.send_interval(a, Tick{}, 10ms);
  EXPECT_EQ(sys.advance_time(100ms), 10u);
  sys.run_until_idle();
  EXPECT_EQ(log.size(), 10u);
  EXPECT_TRUE(sys.cancel_timer(id));
  EXPECT_EQ(sys.advance_time(1h), 0u);
  (void)sys.send_after(a, Tick{}, 5s);
  EXPECT_EQ(sys.advance_time(4999ms), 0u);
  EXPECT_EQ(sys.advance_time(1ms), 1u);
  sys.run_until_idle();
  EXPECT_EQ(log.size(), 11u);
}

// Supervisor backoff, exactly: the restart happens when virtual time
// reaches the delay, and not one millisecond before.
struct Crash {};
class Worker : public rt::Actor<Worker, Crash> {
 public:
  // out: where the current incarnation publishes its ref (deterministic
  // mode: the test cannot ask the supervisor with a blocking ask).
  Worker(int* starts, rt::ActorRef<Crash>* out) : starts_(starts), out_(out) {}
  void pre_start() override {
    ++*starts_;
    *out_ = self();
  }
  void handle(Crash&) { throw std::runtime_error("crash"); }

 private:
  int* starts_;
  rt::ActorRef<Crash>* out_;
};

TEST(VirtualTime, SupervisorBackoffDelaysAreExact) {
  int starts = 0;
  rt::ActorRef<Crash> current;
  rt::ActorSystem sys{virtual_cfg()};
  rt::SupervisorFlags f{.intensity = 5, .period = 3600s, .backoff = {.initial = 100ms, .multiplier = 3.0, .max = 500ms}};
  auto s = rt::spawn_supervisor(sys, f, {rt::worker_spec<Worker>("w", rt::Restart::permanent, &starts, &current)})
               .value();
  sys.run_until_idle();
  ASSERT_EQ(starts, 1);
  const std::chrono::milliseconds delays[] = {100ms, 300ms, 500ms, 500ms};  // x3 each time, capped at 500
  for (auto delay : delays) {
    const int before = starts;
    ASSERT_TRUE(current.tell(Crash{}).has_value());
    sys.run_until_idle();
    sys.advance_time(delay - 1ms);
    sys.run_until_idle();
    EXPECT_EQ(starts, before) << "restarted before its " << delay.count() << " ms backoff";
    sys.advance_time(1ms);
    sys.run_until_idle();
    EXPECT_EQ(starts, before + 1) << "not restarted after its " << delay.count() << " ms backoff";
  }
  EXPECT_FALSE(s.stopped());
}

// A supervisor's shutdown timeout is a timer too: a child that ignores the
// shutdown signal is killed when virtual time reaches the timeout.
struct Hold {};
class Stubborn : public rt::Actor<Stubborn, Hold> {
 public:
  void pre_start() override { trap_exit(true); }  // ignores shutdown
  void handle(Hold&) {}
};

TEST(VirtualTime, ShutdownTimeoutKillsAtTheVirtualDeadline) {
  rt::ActorSystem sys{virtual_cfg()};
  auto spec = rt::worker_spec<Stubborn>("s", rt::Restart::permanent);
  spec.shutdown = rt::Shutdown::after(2s);
  auto s = rt::spawn_supervisor(sys, {}, {spec}).value();
  sys.run_until_idle();
  s.stop();
  sys.run_until_idle();
  sys.advance_time(1999ms);
  sys.run_until_idle();
  EXPECT_FALSE(s.stopped());
  sys.advance_time(1ms);
  sys.run_until_idle();
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.exit_reason(), rt::ExitReason::shutdown);
}

// Restart intensity is measured on the runtime's clock: in a simulation,
// crashes spaced further apart than the period never exhaust it, however
// fast the test runs; crashes inside one period do.
TEST(VirtualTime, RestartIntensityPeriodIsVirtualTime) {
  int starts = 0;
  rt::ActorRef<Crash> current;
  rt::ActorSystem sys{virtual_cfg()};
  rt::SupervisorFlags f{.intensity = 2, .period = 1s};
  auto s = rt::spawn_supervisor(sys, f, {rt::worker_spec<Worker>("w", rt::Restart::permanent, &starts, &current)})
               .value();
  sys.run_until_idle();
  for (int i = 0; i < 6; ++i) {  // one crash every 2 virtual seconds: never more than 1 per period
    ASSERT_TRUE(current.tell(Crash{}).has_value());
    sys.run_until_idle();
    ASSERT_FALSE(s.stopped()) << "gave up after crash " << i + 1 << " although crashes were 2 s apart";
    sys.advance_time(2s);
    sys.run_until_idle();
  }
  EXPECT_EQ(starts, 7);
  for (int i = 0; i < 3; ++i) {  // three crashes within one virtual instant: intensity 2 exceeded
    ASSERT_TRUE(current.tell(Crash{}).has_value());
    sys.run_until_idle();
  }
  EXPECT_TRUE(s.stopped());
}

// An interval timer ends with its target, as an Erlang interval dies with its
// process: no dead letter per tick after the actor stopped.
TEST(VirtualTime, IntervalEndsWhenItsTargetStops) {
  std::vector<std::string> log;
  rt::ActorSystem sys{virtual_cfg()};
  auto a = sys.spawn<Clocked>(&log).value();
  sys.run_until_idle();
  auto id = sys.send_interval(a, Tick{}, 10ms);
  EXPECT_EQ(sys.advance_time(30ms), 3u);
  sys.run_until_idle();
  a.stop();
  sys.run_until_idle();
  ASSERT_TRUE(a.stopped());
  const auto dead_before = sys.stats().dead_letters;
  sys.advance_time(10ms);  // this tick sees the target stopped and ends the timer
  EXPECT_EQ(sys.advance_time(1s), 0u);
  EXPECT_EQ(sys.stats().dead_letters, dead_before);
  EXPECT_FALSE(sys.cancel_timer(id)) << "the interval should have ended by itself";
}

}  // namespace
