// daemoneye-agent on SIGHUP (docs/daemoneye.md "The agent"): the real agent
// loads its rules again (a rule added since the start is run and counted in
// status.json), a configuration that no longer parses changes nothing and
// the agent runs on; SIGTERM still stops it with 0. Before, SIGHUP's
// default action ended the agent.

#include "harness.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <csignal>

namespace detest {
namespace {

struct ReloadFixture {
  TempDir dir;
  fs::path rules = dir.path() / "rules";
  fs::path var = dir.path() / "var";
  fs::path log = dir.path() / "agent.log";
  fs::path config = dir.path() / "config.yaml";

  ReloadFixture() {
    fs::create_directories(rules);
    write_config("500ms");
    add_rule("first");
  }
  void write_config(const std::string& interval) const {
    write_file(config, fmt::format("database: {{ path: {0}/daemoneye.db }}\nscan: {{ interval: {1} }}\n"
                                   "rules: {{ dir: {2} }}\nalerts:\n  sinks:\n"
                                   "    - {{ type: file, path: {0}/alerts.jsonl, format: json }}\n",
                                   var.string(), interval, rules.string()));
  }
  void add_rule(const std::string& id) const {
    write_file(rules / (id + ".yaml"),
               fmt::format("id: {}\nname: Rule {}\nseverity: low\nquery: \"SELECT pid, start_time FROM processes "
                           "WHERE name = 'no-such-process-{}'\"\n",
                           id, id, id));
  }
  // The rules count the running agent's status file gives, -1 while there is none.
  std::int64_t rules_loaded() const {
    auto j = nlohmann::json::parse(slurp(var / "status.json"), nullptr, false);
    if (j.is_discarded() || !j.contains("rules")) return -1;
    return j["rules"].value("loaded", std::int64_t{-1});
  }
};

TEST(AgentReload, SighupLoadsTheRulesAgainAndABadConfigurationChangesNothing) {
  ReloadFixture f;
  ASSERT_FALSE(agent_bin().empty()) << "DAEMONEYE_AGENT_BIN is not set: run this test through ctest";
  Child agent({agent_bin(), "--config", f.config.string()}, f.log, f.log);
  ASSERT_GT(agent.pid(), 0);
  ASSERT_TRUE(eventually([&] { return f.rules_loaded() == 1; })) << slurp(f.log);

  f.add_rule("second");
  agent.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return f.rules_loaded() == 2; })) << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("reload: 2 rules loaded"), std::string::npos) << slurp(f.log);

  f.write_config("soon");  // not a duration
  f.add_rule("third");
  agent.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return slurp(f.log).find("reload: the configuration cannot be read, nothing changed") != std::string::npos;
  })) << slurp(f.log);
  EXPECT_FALSE(agent.exited()) << slurp(f.log);
  EXPECT_EQ(f.rules_loaded(), 2);

  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(), 0) << slurp(f.log);
}

}  // namespace
}  // namespace detest
