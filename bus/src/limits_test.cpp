// Size limits over real Unix sockets: a publish at the frame limit (the
// relayed MSG carries a sid the PUB did not), the STATS reply bound, and the
// per-connection and broker-wide budgets of queued bytes.

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>

namespace airssys::bus {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::RawConn;
using testing::TempDir;
using testing::start_broker;

constexpr std::size_t kMaxFrame = 4096;

// A PUB whose body is exactly `body` bytes.
detail::Frame pub_of_body(std::string_view subject, std::string& payload, std::size_t body) {
  detail::Frame f;
  f.op = detail::Op::pub;
  f.subject = subject;
  payload.assign(body, 'x');
  while (true) {
    f.payload = payload;
    const std::size_t n = detail::body_size(f);
    if (n == body) return f;
    payload.resize(payload.size() - (n - body));
  }
}

TEST(Limits, PublishAtFrameLimitIsRefusedNotRelayedPastIt) {
  TempDir d;
  BrokerOptions o;
  o.max_frame_bytes = kMaxFrame;
  auto b = start_broker(d, o);
  ASSERT_TRUE(b);
  RawConn sub(d.sock()), pub(d.sock());
  sub.dec = detail::FrameDecoder(kMaxFrame);  // a subscriber with the broker's limit
  ASSERT_TRUE(sub.sub(1, "big") && sub.ping(1));
  ASSERT_EQ(sub.next()->op, detail::Op::pong);

  std::string payload;
  ASSERT_TRUE(pub.send(pub_of_body("big", payload, kMaxFrame)));  // legal PUB, MSG would be larger
  auto got = pub.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::err);
  EXPECT_TRUE(got->text.starts_with("message too large")) << got->text;

  // The largest accepted publish reaches the subscriber, which stays connected.
  detail::Frame ok = pub_of_body("big", payload, kMaxFrame - 11);
  ASSERT_EQ(detail::relayed_body_size(ok), kMaxFrame);
  ASSERT_TRUE(pub.send(ok));
  got = sub.next();
  ASSERT_TRUE(got) << "the subscriber lost its connection";
  EXPECT_EQ(got->op, detail::Op::msg);
  EXPECT_EQ(got->payload.size(), payload.size());
  ASSERT_TRUE(sub.ping(2));
  got = sub.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::pong);
}

TEST(Limits, ClientRefusesWhatTheRelayWouldNotFitAndReportsBrokerRefusal) {
  TempDir d;
  BrokerOptions o;
  o.max_frame_bytes = kMaxFrame;
  auto b = start_broker(d, o);
  ASSERT_TRUE(b);
  ClientOptions co;
  co.socket_path = d.sock();
  co.max_frame_bytes = kMaxFrame;
  auto c = Client::connect(co);
  ASSERT_TRUE(c);
  std::atomic<int> got{0};
  auto s = (*c)->subscribe("big", [&](const MessageView&) { ++got; });
  ASSERT_TRUE(s && (*c)->flush());
  // Body of a PUB on "big" with an n-byte payload: 2 (op) + 5 (subject) + 3 + n.
  const std::size_t at_limit = kMaxFrame - 2 - 5 - 3;
  auto r = (*c)->publish("big", std::string(at_limit, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::frame_too_large);
  ASSERT_TRUE((*c)->publish("big", std::string(at_limit - 11, 'x')));
  ASSERT_TRUE((*c)->flush());
  EXPECT_TRUE(eventually([&] { return got.load() == 1; }));
  EXPECT_TRUE((*c)->connected());

  // A client allowing larger frames than the broker: the broker refuses.
  co.max_frame_bytes = 2 * kMaxFrame;
  auto big = Client::connect(co);
  ASSERT_TRUE(big);
  ASSERT_TRUE((*big)->publish("big", std::string(at_limit, 'x')));
  auto f = (*big)->flush();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().category, ErrorCategory::frame_too_large) << f.error().to_string();
  EXPECT_TRUE((*c)->connected());
}

TEST(Limits, StatsReplyStaysWithinTheFrameLimit) {
  TempDir d;
  BrokerOptions o;
  o.max_frame_bytes = 16 * 1024;
  auto b = start_broker(d, o);
  ASSERT_TRUE(b);
  RawConn many(d.sock());
  const std::string pad(150, 's');
  for (std::uint64_t sid = 1; sid <= 300; ++sid) ASSERT_TRUE(many.sub(sid, pad + "." + std::to_string(sid)));
  ASSERT_TRUE(many.ping(1));
  auto got = many.next();
  ASSERT_TRUE(got);
  ASSERT_EQ(got->op, detail::Op::pong) << got->text;  // 300 subscriptions, ~75 KB of stats

  ClientOptions co;
  co.socket_path = d.sock();
  co.max_frame_bytes = o.max_frame_bytes;
  auto c = Client::connect(co);
  ASSERT_TRUE(c);
  auto s = (*c)->stats();
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_LE(s->size(), o.max_frame_bytes);
  const auto j = nlohmann::json::parse(*s);
  EXPECT_EQ(j["truncated"], true);
  EXPECT_EQ(j["connections"], 2);
  ASSERT_GE(j["conns"].size(), 1u);
  const auto listed = j["conns"][0]["subscriptions"].size();
  EXPECT_GT(listed, 10u);
  EXPECT_LT(listed, 300u);

  // A client that allows smaller frames than the broker sends is told why.
  co.max_frame_bytes = 4096;
  auto small = Client::connect(co);
  ASSERT_TRUE(small);
  s = (*small)->stats();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().category, ErrorCategory::frame_too_large) << s.error().to_string();
}

// Σ pending_bytes of the connection that has `sid` subscriptions.
std::uint64_t pending_of(const nlohmann::json& stats, std::size_t nsubs) {
  std::uint64_t sum = 0;
  for (const auto& c : stats["conns"])
    if (c["subscriptions"].size() == nsubs)
      for (const auto& s : c["subscriptions"]) sum += s["pending_bytes"].get<std::uint64_t>();
  return sum;
}

// Four subscriptions that never read, each allowed 8 MiB by its own bound:
// the connection and broker budgets hold the queues to 1 MiB.
void flood_non_reader(std::uint64_t per_conn, std::uint64_t total, Policy policy, bool expect_closed) {
  TempDir d;
  BrokerOptions o;
  o.max_queued_bytes_per_connection = per_conn;
  o.max_queued_bytes_total = total;
  auto b = start_broker(d, o);
  ASSERT_TRUE(b);
  RawConn idle(d.sock());
  for (std::uint64_t sid = 1; sid <= 4; ++sid) ASSERT_TRUE(idle.sub(sid, "flood", policy));
  ClientOptions co;
  co.socket_path = d.sock();
  auto c = Client::connect(co);
  ASSERT_TRUE(c);
  ASSERT_TRUE(eventually([&] {
    auto s = (*c)->stats();
    return s && nlohmann::json::parse(*s)["conns"][0]["subscriptions"].size() == 4;
  }));
  const std::string payload(1024, 'p');
  for (int i = 0; i < 8192; ++i) ASSERT_TRUE((*c)->publish("flood", payload));  // 32 MiB to the idle conn
  ASSERT_TRUE((*c)->flush());
  auto s = (*c)->stats();
  ASSERT_TRUE(s);
  const auto j = nlohmann::json::parse(*s);
  if (expect_closed) {
    EXPECT_TRUE(idle.closed_by_peer());
    EXPECT_GE(j["slow_consumer_disconnects"].get<int>(), 1);
    return;
  }
  EXPECT_LE(pending_of(j, 4), 1u << 20);
  EXPECT_GT(pending_of(j, 4), 0u);
  EXPECT_GT(j["dropped"].get<std::uint64_t>(), 0u);
}

TEST(Limits, ConnectionBudgetBoundsQueuedBytes) {
  flood_non_reader(1u << 20, 1ull << 30, Policy::drop_newest, false);
  flood_non_reader(1u << 20, 1ull << 30, Policy::drop_oldest, false);
}

TEST(Limits, BrokerBudgetBoundsQueuedBytes) { flood_non_reader(1ull << 30, 1u << 20, Policy::drop_newest, false); }

TEST(Limits, BudgetAppliesDisconnectPolicy) { flood_non_reader(1u << 20, 1ull << 30, Policy::disconnect, true); }

TEST(Limits, StatsNotTruncatedWhenSmall) {
  TempDir d;
  auto b = start_broker(d);
  ClientOptions co;
  co.socket_path = d.sock();
  auto c = Client::connect(co);
  ASSERT_TRUE(b && c);
  auto sub = (*c)->subscribe("a", [](const MessageView&) {});
  ASSERT_TRUE(sub && (*c)->flush());
  auto s = (*c)->stats();
  ASSERT_TRUE(s);
  const auto j = nlohmann::json::parse(*s);
  EXPECT_EQ(j["truncated"], false);
  EXPECT_EQ(j["conns"][0]["subscriptions"].size(), 1u);
}

}  // namespace
}  // namespace airssys::bus
