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

struct ReloadFixture : AgentDir {
  ReloadFixture() {
    write_config();
    add_rule("first");
  }
  // The same configuration with a scan interval that is not a duration.
  void break_config() const {
    std::string text = slurp(config);
    const std::string_view good = "interval: 500ms";
    const auto at = text.find(good);
    ASSERT_NE(at, std::string::npos) << "the base configuration has no '" << good << "':\n" << text;
    text.replace(at, good.size(), "interval: soon");
    write_file(config, text);
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
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  ASSERT_TRUE(eventually([&] { return f.rules_loaded() == 1; })) << slurp(f.log);

  f.add_rule("second");
  agent->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return f.rules_loaded() == 2; })) << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("reload: 2 rules loaded"), std::string::npos) << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("reload: added: second\n"), std::string::npos) << slurp(f.log);

  ASSERT_NO_FATAL_FAILURE(f.break_config());
  f.add_rule("third");
  agent->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] {
    return slurp(f.log).find("reload: the configuration cannot be read, nothing changed") != std::string::npos;
  })) << slurp(f.log);
  EXPECT_FALSE(agent->exited()) << slurp(f.log);
  EXPECT_EQ(f.rules_loaded(), 2);

  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(), 0) << slurp(f.log);
}

// The reload names what it changed, not only how many rules there are:
// an edited rule, and one whose file is now rejected (it no longer runs,
// which the "rule rejected" line alone does not say), each by its id.
TEST(AgentReload, TheReloadNamesTheRulesItChanged) {
  ReloadFixture f;
  f.add_rule("second");
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  ASSERT_TRUE(eventually([&] { return f.rules_loaded() == 2; })) << slurp(f.log);

  agent->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return slurp(f.log).find("reload: no rule added, changed or removed\n") != std::string::npos; }))
      << slurp(f.log);

  write_file(f.rules / "first.yaml",
             "id: first\nname: Rule first\nseverity: high\nquery: \"SELECT pid, start_time FROM processes "
             "WHERE name = 'no-such-process-first'\"\n");
  write_file(f.rules / "second.yaml", "id: second\nname: Rule second\nseverity: low\nquery: SELECT nope FROM processes\n");
  agent->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return f.rules_loaded() == 1; })) << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("reload: changed: first; removed: second\n"), std::string::npos) << slurp(f.log);

  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(), 0) << slurp(f.log);
}

}  // namespace
}  // namespace detest
