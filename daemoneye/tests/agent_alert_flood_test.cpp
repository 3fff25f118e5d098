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
//
// Each process sleeps a second, so the polling tier sees it too when the
// kernel's event sources are not available.

#include "harness.hpp"
#include "store_query.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>

namespace detest {
namespace {

class AgentAlertFlood : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [id, mark] : {std::pair{"flood-marker", flood}, std::pair{"chain-marker", chain}}) {
      write_file(ad.rules / (std::string(id) + ".yml"),
                 fmt::format("title: {}\nid: {}\nlogsource: {{product: linux, category: process_creation}}\n"
                             "detection:\n  selection:\n    CommandLine|contains: {}\n  condition: selection\n",
                             id, id, mark));
    }
    write_file(ad.config, "database: { path: " + ad.var.string() + "/daemoneye.db }\nscan: { interval: 500ms }\n" +
                              "rules: { dir: " + ad.rules.string() + " }\n" +
                              "alerts:\n  rate_limit: 5\n  rate_period: 1h\n  sinks:\n    - { type: file, path: " +
                              ad.alerts.string() + ", format: json }\n");
  }

  std::unique_ptr<Child> start_agent() {
    auto a = ad.start_agent();
    EXPECT_TRUE(eventually([&] { return count_rows(db, "SELECT count(*) FROM scans") > 0; }, 60s)) << slurp(ad.log);
    return a;
  }
  std::int64_t events_with(const std::string& text) {
    return count_rows(db, fmt::format("SELECT count(*) FROM process_events WHERE cmdline LIKE '%{}%' AND "
                                      "(event = 'exec' OR (event = 'start' AND source = 'poll'))",
                                      text));
  }
  std::vector<nlohmann::json> alerts_of(const std::string& rule) {
    std::vector<nlohmann::json> out;
    for (auto& j : ad.alert_lines())
      if (j.value("rule_id", "") == rule) out.push_back(std::move(j));
    return out;
  }
  static bool is_summary(const nlohmann::json& a) {
    const auto& tags = a["tags"];
    return std::ranges::find(tags, nlohmann::json("daemoneye.rate_limited")) != tags.end();
  }
  void stop(Child& agent) { stop_agent(agent, ad.log); }

  AgentDir ad;
  const std::string flood = fmt::format("airssys-flood-{}", ::getpid());
  const std::string chain = fmt::format("airssys-chain-{}", ::getpid());
  const fs::path db = ad.var / "daemoneye.db";
};

TEST_F(AgentAlertFlood, TheRealEventBehindDecoysOverTheRateLimitIsToldNotLost) {
  auto agent = start_agent();
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

  const auto alerts = alerts_of("flood-marker");
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
  auto agent = start_agent();
  // One pid: the shell matches, then execs bash (another binary, so polling
  // sees the exec too), which matches again.
  Child c({"/bin/sh", "-c", fmt::format("sleep 1; : harmless {0} /dev/tcp/127.0.0.1/80; exec /bin/bash -c "
                                        "\": STAGE2-PAYLOAD {0} /dev/tcp/10.6.6.6/4444; sleep 1\"",
                                        chain)});
  const pid_t pid = c.pid();
  ASSERT_TRUE(c.wait(60s).has_value());
  ASSERT_TRUE(eventually([&] { return alerts_of("chain-marker").size() >= 2; }, 60s))
      << slurp(ad.log) << slurp(ad.alerts);
  const auto alerts = alerts_of("chain-marker");
  ASSERT_EQ(alerts.size(), 2u) << slurp(ad.alerts);
  EXPECT_EQ(alerts[0]["row"]["pid"], pid);
  EXPECT_EQ(alerts[1]["row"]["pid"], pid);
  EXPECT_NE(alerts[0]["dedup_key"], alerts[1]["dedup_key"]);
  EXPECT_NE(alerts[1]["row"].value("cmdline", "").find("STAGE2-PAYLOAD"), std::string::npos) << alerts[1];
  stop(*agent);
}

}  // namespace
}  // namespace detest
