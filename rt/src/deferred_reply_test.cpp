// Deferred replies: an actor answers an ask later (from another message, a
// timer, or another thread), or the asker learns the promise was broken.
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

struct Get {
  using reply_type = int;
};
struct Put {
  int v;
};
struct Forget {};

// Answers Get only once a Put arrives.
class Cell : public rt::Actor<Cell, Get, Put, Forget> {
 public:
  int handle(Get& m) {
    waiting_ = defer_reply(m);
    return -1;  // ignored: the reply was deferred
  }
  void handle(Put& m) {
    if (waiting_) waiting_->deliver(m.v);
    waiting_.reset();
  }
  void handle(Forget&) { waiting_.reset(); }

 private:
  std::optional<rt::Promise<int>> waiting_;
};

TEST(DeferredReply, AnswerComesFromALaterMessage) {
  rt::ActorSystem sys{{.workers = 2}};
  auto c = sys.spawn<Cell>().value();
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    (void)c.tell(Put{42});
  });
  EXPECT_EQ(c.ask(Get{}, 60s).value(), 42);
  t.join();
}

TEST(DeferredReply, DroppedPromiseIsABrokenPromise) {
  rt::ActorSystem sys{{.workers = 2}};
  auto c = sys.spawn<Cell>().value();
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    (void)c.tell(Forget{});
  });
  auto r = c.ask(Get{}, 60s);
  t.join();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().category, rt::ErrorCategory::broken_promise);
}

TEST(DeferredReply, TimeoutStillApplies) {
  rt::ActorSystem sys{{.workers = 2}};
  auto c = sys.spawn<Cell>().value();
  auto r = c.ask(Get{}, 50ms);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().category, rt::ErrorCategory::timeout);
  (void)c.tell(Put{1});  // delivering to a timed-out asker is harmless
  EXPECT_EQ(c.ask(Get{}, 50ms).error().category, rt::ErrorCategory::timeout);
}

TEST(DeferredReply, DeterministicMode) {
  rt::ActorSystem sys{{.deterministic = true}};
  auto c = sys.spawn<Cell>().value();
  sys.run_until_idle();
  std::optional<std::expected<int, rt::Error>> got;
  std::thread asker([&] { got = c.ask(Get{}, 60s); });
  while (c.stats().processed == 0) {  // wait for the Get to be handled
    sys.run_until_idle();
    std::this_thread::sleep_for(1ms);
  }
  (void)c.tell(Put{9});
  sys.run_until_idle();
  asker.join();
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ(**got, 9);
}

}  // namespace
