// daemoneye-agent with a nats sink, end to end: the real agent and procmond
// on a temporary config, a real nats-server -js on 127.0.0.1 (started and
// stopped by pid here); a planted process that a test rule matches must
// arrive in the JetStream stream, and the alert raised while the server is
// down must arrive after the agent is restarted on the same spool. With
// events.nats, process events reach their stream once each, also those of
// a process that started and ended during an outage, in order.

#include "harness.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include <set>

#include <fmt/format.h>

#include "../lib/src/nats_test_server.hpp"

namespace detest {
namespace {

constexpr const char* kStream = "DAEMONEYE";

// AgentDir's layout; config.yaml with a nats sink instead of the file sink.
struct NatsAgentFixture : AgentDir {
  std::string marker = fmt::format("de-nats-{}-{}", ::getpid(), ::testing::UnitTest::GetInstance()->random_seed());
  airssys::daemoneye::testing::NatsServer server{dir.path() / "js", dir.path() / "nats-server.log"};

  NatsAgentFixture() {
    write_file(config, fmt::format(R"(database: {{ path: {0}/daemoneye.db }}
scan: {{ interval: 500ms }}
rules: {{ dir: {1} }}
host: web1.example.com
alerts:
  sinks:
    - type: nats
      url: {2}
      stream: {3}
      timeout: 1s
      spool: {{ dir: {0}/nats-spool }}
)",
                                   var.string(), rules.string(), server.url(), kStream));
    write_file(rules / "test-marker.yaml",
               fmt::format("id: test-marker\nname: Test rule\nseverity: high\ntags: [test]\n"
                           "query: \"SELECT pid, name, path, start_time FROM processes WHERE path LIKE '%{}%'\"\n",
                           marker));
  }

  std::unique_ptr<Child> plant(const std::string& suffix) {
    fs::path exe = dir.path() / (marker + suffix);
    fs::copy_file("/bin/sleep", exe, fs::copy_options::overwrite_existing);
    fs::permissions(exe, fs::perms::owner_all);
    return std::make_unique<Child>(std::vector<std::string>{exe.string(), "600"});
  }

  // The pids of the alerts in the stream, in stream order.
  std::vector<long> stored_pids(std::vector<airssys::daemoneye::testing::StoredMsg>* all = nullptr) {
    airssys::daemoneye::testing::NatsClient client(server.url());
    std::vector<long> pids;
    for (auto& m : client.messages(kStream)) {
      const auto j = nlohmann::json::parse(m.data, nullptr, false);
      if (!j.is_discarded()) pids.push_back(j["row"].value("pid", -1L));
      if (all) all->push_back(std::move(m));
    }
    return pids;
  }
};

bool contains(const std::vector<long>& v, long x) { return std::find(v.begin(), v.end(), x) != v.end(); }

TEST(AgentNats, AlertsReachTheStreamAndOnesRaisedDuringAnOutageFollowAfterARestart) {
  NatsAgentFixture f;
  f.server.start();
  {
    airssys::daemoneye::testing::NatsClient client(f.server.url());
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client.add_stream(kStream, "daemoneye.alerts.>"));
  }
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  auto first = f.plant("-a");
  ASSERT_TRUE(eventually([&] { return contains(f.stored_pids(), first->pid()); }))
      << "agent log:\n" << slurp(f.log);
  std::vector<airssys::daemoneye::testing::StoredMsg> msgs;
  (void)f.stored_pids(&msgs);
  // The rule's alert (the start's tree head, rule daemoneye.ledger, goes first).
  const auto marker = std::ranges::find_if(msgs, [](const auto& m) { return m.msg_id.starts_with("test-marker|"); });
  ASSERT_NE(marker, msgs.end());
  EXPECT_EQ(marker->subject, "daemoneye.alerts.web1_example_com");
  EXPECT_NE(marker->msg_id.find("|web1.example.com|"), std::string::npos) << marker->msg_id;

  // NATS goes away; an alert is raised meanwhile; the agent stops with it spooled.
  f.server.stop();
  auto second = f.plant("-b");
  const fs::path spool = f.var / "nats-spool" / "alerts.spool";
  ASSERT_TRUE(eventually([&] { return slurp(spool).find(fmt::format("\"pid\":{}", second->pid())) != std::string::npos; }))
      << slurp(f.log);
  agent->signal(SIGTERM);
  auto rc = agent->wait();
  ASSERT_TRUE(rc.has_value()) << slurp(f.log);
  EXPECT_EQ(*rc, 0) << slurp(f.log);

  f.server.start();
  auto restarted = f.start_agent();
  ASSERT_TRUE(eventually([&] { return contains(f.stored_pids(), second->pid()); })) << "agent log:\n" << slurp(f.log);
  // The alert and the stop's tree head, spooled while NATS was away (and the
  // start's tree head when it reached the spool before the sender started).
  const std::string restart_log = slurp(f.log);
  EXPECT_TRUE(restart_log.find("replaying 2 alerts") != std::string::npos ||
              restart_log.find("replaying 3 alerts") != std::string::npos)
      << restart_log;
  const auto pids = f.stored_pids();
  EXPECT_EQ(std::count(pids.begin(), pids.end(), static_cast<long>(first->pid())), 1) << "no duplicates";
  EXPECT_EQ(std::count(pids.begin(), pids.end(), static_cast<long>(second->pid())), 1) << "no duplicates";
  // The status file carries the sink's counters (this run: the replayed alert acked).
  ASSERT_TRUE(eventually([&] {
    const auto j = nlohmann::json::parse(slurp(f.var / "status.json"), nullptr, false);
    return !j.is_discarded() && j["alerts"].contains("nats") && j["alerts"]["nats"].value("acked", 0) >= 1 &&
           j["alerts"]["nats"].value("spooled", -1) == 0;
  })) << slurp(f.var / "status.json");
  restarted->signal(SIGTERM);
  EXPECT_TRUE(restarted->wait().has_value());
}

constexpr const char* kEventStream = "DAEMONEYE_EVENTS";

struct StoredEvent {
  std::string event, path, msg_id;
  long pid = -1;
};

// Every message in the events stream, in stream order.
std::vector<StoredEvent> stored_events(const std::string& url) {
  airssys::daemoneye::testing::NatsClient client(url);
  std::vector<StoredEvent> out;
  for (const auto& m : client.messages(kEventStream)) {
    const auto j = nlohmann::json::parse(m.data, nullptr, false);
    if (j.is_discarded() || !j.contains("process")) continue;
    out.push_back({j.value("event", ""), j["process"].value("path", ""), m.msg_id, j["process"].value("pid", -1L)});
  }
  return out;
}

// The exec and stop events of `pid`, in stream order ("exec stop"). By pid,
// not path: a start event carries the parent's image (fork before exec).
std::string exec_and_stop_of(const std::vector<StoredEvent>& evs, long pid) {
  std::string kinds;
  for (const auto& e : evs) {
    if (e.pid != pid || (e.event != "exec" && e.event != "stop")) continue;
    kinds += kinds.empty() ? e.event : " " + e.event;
  }
  return kinds;
}

// status.json's events.nats counter `key` (-1 while absent).
long events_counter(const fs::path& status, const char* key) {
  const auto j = nlohmann::json::parse(slurp(status), nullptr, false);
  if (j.is_discarded() || !j.contains("events")) return -1;
  return j["events"]["nats"].value(key, -1L);
}

TEST(AgentNats, ProcessEventsReachTheStreamOnceEachAlsoAcrossAnOutage) {
  NatsAgentFixture f;
  write_file(f.config, slurp(f.config) + fmt::format(R"(events:
  nats:
    url: {0}
    stream: {1}
    timeout: 1s
    spool: {{ dir: {2}/events-spool }}
)",
                                                     f.server.url(), kEventStream, f.var.string()));
  f.server.start();
  {
    airssys::daemoneye::testing::NatsClient client(f.server.url());
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client.add_stream(kStream, "daemoneye.alerts.>"));
    ASSERT_TRUE(client.add_stream(kEventStream, "daemoneye.events.>"));
  }
  const fs::path status = f.var / "status.json";
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  auto first = f.plant("-e1");
  ASSERT_TRUE(eventually([&] { return events_counter(status, "acked") > 0; })) << slurp(f.log) << slurp(status);

  // The server goes away; processes start and end meanwhile: their events wait in the spool.
  f.server.stop();
  first->signal(SIGKILL);
  (void)first->wait();
  auto second = f.plant("-e2");
  const long second_pid = second->pid();
  second->signal(SIGKILL);
  (void)second->wait();
  ASSERT_TRUE(eventually([&] { return events_counter(status, "spooled") > 0; })) << slurp(f.log) << slurp(status);
  f.server.start();  // same store: the streams are still there
  ASSERT_TRUE(eventually([&] {
    return events_counter(status, "spooled") == 0 && events_counter(status, "reconnects") >= 1;
  })) << slurp(f.log) << slurp(status);
  // The process that lived only during the outage: its exec, then its stop.
  ASSERT_TRUE(eventually([&] { return exec_and_stop_of(stored_events(f.server.url()), second_pid) == "exec stop"; }))
      << "got \"" << exec_and_stop_of(stored_events(f.server.url()), second_pid) << "\" for pid " << second_pid
      << "\n" << slurp(f.log);
  for (const auto& e : stored_events(f.server.url())) {
    if (e.pid == second_pid && e.event == "exec") {
      EXPECT_TRUE(e.path.ends_with(f.marker + "-e2")) << e.path;
    }
  }
  agent->signal(SIGTERM);
  auto rc = agent->wait();
  ASSERT_TRUE(rc.has_value()) << slurp(f.log);
  EXPECT_EQ(*rc, 0) << slurp(f.log);

  // Every acked event is in the stream once, and the stream holds nothing
  // else but what was still spooled when the agent stopped (a publish the
  // server stored but whose ack the stop cut short; the agent waits for the
  // spool to empty, so this is normally none). The counters are the final
  // status file's, written after that wait.
  const auto evs = stored_events(f.server.url());
  const long acked = events_counter(status, "acked");
  const long spooled = events_counter(status, "spooled");
  EXPECT_GE(static_cast<long>(evs.size()), acked) << slurp(status);
  EXPECT_LE(static_cast<long>(evs.size()), acked + spooled) << slurp(status) << slurp(f.log);
  EXPECT_EQ(events_counter(status, "dropped"), 0);
  std::set<std::string> ids;
  for (const auto& e : evs) EXPECT_TRUE(ids.insert(e.msg_id).second) << "twice in the stream: " << e.msg_id;
  airssys::daemoneye::testing::NatsClient client(f.server.url());
  const auto msgs = client.messages(kEventStream);
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs[0].subject, "daemoneye.events.web1_example_com");
  EXPECT_TRUE(msgs[0].msg_id.starts_with("web1.example.com|")) << msgs[0].msg_id;
  EXPECT_TRUE(msgs[0].data.starts_with("{\"host\":\"web1.example.com\",")) << msgs[0].data;
}

}  // namespace
}  // namespace detest
