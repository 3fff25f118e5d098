// When the broker polls instead of sleeping (BrokerOptions::busy_poll), seen
// through its stats: by default only after turns that forwarded a request or
// delivered a reply, never after turns that carried only publishes; 0 never;
// N after every turn. The counters are the broker's decisions (poll_turns),
// not timings, so the assertions hold on a slow, busy machine: a back-off
// may keep the broker from polling, never from counting the turn.

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <string>

namespace airssys::bus {
namespace {

using namespace std::chrono_literals;
using testing::connect_client;
using testing::eventually;
using testing::start_broker;
using testing::TempDir;

constexpr int kRequests = 20;
constexpr int kPublishes = 200;

nlohmann::json stats(Client& c) {
  auto s = c.stats();
  EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
  return s ? nlohmann::json::parse(*s) : nlohmann::json::object();
}

std::uint64_t poll_turns(Client& c) { return stats(c).value("poll_turns", ~0ull); }

// A broker with a subscriber on `feed` and an echo responder on `svc`, and
// clients to publish and to request.
struct Bus {
  TempDir d;
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Client> responder, requester, publisher, subscriber;
  Subscription echo, feed;
  std::atomic<int> fed{0};

  explicit Bus(BrokerOptions o) {
    broker = start_broker(d, std::move(o));
    responder = connect_client(d);
    requester = connect_client(d);
    publisher = connect_client(d);
    subscriber = connect_client(d);
    if (!broker || !responder || !requester || !publisher || !subscriber) return;
    Client* r = responder.get();
    auto e = responder->subscribe("svc", [r](const MessageView& m) { (void)r->publish(m.reply_to, m.payload); });
    auto f = subscriber->subscribe("feed", [this](const MessageView&) { ++fed; });
    EXPECT_TRUE(e && f && responder->flush() && subscriber->flush());
    if (e) echo = std::move(*e);
    if (f) feed = std::move(*f);
  }
  [[nodiscard]] bool ready() const { return broker && responder && requester && publisher && subscriber; }

  // kPublishes messages on `feed`, all delivered before it returns.
  void publish_only() {
    const int want = fed.load() + kPublishes;
    for (int i = 0; i < kPublishes; ++i) ASSERT_TRUE(publisher->publish("feed", std::to_string(i)));
    ASSERT_TRUE(publisher->flush());
    ASSERT_TRUE(eventually([&] { return fed.load() == want; })) << fed.load() << " of " << want;
  }
  // kRequests sequential requests, each answered.
  void request_reply() {
    for (int i = 0; i < kRequests; ++i) {
      auto r = requester->request("svc", std::to_string(i), 10s);
      ASSERT_TRUE(r) << r.error().to_string();
      ASSERT_EQ(r->payload, std::to_string(i));
    }
  }
};

TEST(BusyPoll, TheDefaultPollsAfterRequestReplyTurnsAndNotAfterPublishes) {
  Bus bus{BrokerOptions{}};
  ASSERT_TRUE(bus.ready());
  const auto s0 = stats(*bus.requester);
  EXPECT_EQ(s0["busy_poll"], "auto");
  EXPECT_EQ(s0["busy_poll_us"], kRequestReplyPoll.count());

  // Publishes delivered to a subscriber, subscriptions, flushes and stats:
  // no turn of them polls.
  bus.publish_only();
  auto s = stats(*bus.requester);
  EXPECT_EQ(s["poll_turns"], 0u);
  EXPECT_EQ(s["polls"], 0u);

  // Each request is two turns the broker polls after, one turn apart: the
  // one that forwards it to the responder, and the one that delivers the
  // reply (which can only come after the forward was written).
  bus.request_reply();
  const std::uint64_t after_requests = poll_turns(*bus.requester);
  EXPECT_GE(after_requests, 2u * kRequests);

  // Publishes again, with request/reply having run: still no polling turn.
  bus.publish_only();
  EXPECT_EQ(poll_turns(*bus.requester), after_requests);
}

// A request without a responder is not forwarded, so it waits for nothing
// the broker could poll for.
TEST(BusyPoll, ARequestNobodyAnswersStartsNoPolling) {
  Bus bus{BrokerOptions{}};
  ASSERT_TRUE(bus.ready());
  auto r = bus.requester->request("svc.nobody", "x", 50ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::timeout) << r.error().to_string();
  EXPECT_EQ(poll_turns(*bus.requester), 0u);
}

TEST(BusyPoll, ZeroNeverPolls) {
  BrokerOptions o;
  o.busy_poll = 0us;
  Bus bus{std::move(o)};
  ASSERT_TRUE(bus.ready());
  bus.request_reply();
  bus.publish_only();
  const auto s = stats(*bus.requester);
  EXPECT_EQ(s["busy_poll"], "off");
  EXPECT_EQ(s["poll_turns"], 0u);
  EXPECT_EQ(s["polls"], 0u);
}

// An explicit window polls after every turn that served a connection, as
// before the default became request/reply turns only.
TEST(BusyPoll, AnExplicitWindowPollsAfterPublishesToo) {
  BrokerOptions o;
  o.busy_poll = 30us;
  Bus bus{std::move(o)};
  ASSERT_TRUE(bus.ready());
  const std::uint64_t before = poll_turns(*bus.requester);
  bus.publish_only();
  const auto s = stats(*bus.requester);
  EXPECT_EQ(s["busy_poll"], "always");
  EXPECT_EQ(s["busy_poll_us"], 30);
  EXPECT_GT(s["poll_turns"].get<std::uint64_t>(), before);
}

}  // namespace
}  // namespace airssys::bus
