// The real daemoneye-agent, a Sigma rule and real processes:
//
// - probe finding 3: 20 decoys that match a Sigma rule whose rate limit is
//   5, then the real one. Before, the 15 over the limit and the real one
//   were dropped for good (the rule's mark moved past their events); now
//   the rate limit's summary alerts tell every one held back, count them,
//   give the range of their event ids and carry the real one in their
//   sample (the decoys differ only in a number: one sample holds them all).
// - probe finding 4: an exec chain (one pid, one start time, two command
//   lines that match) raises two alerts, not one.
// - session 14: alerts held back after the first summary, when the agent is
//   killed (SIGKILL) before the period ends, are told by the next start,
//   once; and a process event procmond publishes again (after a publish the
//   bus took only in part) raises no second alert.
//
// Each process sleeps a second, so the polling tier sees it too when the
// kernel's event sources are not available.

#include "harness.hpp"
#include "store_query.hpp"

#include <airssys/bus/client.hpp>
#include <airssys/daemoneye/collector.hpp>
#include <airssys/daemoneye/events.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>

namespace detest {
namespace {

class AgentAlertFlood : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [id, mark] : {std::pair{"flood-marker", flood}, std::pair{"chain-marker", chain},
                                   std::pair{"republish-marker", republish}}) {
      write_marker_rule(ad.rules / (std::string(id) + ".yml"), id, id, mark);
    }
    write_file(ad.config, "database: { path: " + ad.var.string() + "/daemoneye.db }\nscan: { interval: 500ms }\n" +
                              "rules: { dir: " + ad.rules.string() + " }\n" +
                              "alerts:\n  rate_limit: 5\n  rate_period: 1h\n  sinks:\n    - { type: file, path: " +
                              ad.alerts.string() + ", format: json }\n");
  }

  std::int64_t events_with(const std::string& text) {
    return count_rows(db, fmt::format("SELECT count(*) FROM process_events WHERE cmdline LIKE '%{}%' AND "
                                      "(event = 'exec' OR (event = 'start' AND source = 'poll'))",
                                      text));
  }
  static bool is_summary(const nlohmann::json& a) {
    const auto& tags = a["tags"];
    return std::ranges::find(tags, nlohmann::json("daemoneye.rate_limited")) != tags.end();
  }
  void stop(Child& agent) { stop_agent(agent, ad.log); }
  // The agent started again on the same state: running once it says so.
  std::unique_ptr<Child> start_again() {
    const auto runs = [&] {
      const std::string log = slurp(ad.log);
      std::size_t n = 0;
      for (auto at = log.find("agent running:"); at != std::string::npos; at = log.find("agent running:", at + 1)) ++n;
      return n;
    };
    const std::size_t before = runs();
    auto a = ad.start_agent();
    EXPECT_TRUE(eventually([&] { return runs() > before; }, 60s)) << slurp(ad.log);
    return a;
  }
  // `n` decoys at once, each `sh -c "sleep 1; : <text>N <flood>"`, waited for.
  void decoys(int n, const std::string& text) {
    std::vector<std::unique_ptr<Child>> all;
    for (int i = 1; i <= n; ++i)
      all.push_back(std::make_unique<Child>(std::vector<std::string>{
          "/bin/sh", "-c", fmt::format("sleep 1; : {}{} {} /dev/tcp/10.0.0.1/1", text, i, flood)}));
    for (auto& d : all) EXPECT_TRUE(d->wait(60s).has_value());
  }
  // The flood rule's mark is stored past every matching event stored so far
  // (the scan that read them committed, with what the rate limit held back).
  bool flood_read() {
    const std::int64_t newest = count_rows(
        db, fmt::format("SELECT max(id) FROM process_events WHERE cmdline LIKE '%{}%'", flood));
    return newest > 0 &&
           count_rows(db, "SELECT covered FROM sigma_marks WHERE rule_id = 'flood-marker'") >= newest;
  }
  std::int64_t summaries_of_flood() {
    return static_cast<std::int64_t>(std::ranges::count_if(ad.alerts_of("flood-marker"), is_summary));
  }
  // 6 decoys over a limit of 5 (5 raised, the first held back told at once),
  // then 4 more within the hour's period: held back, not told yet; then
  // SIGKILL (procmond goes with the agent).
  void hold_back_and_kill() {
    auto agent = ad.start_agent_scanned();
    decoys(6, "decoy");
    ASSERT_TRUE(eventually([&] { return events_with(flood) >= 6 && flood_read() && summaries_of_flood() == 1; }, 60s))
        << slurp(ad.log) << slurp(ad.alerts);
    decoys(4, "later");
    ASSERT_TRUE(eventually([&] { return events_with("later_ " + flood) >= 4 && flood_read(); }, 60s)) << slurp(ad.log);
    ASSERT_EQ(summaries_of_flood(), 1) << slurp(ad.alerts);
    std::vector<pid_t> procmond = children_named(agent->pid(), "procmond");
    agent->signal(SIGKILL);
    ASSERT_TRUE(agent->wait(60s).has_value());
    for (pid_t p : procmond)
      EXPECT_TRUE(eventually([&] { return ::kill(p, 0) != 0; })) << "procmond " << p << " outlived the agent";
  }

  AgentDir ad;
  const std::string flood = fmt::format("airssys-flood-{}", ::getpid());
  const std::string chain = fmt::format("airssys-chain-{}", ::getpid());
  const std::string republish = fmt::format("airssys-republish-{}", ::getpid());
  const fs::path db = ad.var / "daemoneye.db";
};

TEST_F(AgentAlertFlood, TheRealEventBehindDecoysOverTheRateLimitIsToldNotLost) {
  auto agent = ad.start_agent_scanned();
  {
    std::vector<std::unique_ptr<Child>> decoys;
    for (int i = 1; i <= 20; ++i)
      decoys.push_back(std::make_unique<Child>(std::vector<std::string>{
          "/bin/sh", "-c", fmt::format("sleep 1; : decoy{} {} /dev/tcp/10.0.0.1/1", i, flood)}));
    for (auto& d : decoys) EXPECT_TRUE(d->wait(60s).has_value());
  }
  ASSERT_TRUE(eventually([&] { return events_with(flood) >= 20; }, 60s)) << slurp(ad.log);
  Child real({"/bin/sh", "-c", fmt::format("sleep 1; : REAL-ATTACK {} /dev/tcp/10.6.6.6/4444", flood)});
  ASSERT_TRUE(real.wait(60s).has_value());
  ASSERT_TRUE(eventually([&] { return events_with("REAL-ATTACK " + flood) >= 1; }, 60s)) << slurp(ad.log);
  const std::int64_t events = events_with(flood);
  // Read by a scan (the stored mark past it), then the stop tells what is held back.
  ASSERT_TRUE(eventually([&] {
    return count_rows(db, "SELECT covered FROM sigma_marks WHERE rule_id = 'flood-marker'") >=
           count_rows(db, fmt::format("SELECT max(id) FROM process_events WHERE cmdline LIKE '%REAL-ATTACK {}%'", flood));
  }, 60s)) << slurp(ad.log);
  stop(*agent);

  const auto alerts = ad.alerts_of("flood-marker");
  std::int64_t plain = 0, held = 0;
  bool real_told = false;
  for (const auto& a : alerts) {
    if (!is_summary(a)) {
      ++plain;
      real_told |= a["row"].value("cmdline", "").find("REAL-ATTACK") != std::string::npos;
      continue;
    }
    held += a["row"]["rate_limited"].get<std::int64_t>();
    EXPECT_NE(a.value("rule_name", "").find("rate limit reached for rule flood-marker: "), std::string::npos) << a;
    EXPECT_LE(a["row"]["first_event_id"].get<std::int64_t>(), a["row"]["last_event_id"].get<std::int64_t>());
    for (const auto& row : a["row"]["sample"])
      real_told |= row.value("cmdline", "").find("REAL-ATTACK") != std::string::npos;
  }
  EXPECT_EQ(plain, 5) << slurp(ad.alerts);
  EXPECT_EQ(plain + held, events) << "every matching event is raised or counted in a summary\n" << slurp(ad.alerts);
  EXPECT_TRUE(real_told) << "the real one is in no alert and no summary's sample\n" << slurp(ad.alerts);
  // In the store too, under the rule's id.
  EXPECT_GE(count_rows(db, "SELECT count(*) FROM alerts WHERE rule_id = 'flood-marker' AND tags LIKE "
                           "'%daemoneye.rate_limited%'"),
            1);
}

TEST_F(AgentAlertFlood, AnExecChainInOneProcessRaisesOneAlertPerExec) {
  auto agent = ad.start_agent_scanned();
  // One pid: the shell matches, then execs bash (another binary, so polling
  // sees the exec too), which matches again.
  Child c({"/bin/sh", "-c", fmt::format("sleep 1; : harmless {0} /dev/tcp/127.0.0.1/80; exec /bin/bash -c "
                                        "\": STAGE2-PAYLOAD {0} /dev/tcp/10.6.6.6/4444; sleep 1\"",
                                        chain)});
  const pid_t pid = c.pid();
  ASSERT_TRUE(c.wait(60s).has_value());
  ASSERT_TRUE(eventually([&] { return ad.alerts_of("chain-marker").size() >= 2; }, 60s))
      << slurp(ad.log) << slurp(ad.alerts);
  const auto alerts = ad.alerts_of("chain-marker");
  ASSERT_EQ(alerts.size(), 2u) << slurp(ad.alerts);
  EXPECT_EQ(alerts[0]["row"]["pid"], pid);
  EXPECT_EQ(alerts[1]["row"]["pid"], pid);
  EXPECT_NE(alerts[0]["dedup_key"], alerts[1]["dedup_key"]);
  EXPECT_NE(alerts[1]["row"].value("cmdline", "").find("STAGE2-PAYLOAD"), std::string::npos) << alerts[1];
  stop(*agent);
}

// Alerts the rate limit holds back after the first summary wait for the
// next rate_period in memory; a SIGKILL before it used to lose them (never
// told, and the rule's mark already past their events). They are stored
// with the marks now, and the next start tells them, once.
TEST_F(AgentAlertFlood, AlertsHeldBackWhenTheAgentIsKilledAreToldByTheNextStartOnce) {
  ASSERT_NO_FATAL_FAILURE(hold_back_and_kill());
  const std::int64_t later = events_with("later_ " + flood);
  const std::int64_t first_later = count_rows(
      db, fmt::format("SELECT min(id) FROM process_events WHERE cmdline LIKE '%later_ {}%' AND (event = 'exec' OR "
                      "(event = 'start' AND source = 'poll'))",
                      flood));
  const std::int64_t last_later = count_rows(
      db, fmt::format("SELECT max(id) FROM process_events WHERE cmdline LIKE '%later_ {}%' AND (event = 'exec' OR "
                      "(event = 'start' AND source = 'poll'))",
                      flood));

  auto agent = start_again();
  ASSERT_TRUE(eventually([&] { return summaries_of_flood() >= 2; }, 60s)) << slurp(ad.log) << slurp(ad.alerts);
  stop(*agent);
  // Started once more: nothing is owed, nothing is told again.
  auto third = start_again();
  stop(*third);

  const auto alerts = ad.alerts_of("flood-marker");
  std::vector<nlohmann::json> summaries;
  std::int64_t plain = 0, held = 0;
  for (const auto& a : alerts) {
    if (!is_summary(a)) {
      ++plain;
      continue;
    }
    summaries.push_back(a);
    held += a["row"]["rate_limited"].get<std::int64_t>();
  }
  ASSERT_EQ(summaries.size(), 2u) << slurp(ad.alerts) << slurp(ad.log);
  const auto& told = summaries[1]["row"];
  EXPECT_EQ(told["rate_limited"].get<std::int64_t>(), later) << told;
  EXPECT_EQ(told["first_event_id"].get<std::int64_t>(), first_later) << told;
  EXPECT_EQ(told["last_event_id"].get<std::int64_t>(), last_later) << told;
  EXPECT_EQ(plain, 5) << slurp(ad.alerts);
  EXPECT_EQ(plain + held, events_with(flood)) << "every matching event is raised or told once\n" << slurp(ad.alerts);
  // In the store as in the ledger, and nothing owed any more.
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM alerts WHERE rule_id = 'flood-marker' AND tags LIKE "
                           "'%daemoneye.rate_limited%'"),
            2);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM held_alerts"), 0);
  EXPECT_NE(slurp(ad.log).find("no summary told before the agent stopped"), std::string::npos) << slurp(ad.log);
}

// A summary raised before a kill that the next start's catch-up cannot
// store (the store refuses alerts, as on a full disk: a trigger here) is
// found in the ledger past the store's mark, and not told again. The state
// is made as a kill leaves it: the store as it was before the summary (a
// copy taken after the first kill, put back after the second start told
// it), the summary in the ledger and at the sink. Before, only the store
// was asked: the summary was told a second time (review of 46080ca,
// finding 2).
TEST_F(AgentAlertFlood, ASummaryRaisedBeforeAKillIsNotToldAgainWhenTheStoreCannotTakeIt) {
  ASSERT_NO_FATAL_FAILURE(hold_back_and_kill());
  const fs::path before = ad.var / "before-summary.db";
  ASSERT_EQ(exec_sql(db, fmt::format("VACUUM INTO '{}'", before.string())), "");
  {
    auto agent = start_again();
    ASSERT_TRUE(eventually([&] { return summaries_of_flood() == 2; }, 60s)) << slurp(ad.log) << slurp(ad.alerts);
    stop(*agent);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
  fs::copy_file(before, db);
  ASSERT_EQ(exec_sql(db, "CREATE TRIGGER refuse BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'refused by the "
                         "test'); END"),
            "");
  auto third = start_again();
  stop(*third);
  EXPECT_EQ(summaries_of_flood(), 2) << slurp(ad.alerts) << slurp(ad.log);
  const std::string log = slurp(ad.log);
  EXPECT_NE(log.find("cannot be brought into the store now"), std::string::npos) << log;  // the catch-up failed
}

// procmond publishes the events of a collection the bus took only in part
// again with its next collection (procmond/main.cpp), so the agent gets the
// same process event twice. Before, each copy was stored with its own
// event id, and the Sigma rule's dedup key (pid, start_time, event_id) gave
// each its own alert. The test publishes procmond's own record of a running
// process as a poll start twice (the times of two collections), on the
// agent's bus, after procmond reported it.
TEST_F(AgentAlertFlood, AProcessEventPublishedAgainRaisesNoSecondAlert) {
  auto agent = ad.start_agent_scanned();
  Child target({"/bin/sh", "-c", fmt::format("sleep 60; : {} /dev/tcp/10.6.6.6/4444", republish)});
  const auto of_target = [&] {
    std::int64_t n = 0;
    for (const auto& a : ad.alerts_of("republish-marker")) n += a["row"].value("pid", -1) == target.pid() ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return of_target() >= 1; }, 60s)) << slurp(ad.log) << slurp(ad.alerts);

  auto collector = airssys::daemoneye::Collector::create({});
  ASSERT_TRUE(collector) << collector.error().to_string();
  auto record = (*collector)->read_process(target.pid());
  ASSERT_TRUE(record) << record.error().to_string();
  // As in a publish sent in part, the agent holds procmond's polled view of
  // the process when the copies come (a collection stored since: with a
  // real-time source the first event may name the program as exec'd, e.g.
  // /bin/sh, where /proc names /usr/bin/dash).
  ASSERT_TRUE(eventually([&] {
    return query_text(db, fmt::format("SELECT path || '|' || sha256 FROM processes WHERE pid = {}", target.pid())) ==
           record->path + "|" + record->sha256;
  }, 60s)) << record->path << " " << record->sha256;
  auto client = airssys::bus::Client::connect({.socket_path = ad.var / "bus.sock"});
  ASSERT_TRUE(client) << client.error().to_string();
  const std::int64_t now = ::time(nullptr);
  for (std::int64_t t : {now, now + 1}) {
    const airssys::daemoneye::ProcessEvent again{
        .kind = airssys::daemoneye::EventKind::start, .source = airssys::daemoneye::EventSource::poll, .time = t,
        .process = *record};
    ASSERT_TRUE((*client)->publish(airssys::daemoneye::kSubjectStart, airssys::daemoneye::encode(again)));
  }
  // A process no one reported before, after them on the same connection:
  // once its alert is raised, the scans have read the copies too.
  auto sentinel = *record;
  sentinel.pid = 4194000;
  sentinel.start_time = now;
  sentinel.start_ticks = 1;
  sentinel.cmdline = fmt::format("sh -c : sentinel {}", republish);
  ASSERT_TRUE((*client)->publish(
      airssys::daemoneye::kSubjectStart,
      airssys::daemoneye::encode(airssys::daemoneye::ProcessEvent{.kind = airssys::daemoneye::EventKind::start,
                                                                  .source = airssys::daemoneye::EventSource::poll,
                                                                  .time = now + 1,
                                                                  .process = sentinel})));
  ASSERT_TRUE((*client)->flush(60s));
  ASSERT_TRUE(eventually([&] {
    for (const auto& a : ad.alerts_of("republish-marker"))
      if (a["row"].value("pid", -1) == sentinel.pid) return true;
    return false;
  }, 60s)) << slurp(ad.log) << slurp(ad.alerts);
  EXPECT_EQ(of_target(), 1) << slurp(ad.alerts);
  stop(*agent);
}

}  // namespace
}  // namespace detest
