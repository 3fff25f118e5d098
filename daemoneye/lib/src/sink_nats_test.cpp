// The nats sink through the AlertPipeline against a real nats-server with
// JetStream (started by each test on 127.0.0.1 and a free port, its store
// in a temp dir; stopped by its pid): alerts arrive once each, in order,
// with their Nats-Msg-Id; an outage, a restart of the sink and a missing
// stream leave them in the spool until JetStream acks them; a spool write
// failure (osl::io fault injection) is reported.
#include <airssys/daemoneye/alert_pipeline.hpp>

#include <airssys/osl/file_io.hpp>

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "alert_test_util.hpp"
#include "nats_test_server.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::make_alert;
using testing::NatsClient;
using testing::NatsServer;
using testing::TempDir;

constexpr const char* kStream = "DAEMONEYE";

struct Logs {
  std::mutex mu;
  std::vector<std::string> lines;
  [[nodiscard]] bool contains(std::string_view text) {
    const std::lock_guard lock(mu);
    for (const auto& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
  [[nodiscard]] std::string all() {
    const std::lock_guard lock(mu);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

class NatsSinkTest : public ::testing::Test {
 protected:
  NatsSinkTest() : server_(tmp_.path() / "js", tmp_.path() / "nats-server.log") {}

  SinkConfig sink() const {
    SinkConfig s;
    s.type = SinkType::nats;
    s.url = server_.url();
    s.stream = kStream;
    s.spool_dir = tmp_.path() / "spool";
    s.timeout = 1s;
    return s;
  }

  std::unique_ptr<AlertPipeline> pipeline(SinkConfig s) {
    AlertsConfig c;
    c.sinks = {std::move(s)};
    auto p = AlertPipeline::create(c, nullptr, [this](std::string_view m) {
      const std::lock_guard lock(logs_.mu);
      logs_.lines.emplace_back(m);
    });
    EXPECT_TRUE(p) << p.error();
    return p ? std::move(*p) : nullptr;
  }

  void start_with_stream() {
    server_.start();
    NatsClient client(server_.url());
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client.add_stream(kStream, "daemoneye.alerts.>"));
  }

  std::vector<testing::StoredMsg> stored() {
    NatsClient client(server_.url());
    return client.messages(kStream);
  }

  static std::vector<std::string> pids_of(const std::vector<testing::StoredMsg>& msgs) {
    std::vector<std::string> out;
    for (const auto& m : msgs) {
      const auto at = m.data.find("\"pid\":");
      out.push_back(at == std::string::npos ? "?" : m.data.substr(at + 6, m.data.find(',', at) - at - 6));
    }
    return out;
  }

  TempDir tmp_;
  NatsServer server_;
  Logs logs_;
};

TEST_F(NatsSinkTest, EachAlertArrivesOnceWithItsJsonAndMsgId) {
  start_with_stream();
  auto p = pipeline(sink());
  const Alert a = make_alert("r1", 11);
  ASSERT_TRUE(p->submit({a, make_alert("r1", 12), make_alert("r2", 13)}, 1000));
  ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 3; }, 30s)) << logs_.all();
  const auto msgs = stored();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(pids_of(msgs), (std::vector<std::string>{"11", "12", "13"}));
  EXPECT_EQ(msgs[0].subject, "daemoneye.alerts.host-1");
  EXPECT_EQ(msgs[0].data, alert_to_json(a)) << "the file sink's JSON";
  EXPECT_EQ(msgs[0].msg_id, a.dedup_key + "|host-1|" + std::to_string(a.time));
  const AlertStats st = p->stats();
  EXPECT_EQ(st.nats_spooled, 0u);
  EXPECT_EQ(st.nats_published, 3u);
  EXPECT_EQ(st.sink_errors, 0u);
  EXPECT_EQ(testing::read_file(tmp_.path() / "spool" / "alerts.spool"), "") << "acked alerts leave the spool";
}

TEST_F(NatsSinkTest, ASecondCopyWithTheSameMsgIdIsDroppedByJetStream) {
  start_with_stream();
  const Alert a = make_alert("r1", 21);
  for (int round = 0; round < 2; ++round) {
    // A fresh pipeline has no dedup memory: the same alert is published
    // again, as after an ack lost in a crash.
    auto p = pipeline(sink());
    ASSERT_TRUE(p->submit({a}, 1000));
    ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 1; }, 30s)) << logs_.all();
  }
  EXPECT_EQ(stored().size(), 1u);
}

TEST_F(NatsSinkTest, AlertsRaisedDuringAnOutageArriveInOrderOnceItEnds) {
  start_with_stream();
  auto p = pipeline(sink());
  ASSERT_TRUE(p->submit({make_alert("r1", 1)}, 1000));
  ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 1; }, 30s)) << logs_.all();
  server_.stop();
  ASSERT_TRUE(p->submit({make_alert("r1", 2), make_alert("r1", 3)}, 1001));
  ASSERT_TRUE(p->submit({make_alert("r1", 4)}, 1002));
  EXPECT_EQ(p->stats().nats_spooled, 3u);
  server_.start();  // same store: the stream is still there
  ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 4; }, 60s)) << logs_.all();
  const auto msgs = stored();
  EXPECT_EQ(pids_of(msgs), (std::vector<std::string>{"1", "2", "3", "4"})) << "in order, no duplicates";
  EXPECT_EQ(p->stats().nats_spooled, 0u);
  EXPECT_GE(p->stats().nats_reconnects, 1u);
  // (Whether a publish failed meanwhile, and was logged, depends on how fast
  // the server came back: libnats holds a publish made while it reconnects.)
}

TEST_F(NatsSinkTest, ARestartedSinkReplaysItsSpool) {
  {
    // No server yet: the alerts wait in the spool when the sink stops.
    auto p = pipeline(sink());
    ASSERT_TRUE(p->submit({make_alert("r1", 31), make_alert("r1", 32)}, 1000));
    EXPECT_EQ(p->stats().nats_spooled, 2u);
    EXPECT_EQ(p->stats().nats_acked, 0u);
  }
  start_with_stream();
  auto p = pipeline(sink());
  EXPECT_TRUE(logs_.contains("replaying 2 alerts")) << logs_.all();
  ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 2; }, 30s)) << logs_.all();
  EXPECT_EQ(pids_of(stored()), (std::vector<std::string>{"31", "32"}));
}

TEST_F(NatsSinkTest, WithoutTheStreamAlertsWaitAndTheLogSaysWhy) {
  server_.start();  // JetStream on, but no stream
  auto p = pipeline(sink());
  ASSERT_TRUE(p->submit({make_alert("r1", 41)}, 1000));
  ASSERT_TRUE(eventually([&] { return logs_.contains("no JetStream stream takes subject daemoneye.alerts.host-1"); },
                         30s))
      << logs_.all();
  EXPECT_EQ(p->stats().nats_spooled, 1u);
  EXPECT_GE(p->stats().sink_errors, 1u);
  NatsClient client(server_.url());
  ASSERT_TRUE(client.add_stream(kStream, "daemoneye.alerts.>"));
  ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 1; }, 30s)) << logs_.all();
  EXPECT_TRUE(logs_.contains("works again")) << logs_.all();
}

// A run of failures is logged once, but a new cause within it is logged
// too: an operator who starts the server after the agent must hear that the
// stream is missing, not only the first line's "not connected" (before,
// the missing stream was never logged in this order).
TEST_F(NatsSinkTest, AServerThatComesBackWithoutTheStreamIsLoggedAsSuch) {
  auto p = pipeline(sink());  // no server yet
  ASSERT_TRUE(p->submit({make_alert("r1", 45)}, 1000));
  ASSERT_TRUE(eventually([&] { return logs_.contains("not connected: no server answers"); }, 30s)) << logs_.all();
  server_.start();  // JetStream on, but no stream
  ASSERT_TRUE(eventually([&] { return logs_.contains("still failing, now: no JetStream stream takes subject "
                                                     "daemoneye.alerts.host-1"); },
                         60s))
      << logs_.all();
  NatsClient client(server_.url());
  ASSERT_TRUE(client.add_stream(kStream, "daemoneye.alerts.>"));
  ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 1; }, 30s)) << logs_.all();
  EXPECT_TRUE(logs_.contains("works again")) << logs_.all();
  const std::string all = logs_.all();
  std::size_t not_connected = 0;
  for (std::size_t at = all.find("not connected"); at != std::string::npos; at = all.find("not connected", at + 1)) {
    ++not_connected;
  }
  EXPECT_EQ(not_connected, 1u) << "one line for the outage's first cause, however often it failed\n" << all;
}

TEST_F(NatsSinkTest, ASpoolWriteFailureIsReportedAndTheAlertStillSent) {
  start_with_stream();
  auto p = pipeline(sink());
  {
    osl::io::FaultInjection faults;
    faults.add({.call = osl::io::FileCall::write, .path_contains = "alerts.spool", .error = ENOSPC});
    ASSERT_TRUE(p->submit({make_alert("r1", 51)}, 1000));
    EXPECT_EQ(faults.fired(), 1);
  }
  EXPECT_EQ(p->stats().sink_errors, 1u);
  EXPECT_TRUE(logs_.contains("kept in memory only")) << logs_.all();
  EXPECT_TRUE(logs_.contains("No space left on device")) << logs_.all();
  ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 1; }, 30s)) << logs_.all();
  EXPECT_EQ(stored().size(), 1u);
}

TEST_F(NatsSinkTest, AnAlertTooLargeForTheServerIsDroppedAndDoesNotHoldTheOthers) {
  start_with_stream();
  auto p = pipeline(sink());
  Alert big = make_alert("r1", 71);
  big.row_json = "{\"pid\":71,\"blob\":\"" + std::string(2 * 1024 * 1024, 'x') + "\"}";  // nats-server: 1 MiB max
  ASSERT_TRUE(p->submit({big, make_alert("r1", 72)}, 1000));
  ASSERT_TRUE(eventually([&] { return p->stats().nats_acked == 1; }, 30s)) << logs_.all();
  EXPECT_EQ(pids_of(stored()), (std::vector<std::string>{"72"}));
  EXPECT_EQ(p->stats().nats_dropped, 1u);
  EXPECT_EQ(p->stats().nats_spooled, 0u);
  EXPECT_TRUE(logs_.contains("is larger than the server or stream DAEMONEYE accepts; dropped")) << logs_.all();
}

TEST_F(NatsSinkTest, AnUnsafeSpoolDirectoryFailsTheSinkAtStart) {
  SinkConfig s = sink();
  std::filesystem::create_directories(s.spool_dir);
  std::filesystem::permissions(s.spool_dir, std::filesystem::perms::all);
  AlertsConfig c;
  c.sinks = {s};
  auto p = AlertPipeline::create(c, nullptr, nullptr);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().category, ErrorCategory::denied);
  EXPECT_NE(p.error().message.find("alerts.sinks #1: nats sink: spool"), std::string::npos) << p.error();
}

TEST(NatsSinkAuth, ATokenIsSentAndNeverLogged) {
  TempDir tmp;
  const std::string token = "tok-7f3a9c";
  NatsServer server(tmp.path() / "js", tmp.path() / "nats-server.log", {"--auth", token});
  server.start();
  const std::string with_token = "nats://" + token + "@127.0.0.1:" + std::to_string(server.port());
  {
    NatsClient client(with_token);
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client.add_stream(kStream, "daemoneye.alerts.>"));
  }
  Logs logs;
  const auto run = [&](const std::string& sink_token, int pid) {
    SinkConfig s;
    s.type = SinkType::nats;
    s.url = server.url();
    s.stream = kStream;
    s.token = sink_token;
    s.timeout = 1s;
    s.spool_dir = tmp.path() / "spool";
    AlertsConfig c;
    c.sinks = {s};
    auto p = AlertPipeline::create(c, nullptr, [&](std::string_view m) {
      const std::lock_guard lock(logs.mu);
      logs.lines.emplace_back(m);
    });
    EXPECT_TRUE(p) << p.error();
    if (!p) return std::unique_ptr<AlertPipeline>();
    EXPECT_TRUE((*p)->submit({make_alert("r1", pid)}, 1000));
    return std::move(*p);
  };
  {
    auto wrong = run("not-the-token", 81);
    ASSERT_TRUE(eventually([&] { return logs.contains("retrying"); }, 30s)) << logs.all();
    EXPECT_EQ(wrong->stats().nats_acked, 0u);
  }  // stays spooled
  auto right = run(token, 82);
  ASSERT_TRUE(eventually([&] { return right->stats().nats_acked == 2; }, 30s)) << logs.all();
  NatsClient client(with_token);
  EXPECT_EQ(client.messages(kStream).size(), 2u);
  EXPECT_FALSE(logs.contains(token)) << logs.all();
  EXPECT_FALSE(logs.contains("not-the-token")) << logs.all();
}

TEST_F(NatsSinkTest, CredentialsNeverReachTheLog) {
  SinkConfig s = sink();
  s.url = "nats://agent:s3cret-pw@127.0.0.1:" + std::to_string(server_.port());
  auto p = pipeline(s);  // no server: "not reachable yet" names the URL
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->submit({make_alert("r1", 61)}, 1000));
  ASSERT_TRUE(eventually([&] { return logs_.contains("retrying"); }, 30s)) << logs_.all();
  EXPECT_TRUE(logs_.contains("nats://127.0.0.1:")) << logs_.all();
  EXPECT_FALSE(logs_.contains("s3cret-pw")) << logs_.all();
}

}  // namespace
}  // namespace airssys::daemoneye
