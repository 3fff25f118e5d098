// Actors, typed refs, tell/ask, lifecycle hooks, failures, envelopes.
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

struct Inc { int by = 1; };
struct Get { using reply_type = int; };
struct Boom {};
struct Wrong {};

struct Hooks {
  std::atomic<int> starts{0}, stops{0}, errors{0};
};

class Counter : public rt::Actor<Counter, Inc, Get, Boom> {
 public:
  Counter(Hooks* h, rt::Directive on_fail) : h_(h), on_fail_(on_fail) {}
  void pre_start() override { h_->starts++; }
  void post_stop() override { h_->stops++; }
  rt::Directive on_error(const rt::Failure& f) override {
    h_->errors++;
    EXPECT_EQ(f.what, "boom");
    return on_fail_;
  }
  void handle(Inc& m) { n_ += m.by; }
  int handle(Get&) { return n_; }
  void handle(Boom&) { throw std::runtime_error("boom"); }

 private:
  Hooks* h_;
  rt::Directive on_fail_;
  int n_ = 0;
};

// Sending a type the actor does not declare does not compile.
template <class Ref, class M>
concept CanTell = requires(Ref r, M m) { r.tell(m); };
static_assert(CanTell<Counter::ref_type, Inc>);
static_assert(!CanTell<Counter::ref_type, Wrong>);
// A narrowed ref can send only its subset.
static_assert(!CanTell<rt::ActorRef<Inc>, Get>);

// A cell holding a small actor (its vptr and cell pointer, spawned without
// arguments) takes three cache lines of the pool's 64-byte classes, not four:
// what a spawn allocates besides its messages (docs/rt.md, Scheduler).
class Tiny : public rt::Actor<Tiny, Inc> {
 public:
  void handle(Inc&) {}
};
static_assert(sizeof(void*) != 8 || sizeof(rt::detail::Cell<Tiny>) == 192);

class VariantActor : public rt::Actor<VariantActor, std::variant<Inc, Get>> {
 public:
  void handle(Inc& m) { n_ += m.by; }
  int handle(Get&) { return n_; }

 private:
  int n_ = 0;
};

TEST(Actor, TellThenAskFromPlainThread) {
  rt::ActorSystem sys;
  Hooks h;
  auto c = sys.spawn<Counter>(&h, rt::Directive::resume);
  ASSERT_TRUE(c.has_value());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(c->tell(Inc{2}).has_value());
  auto n = c->ask(Get{}, 30s);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 2000);
  rt::ActorRef<Inc> narrow = *c;
  EXPECT_TRUE(narrow.tell(Inc{}).has_value());
  EXPECT_EQ(h.starts.load(), 1);
}

TEST(Actor, VariantMessageType) {
  rt::ActorSystem sys;
  auto a = sys.spawn<VariantActor>().value();
  ASSERT_TRUE(a.tell(Inc{5}).has_value());
  EXPECT_EQ(a.ask(Get{}, 30s).value(), 5);
}

TEST(Actor, ResumeKeepsStateRestartResetsIt) {
  rt::ActorSystem sys{{.deterministic = true}};
  Hooks h1, h2;
  auto resume = sys.spawn<Counter>(&h1, rt::Directive::resume).value();
  auto restart = sys.spawn<Counter>(&h2, rt::Directive::restart).value();
  for (auto* r : {&resume, &restart}) {
    ASSERT_TRUE(r->tell(Inc{3}).has_value());
    ASSERT_TRUE(r->tell(Boom{}).has_value());
    ASSERT_TRUE(r->tell(Inc{1}).has_value());
  }
  sys.run_until_idle();
  EXPECT_FALSE(resume.stopped());
  EXPECT_FALSE(restart.stopped());
  EXPECT_EQ(h1.errors.load(), 1);
  EXPECT_EQ(h2.starts.load(), 2);  // pre_start again after the restart
  EXPECT_EQ(h2.stops.load(), 1);   // post_stop of the failed instance
  EXPECT_EQ(restart.stats().restarts, 1u);
  EXPECT_EQ(resume.stats().failures, 1u);
}

TEST(Actor, EscalateTerminatesTheActorNotTheProcess) {
  rt::ActorSystem sys;
  Hooks h;
  auto c = sys.spawn<Counter>(&h, rt::Directive::escalate).value();
  ASSERT_TRUE(c.tell(Boom{}).has_value());
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!c.stopped() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(c.stopped());
  EXPECT_EQ(c.exit_reason(), rt::ExitReason::error);
  EXPECT_EQ(h.stops.load(), 1);
  auto r = c.tell(Inc{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().category, rt::ErrorCategory::actor_stopped);
  EXPECT_GE(sys.stats().dead_letters, 1u);
  auto a = c.ask(Get{}, 30s);
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().category, rt::ErrorCategory::actor_stopped);
}

TEST(Actor, StopDirectiveIsANormalExit) {
  rt::ActorSystem sys{{.deterministic = true}};
  Hooks h;
  auto c = sys.spawn<Counter>(&h, rt::Directive::stop).value();
  ASSERT_TRUE(c.tell(Boom{}).has_value());
  ASSERT_TRUE(c.tell(Inc{}).has_value());  // enqueued before the failure: becomes a dead letter
  sys.run_until_idle();
  ASSERT_TRUE(c.stopped());
  EXPECT_EQ(c.exit_reason(), rt::ExitReason::normal);
  EXPECT_EQ(sys.stats().dead_letters, 1u);
}

TEST(Actor, ExpiredMessagesAreDroppedAndCounted) {
  rt::ActorSystem sys{{.deterministic = true}};
  Hooks h;
  auto c = sys.spawn<Counter>(&h, rt::Directive::resume).value();
  ASSERT_TRUE(c.tell(Inc{1}, {.ttl = 1ns}).has_value());  // timestamps use the coarse clock
  ASSERT_TRUE(c.tell(Inc{10}, {.ttl = 1h}).has_value());
  std::this_thread::sleep_for(30ms);  // several coarse-clock ticks
  sys.run_until_idle();
  EXPECT_EQ(c.stats().expired, 1u);
  EXPECT_EQ(c.stats().processed, 1u);
}

// System messages jump the queue: an exit signal sent after many user
// messages is processed first.
TEST(Actor, SystemMessagesJumpTheQueue) {
  rt::ActorSystem sys{{.deterministic = true}};
  Hooks h;
  auto c = sys.spawn<Counter>(&h, rt::Directive::resume).value();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(c.tell(Inc{}).has_value());
  c.stop();
  sys.run_until_idle();
  ASSERT_TRUE(c.stopped());
  EXPECT_EQ(c.exit_reason(), rt::ExitReason::shutdown);
  EXPECT_EQ(c.stats().processed, 0u);
  EXPECT_EQ(sys.stats().dead_letters, 100u);
}

struct Hello { std::string who; };
class Greeter : public rt::Actor<Greeter, Hello> {
 public:
  explicit Greeter(std::atomic<rt::ActorId>* seen) : seen_(seen) {}
  void handle(Hello&) { seen_->store(envelope().sender); }

 private:
  std::atomic<rt::ActorId>* seen_;
};

struct Kick {};
class Asker : public rt::Actor<Asker, Kick> {
 public:
  Asker(Counter::ref_type target, rt::ActorRef<Hello> greeter, std::atomic<int>* out)
      : target_(std::move(target)), greeter_(std::move(greeter)), out_(out) {}
  void handle(Kick&) {
    (void)greeter_.tell(Hello{"x"});
    ask(target_, Get{}, 30s, [this](std::expected<int, rt::Error> r) { out_->store(r ? *r : -1); });
    // Blocking ask on a worker is refused, never deadlocks.
    auto blocked = target_.ask(Get{}, 1s);
    if (!blocked && blocked.error().category == rt::ErrorCategory::invalid_argument) refused_ = true;
    if (!refused_) out_->store(-2);
  }

 private:
  Counter::ref_type target_;
  rt::ActorRef<Hello> greeter_;
  std::atomic<int>* out_;
  bool refused_ = false;
};

TEST(Actor, AskFromInsideAnActorDeliversAContinuation) {
  rt::ActorSystem sys;
  Hooks h;
  std::atomic<int> out{0};
  std::atomic<rt::ActorId> seen{0};
  auto c = sys.spawn<Counter>(&h, rt::Directive::resume).value();
  ASSERT_TRUE(c.tell(Inc{7}).has_value());
  auto g = sys.spawn<Greeter>(&seen).value();
  auto a = sys.spawn<Asker>(c, g, &out).value();
  ASSERT_TRUE(a.tell(Kick{}).has_value());
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((out.load() == 0 || seen.load() == 0) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(out.load(), 7);
  EXPECT_EQ(seen.load(), a.id());
}

class Silent : public rt::Actor<Silent, Get> {
 public:
  explicit Silent(std::atomic<bool>* release) : release_(release) {}
  int handle(Get&) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!release_->load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    return 1;
  }

 private:
  std::atomic<bool>* release_;
};

TEST(Actor, AskTimesOut) {
  rt::ActorSystem sys;
  std::atomic<bool> release{false};
  auto s = sys.spawn<Silent>(&release).value();
  auto r = s.ask(Get{}, 20ms);
  release = true;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().category, rt::ErrorCategory::timeout);
}

TEST(Actor, ShutdownWithLiveActorsFinishes) {
  Hooks h;
  rt::ActorSystem sys{{.shutdown_timeout = 10s}};
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(sys.spawn<Counter>(&h, rt::Directive::resume).has_value());
  auto r = sys.shutdown();
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(sys.stats().live_actors, 0u);
  EXPECT_EQ(h.stops.load(), 1000);
  auto late = sys.spawn<Counter>(&h, rt::Directive::resume);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().category, rt::ErrorCategory::system_stopped);
}

}  // namespace
