// Circuit breaker: the state machine on a manual clock (no sleeps, no
// timing), then around real actors (blocking ask from a plain thread and a
// non-blocking ask from inside an actor in deterministic mode).
#include <airssys/rt/circuit_breaker.hpp>
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

struct ManualClock {
  std::chrono::steady_clock::time_point t{std::chrono::hours(1)};
  std::function<std::chrono::steady_clock::time_point()> fn() {
    return [this] { return t; };
  }
};

std::expected<int, rt::Error> ok() { return 1; }
std::expected<int, rt::Error> bad() { return std::unexpected(rt::Error{rt::ErrorCategory::timeout, "slow"}); }

TEST(CircuitBreaker, OpensAfterThresholdConsecutiveFailures) {
  ManualClock clk;
  rt::CircuitBreaker cb({.failure_threshold = 3, .open_timeout = 10s, .clock = clk.fn()});
  EXPECT_TRUE(cb.call(bad).error().category == rt::ErrorCategory::timeout);
  EXPECT_TRUE(cb.call(bad).error().category == rt::ErrorCategory::timeout);
  EXPECT_TRUE(cb.call(ok).has_value());  // a success resets the count
  EXPECT_EQ(cb.state(), rt::BreakerState::closed);
  for (int i = 0; i < 3; ++i) (void)cb.call(bad);
  EXPECT_EQ(cb.state(), rt::BreakerState::open);
  bool called = false;
  auto r = cb.call([&] {
    called = true;
    return ok();
  });
  EXPECT_FALSE(called);  // refused without calling
  EXPECT_EQ(r.error().category, rt::ErrorCategory::circuit_open);
  EXPECT_EQ(cb.stats().rejected, 1u);
  EXPECT_EQ(cb.stats().opened, 1u);
}

TEST(CircuitBreaker, HalfOpenAfterTimeoutClosesAfterTrialSuccesses) {
  ManualClock clk;
  rt::CircuitBreaker cb({.failure_threshold = 1, .open_timeout = 10s, .half_open_trials = 2, .clock = clk.fn()});
  (void)cb.call(bad);
  ASSERT_EQ(cb.state(), rt::BreakerState::open);
  clk.t += 9s;
  EXPECT_EQ(cb.state(), rt::BreakerState::open);
  clk.t += 1s;
  EXPECT_EQ(cb.state(), rt::BreakerState::half_open);
  // Two trials at a time; a third concurrent call is refused.
  auto p1 = cb.try_acquire();
  auto p2 = cb.try_acquire();
  ASSERT_TRUE(p1 && p2);
  EXPECT_EQ(cb.try_acquire().error().category, rt::ErrorCategory::circuit_open);
  p1->record(true);
  EXPECT_EQ(cb.state(), rt::BreakerState::half_open);
  p2->record(true);
  EXPECT_EQ(cb.state(), rt::BreakerState::closed);
  EXPECT_TRUE(cb.call(ok).has_value());
}

TEST(CircuitBreaker, AFailedTrialReopensForAnotherTimeout) {
  ManualClock clk;
  rt::CircuitBreaker cb({.failure_threshold = 1, .open_timeout = 10s, .clock = clk.fn()});
  (void)cb.call(bad);
  clk.t += 10s;
  ASSERT_EQ(cb.state(), rt::BreakerState::half_open);
  (void)cb.call(bad);
  EXPECT_EQ(cb.state(), rt::BreakerState::open);
  clk.t += 5s;
  EXPECT_EQ(cb.state(), rt::BreakerState::open);  // the timeout restarted
  clk.t += 5s;
  EXPECT_EQ(cb.state(), rt::BreakerState::half_open);
  EXPECT_EQ(cb.stats().opened, 2u);
}

TEST(CircuitBreaker, AnAbandonedPermitIsAFailureAndStaleResultsAreIgnored) {
  ManualClock clk;
  rt::CircuitBreaker cb({.failure_threshold = 1, .open_timeout = 10s, .clock = clk.fn()});
  auto slow = cb.try_acquire();  // granted while closed
  { auto dropped = cb.try_acquire(); }  // destroyed unrecorded: a failure
  EXPECT_EQ(cb.state(), rt::BreakerState::open);
  clk.t += 10s;
  ASSERT_EQ(cb.state(), rt::BreakerState::half_open);
  slow->record(true);  // from before the breaker opened: does not close it
  EXPECT_EQ(cb.state(), rt::BreakerState::half_open);
}

// ---- around actors ----

struct Req {
  using reply_type = int;
};
struct SetHealthy {
  bool on;
};

class Flaky : public rt::Actor<Flaky, Req, SetHealthy> {
 public:
  int handle(Req&) {
    if (!healthy_) throw std::runtime_error("backend down");
    return 42;
  }
  void handle(SetHealthy& m) { healthy_ = m.on; }
  rt::Directive on_error(const rt::Failure&) override { return rt::Directive::resume; }

 private:
  bool healthy_ = false;
};

TEST(CircuitBreaker, AskThroughTheBreakerStopsSendingToAFailingActor) {
  ManualClock clk;
  rt::ActorSystem sys{{.workers = 2}};
  auto f = sys.spawn<Flaky>().value();
  rt::CircuitBreaker cb({.failure_threshold = 3, .open_timeout = 30s, .clock = clk.fn()});
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(cb.ask(f, Req{}, 60s).error().category, rt::ErrorCategory::broken_promise);
  ASSERT_EQ(cb.state(), rt::BreakerState::open);
  const auto processed = f.stats().processed;
  EXPECT_EQ(cb.ask(f, Req{}, 60s).error().category, rt::ErrorCategory::circuit_open);
  EXPECT_EQ(f.stats().processed, processed);  // nothing was sent
  ASSERT_TRUE(f.tell(SetHealthy{true}).has_value());
  clk.t += 30s;
  EXPECT_EQ(cb.ask(f, Req{}, 60s).value(), 42);  // the half-open trial succeeds
  EXPECT_EQ(cb.state(), rt::BreakerState::closed);
}

// Inside an actor: non-blocking ask with a permit, deterministic mode.
struct Go {};
class Caller : public rt::Actor<Caller, Go> {
 public:
  Caller(rt::ActorRef<Req> to, rt::CircuitBreaker cb, std::atomic<int>* opens)
      : to_(std::move(to)), cb_(std::move(cb)), refused_(opens) {}
  void handle(Go&) {
    auto p = cb_.try_acquire();
    if (!p) {
      ++*refused_;
      return;
    }
    ask(to_, Req{}, 60s, [p = std::move(*p)](std::expected<int, rt::Error> r) mutable { p.record(r.has_value()); });
  }

 private:
  rt::ActorRef<Req> to_;
  rt::CircuitBreaker cb_;
  std::atomic<int>* refused_;
};

TEST(CircuitBreaker, NonBlockingAskFromAnActorDeterministic) {
  ManualClock clk;
  rt::ActorSystem sys{{.deterministic = true}};
  auto f = sys.spawn<Flaky>().value();
  rt::CircuitBreaker cb({.failure_threshold = 2, .open_timeout = 30s, .clock = clk.fn()});
  std::atomic<int> refused{0};
  auto c = sys.spawn<Caller>(rt::ActorRef<Req>(f), cb, &refused).value();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.tell(Go{}).has_value());
    sys.run_until_idle();
  }
  EXPECT_EQ(cb.state(), rt::BreakerState::open);  // opened after two failures ...
  EXPECT_EQ(refused.load(), 3);                   // ... the last three never reached Flaky
  EXPECT_EQ(cb.stats().failures, 2u);
}

}  // namespace
