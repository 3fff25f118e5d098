// EventForwarder against a real nats-server with JetStream (started by each
// test on 127.0.0.1, stopped by its pid): process events arrive in order,
// once each, with the host in their JSON and their Nats-Msg-Id; events
// forwarded while the server is down arrive once it is back; a storm past
// spool.max_size drops the oldest and counts them, and forward() never waits
// for NATS.
#include <airssys/daemoneye/event_forwarder.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "nats_test_server.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;
using ::airssys::testing::eventually;
using testing::NatsClient;
using testing::NatsServer;
using testing::TempDir;

constexpr const char* kStream = "DAEMONEYE_EVENTS";

ProcessEvent event(EventKind kind, std::int64_t pid) {
  ProcessEvent e;
  e.kind = kind;
  e.source = EventSource::ebpf;
  e.time = 1'700'000'000 + pid;
  e.time_ns = e.time * 1'000'000'000 + pid;
  e.process.pid = pid;
  e.process.name = "p" + std::to_string(pid);
  e.process.cmdline = "/bin/p" + std::to_string(pid) + " --flag";
  return e;
}

std::vector<ProcessEvent> events(std::int64_t from, std::int64_t to) {
  std::vector<ProcessEvent> out;
  for (std::int64_t pid = from; pid <= to; ++pid) out.push_back(event(EventKind::start, pid));
  return out;
}

class EventForwarderTest : public ::testing::Test {
 protected:
  EventForwarderTest() : server_(tmp_.path() / "js", tmp_.path() / "nats-server.log") {}

  SinkConfig config() const {
    SinkConfig s;
    s.type = SinkType::nats;
    s.url = server_.url();
    s.subject = "daemoneye.events.{host}";
    s.stream = kStream;
    s.spool_dir = tmp_.path() / "spool";
    s.timeout = 1s;
    return s;
  }

  std::unique_ptr<EventForwarder> open(SinkConfig c) {
    auto f = EventForwarder::open(c, "host-1.example", [this](std::string_view m) {
      const std::lock_guard lock(mu_);
      logs_ += std::string(m) + "\n";
    });
    EXPECT_TRUE(f) << f.error();
    return f ? std::move(*f) : nullptr;
  }

  void start_with_stream() {
    server_.start();
    NatsClient client(server_.url());
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client.add_stream(kStream, "daemoneye.events.>"));
  }

  // The pid of every stored message, in stream order.
  std::vector<std::int64_t> stored_pids() {
    NatsClient client(server_.url());
    std::vector<std::int64_t> out;
    for (const auto& m : client.messages(kStream)) {
      const auto at = m.data.find("\"pid\":");
      out.push_back(at == std::string::npos ? -1 : std::stoll(m.data.substr(at + 6)));
    }
    return out;
  }

  std::string logs() {
    const std::lock_guard lock(mu_);
    return logs_;
  }

  TempDir tmp_;
  NatsServer server_;
  std::mutex mu_;
  std::string logs_;
};

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

TEST_F(EventForwarderTest, EventsArriveInOrderOnceEachWithHostAndMsgId) {
  start_with_stream();
  auto f = open(config());
  const ProcessEvent exec = event(EventKind::exec, 7);
  f->forward(events(1, 3));
  f->forward(std::vector<ProcessEvent>{exec});
  ASSERT_TRUE(eventually([&] { return f->stats().acked == 4; }, 30s)) << logs();
  NatsClient client(server_.url());
  const auto msgs = client.messages(kStream);
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(stored_pids(), (std::vector<std::int64_t>{1, 2, 3, 7}));
  EXPECT_EQ(msgs[3].subject, "daemoneye.events.host-1_example");
  EXPECT_EQ(msgs[3].data, event_message_json(exec, "host-1.example"));
  EXPECT_TRUE(msgs[3].data.starts_with("{\"host\":\"host-1.example\",\"event\":\"exec\",")) << msgs[3].data;
  EXPECT_EQ(msgs[3].msg_id, event_message_id(exec, "host-1.example", msgs[3].data));
  EXPECT_TRUE(msgs[3].msg_id.starts_with("host-1.example|exec|7|")) << msgs[3].msg_id;
  const auto st = f->stats();
  EXPECT_EQ(st.spooled, 0u);
  EXPECT_EQ(st.dropped, 0u);
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(testing::read_file(tmp_.path() / "spool" / "events.spool"), "") << "acked events leave the spool";
}

TEST_F(EventForwarderTest, TwoEventsThatDifferOnlyInOneFieldHaveDifferentIds) {
  ProcessEvent a = event(EventKind::start, 5);
  ProcessEvent b = a;
  b.time_ns += 1;
  EXPECT_NE(event_message_id(a, "h", event_message_json(a, "h")), event_message_id(b, "h", event_message_json(b, "h")));
  EXPECT_EQ(event_message_id(a, "h", event_message_json(a, "h")), event_message_id(a, "h", event_message_json(a, "h")));
}

TEST_F(EventForwarderTest, EventsOfAnOutageArriveInOrderOnceItEndsAndARestartSendsNoCopy) {
  start_with_stream();
  {
    auto f = open(config());
    f->forward(events(1, 10));
    ASSERT_TRUE(eventually([&] { return f->stats().acked == 10; }, 30s)) << logs();
    server_.stop();
    f->forward(events(11, 40));
    f->forward(events(41, 60));
    EXPECT_EQ(f->stats().spooled, 50u);
    server_.start();  // same store: the stream is still there
    ASSERT_TRUE(eventually([&] { return f->stats().acked == 60; }, 60s)) << logs();
    EXPECT_GE(f->stats().reconnects, 1u);
  }
  // The same events again (as after acks lost in a crash): JetStream drops the copies.
  auto again = open(config());
  again->forward(events(50, 60));
  ASSERT_TRUE(eventually([&] { return again->stats().acked == 11; }, 30s)) << logs();
  EXPECT_EQ(stored_pids(), range(1, 60));
}

TEST_F(EventForwarderTest, DrainWaitsForTheSpoolToEmptyAndGivesUpWithoutAServer) {
  start_with_stream();
  {
    auto f = open(config());
    f->forward(events(1, 200));
    // No wait for the acks before: drain itself waits (bounded far above what 200 acks take).
    EXPECT_EQ(f->drain(60s), 0u) << logs();
    EXPECT_EQ(f->stats().acked, 200u);
    EXPECT_EQ(stored_pids(), range(1, 200));
  }
  server_.stop();
  auto f = open(config());
  f->forward(events(201, 205));
  // Nothing can move: drain returns once a second passes without progress, the events still spooled.
  EXPECT_EQ(f->drain(60s), 5u);
  EXPECT_EQ(f->stats().spooled, 5u);
}

TEST_F(EventForwarderTest, EventsLeftInTheSpoolAreSentByTheNextStart) {
  {
    auto f = open(config());  // no server: they wait
    f->forward(events(1, 5));
    EXPECT_EQ(f->stats().spooled, 5u);
  }
  start_with_stream();
  auto f = open(config());
  EXPECT_NE(logs().find("replaying 5 events"), std::string::npos) << logs();
  ASSERT_TRUE(eventually([&] { return f->stats().acked == 5; }, 30s)) << logs();
  EXPECT_EQ(stored_pids(), range(1, 5));
}

TEST_F(EventForwarderTest, AStormPastTheSpoolBoundDropsTheOldestAndCountsThem) {
  SinkConfig c = config();
  c.spool_max_size = 1024 * 1024;  // the config's minimum
  auto f = open(c);                // the server is down: everything waits in the spool
  constexpr std::int64_t kEvents = 3000;  // about three spools full
  for (std::int64_t from = 1; from <= kEvents; from += 250) f->forward(events(from, from + 249));
  const auto st = f->stats();
  EXPECT_GT(st.dropped, 0u);
  EXPECT_EQ(st.dropped + st.spooled, static_cast<std::uint64_t>(kEvents));
  EXPECT_NE(logs().find("spool full (spool.max_size); dropped the"), std::string::npos) << logs();
  start_with_stream();
  ASSERT_TRUE(eventually([&] { return f->stats().spooled == 0; }, 120s)) << logs();
  EXPECT_EQ(stored_pids(), range(kEvents - static_cast<std::int64_t>(st.spooled) + 1, kEvents)) << "the newest, in order";
}

}  // namespace
}  // namespace airssys::daemoneye
