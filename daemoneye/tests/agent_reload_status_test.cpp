// A reload's outcome in status.json, `daemoneye-cli status` and `metrics`
// (docs/daemoneye.md "Status file", reload). Before, a reload that could not
// read the configuration said so only in the log: status.json and `status`
// told an operator all was well while the old configuration ran, and
// `systemctl reload` (kill -HUP) succeeds whatever happens. The real agent,
// real files: a good reload is ok, a broken configuration is failed with its
// error while the old rules still raise alerts, a fixed one is ok again; a
// rejected rule file makes a reload partial.

#include "harness.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>

namespace detest {
namespace {

struct ReloadStatusFixture : AgentDir {
  ReloadStatusFixture() {
    write_config();
    // Matches the probes below (and nothing else the test runs): a new
    // probe is a new process, so a new alert, whatever the dedup window.
    write_file(rules / "probe.yaml",
               "id: probe\nname: Reload probe\nseverity: high\nquery: \"SELECT pid, name, start_time, cmdline FROM "
               "processes WHERE cmdline LIKE '%reload-status-probe-%'\"\n");
  }
  void add_rule(const std::string& id) const {
    write_file(rules / (id + ".yaml"),
               fmt::format("id: {}\nname: Rule {}\nseverity: low\nquery: \"SELECT pid, start_time FROM processes "
                           "WHERE name = 'no-such-process-{}'\"\n",
                           id, id, id));
  }
  // status.json's "reload" object (null while there is none or the file does not parse).
  nlohmann::json reload() const {
    auto j = nlohmann::json::parse(slurp(var / "status.json"), nullptr, false);
    if (j.is_discarded() || !j.contains("reload")) return nullptr;
    return j["reload"];
  }
  std::string last_result() const {
    const auto r = reload();
    if (!r.is_object() || !r["last"].is_object()) return "";
    return r["last"].value("result", "");
  }
  std::int64_t rules_loaded() const {
    auto j = nlohmann::json::parse(slurp(var / "status.json"), nullptr, false);
    if (j.is_discarded() || !j.contains("rules")) return -1;
    return j["rules"].value("loaded", std::int64_t{-1});
  }
  // A probe process the probe rule matches; true once its alert is in the file sink.
  bool probe_alerted(const std::string& name) const {
    Child probe({"/bin/sh", "-c", "sleep 120; : reload-status-probe-" + name});
    return eventually([&] {
      for (const auto& a : alert_lines())
        if (a.value("rule_id", "") == "probe" && a["row"].value("pid", -1) == probe.pid()) return true;
      return false;
    }, 60s);
  }
  // By --db: while config.yaml is broken the CLI cannot read it either.
  Outcome cli(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--db", (var / "daemoneye.db").string()});
    return run_cli(std::move(args), dir.path());
  }
  void hup(Child& agent, std::string_view until_result, std::uint64_t reloads_before) const {
    agent.signal(SIGHUP);
    ASSERT_TRUE(eventually([&] {
      const auto r = reload();
      return r.is_object() && r.value("ok", 0u) + r.value("partial", 0u) + r.value("failed", 0u) == reloads_before + 1;
    }, 60s)) << reload().dump() << "\n" << slurp(log);
    ASSERT_EQ(last_result(), until_result) << reload().dump() << "\n" << slurp(log);
  }
};

TEST(AgentReloadStatus, AFailedReloadShowsInStatusAndMetricsWhileTheOldRulesRunAndAFixedOneIsOkAgain) {
  ReloadStatusFixture f;
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  // Before any SIGHUP: the object is there, last is null, the rules in force are the start's.
  ASSERT_TRUE(eventually([&] { return f.reload().is_object(); }, 60s)) << slurp(f.var / "status.json") << slurp(f.log);
  EXPECT_TRUE(f.reload()["last"].is_null()) << f.reload().dump();
  const std::int64_t started = f.reload().value("rules_loaded_at", std::int64_t{0});
  EXPECT_GT(started, 0) << f.reload().dump();
  EXPECT_NE(f.cli({"status"}).out.find("reload:    none since the start; rules in force loaded"), std::string::npos)
      << f.cli({"status"}).out;

  // A good reload: ok, no error, its rules in force.
  f.add_rule("second");
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent, "ok", 0));
  EXPECT_EQ(f.rules_loaded(), 2);
  EXPECT_EQ(f.reload()["last"].value("error", "?"), "");
  EXPECT_GE(f.reload().value("rules_loaded_at", std::int64_t{0}), started);
  EXPECT_EQ(f.reload().value("last_ok_at", std::int64_t{0}), f.reload()["last"].value("time", std::int64_t{-1}));
  auto st = f.cli({"status"});
  EXPECT_NE(st.out.find(": ok; rules in force loaded"), std::string::npos) << st.out;

  // A configuration that no longer parses (and a rule added meanwhile): failed, with the error.
  std::string text = slurp(f.config);
  const auto at = text.find("interval: 500ms");
  ASSERT_NE(at, std::string::npos) << text;
  write_file(f.config, text.substr(0, at) + "interval: soon" + text.substr(at + 15));
  f.add_rule("third");
  const std::int64_t loaded_ok = f.reload().value("rules_loaded_at", std::int64_t{0});
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent, "failed", 1));
  const std::string error = f.reload()["last"].value("error", "");
  EXPECT_NE(error.find("the configuration cannot be read, nothing changed"), std::string::npos) << error;
  EXPECT_NE(error.find("soon"), std::string::npos) << error;  // what is wrong, as the log says it
  EXPECT_EQ(f.reload().value("failed", 0u), 1u);
  EXPECT_EQ(f.reload().value("rules_loaded_at", std::int64_t{0}), loaded_ok);  // the old rules stay in force
  EXPECT_EQ(f.rules_loaded(), 2);
  EXPECT_FALSE(agent->exited()) << slurp(f.log);
  // The old rules still run: a new matching process still raises an alert.
  EXPECT_TRUE(f.probe_alerted("after-failed")) << slurp(f.alerts) << slurp(f.log);

  st = f.cli({"status"});
  EXPECT_EQ(st.code, 0) << st.out << st.err;  // liveness, as before: the agent runs
  EXPECT_NE(st.out.find("reload:    FAILED at "), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("the configuration cannot be read, nothing changed"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("the old configuration runs: rules in force loaded"), std::string::npos) << st.out;
  auto js = f.cli({"status", "--json"});
  auto j = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << js.out;
  EXPECT_EQ(j["status"]["reload"]["last"].value("result", ""), "failed") << js.out;
  EXPECT_EQ(j["status"]["reload"]["last"].value("error", ""), error) << js.out;
  auto metrics = f.cli({"metrics"});
  EXPECT_NE(metrics.out.find("daemoneye_reloads_total{result=\"failed\"} 1\n"), std::string::npos) << metrics.out;
  EXPECT_NE(metrics.out.find("daemoneye_reloads_total{result=\"ok\"} 1\n"), std::string::npos) << metrics.out;
  EXPECT_NE(metrics.out.find("daemoneye_last_reload_successful 0\n"), std::string::npos) << metrics.out;
  EXPECT_NE(metrics.out.find(fmt::format("daemoneye_rules_loaded_timestamp_seconds {}\n", loaded_ok)),
            std::string::npos)
      << metrics.out;

  // Fixed: ok again, the rule added meanwhile now loaded.
  write_file(f.config, text);
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent, "ok", 2));
  EXPECT_EQ(f.rules_loaded(), 3);
  EXPECT_EQ(f.reload().value("ok", 0u), 2u);
  EXPECT_EQ(f.reload().value("failed", 0u), 1u);
  EXPECT_GE(f.reload().value("rules_loaded_at", std::int64_t{0}), loaded_ok);
  st = f.cli({"status"});
  EXPECT_EQ(st.out.find("FAILED"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find(": ok; rules in force loaded"), std::string::npos) << st.out;
  metrics = f.cli({"metrics"});
  EXPECT_NE(metrics.out.find("daemoneye_last_reload_successful 1\n"), std::string::npos) << metrics.out;
  EXPECT_TRUE(f.probe_alerted("after-fixed")) << slurp(f.alerts) << slurp(f.log);

  stop_agent(*agent, f.log);
}

// A rule file rejected while the others load: partial, naming the file; its
// rules (the good ones) are in force. A whole rules.dir refused is failed.
TEST(AgentReloadStatus, ARejectedRuleFileMakesTheReloadPartialAndAMissingRulesDirFailed) {
  ReloadStatusFixture f;
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  ASSERT_TRUE(eventually([&] { return f.reload().is_object(); }, 60s)) << slurp(f.log);

  f.add_rule("second");
  write_file(f.rules / "broken.yaml", "id: broken\nname: Broken\nseverity: extreme\nquery: SELECT 1\n");
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent, "partial", 0));
  const std::string error = f.reload()["last"].value("error", "");
  EXPECT_NE(error.find("1 rule file rejected (not run): "), std::string::npos) << error;
  EXPECT_NE(error.find("broken.yaml"), std::string::npos) << error;
  EXPECT_EQ(f.rules_loaded(), 2);
  EXPECT_EQ(f.reload().value("last_ok_at", std::int64_t{-1}), 0);  // never ok since the start
  EXPECT_EQ(f.reload().value("rules_loaded_at", std::int64_t{0}), f.reload()["last"].value("time", std::int64_t{-1}));
  auto st = f.cli({"status"});
  EXPECT_NE(st.out.find("reload:    PARTIAL at "), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("broken.yaml"), std::string::npos) << st.out;
  auto metrics = f.cli({"metrics"});
  EXPECT_NE(metrics.out.find("daemoneye_reloads_total{result=\"partial\"} 1\n"), std::string::npos) << metrics.out;
  EXPECT_NE(metrics.out.find("daemoneye_last_reload_successful 0\n"), std::string::npos) << metrics.out;

  // rules.dir gone: the rules in use are kept, and that is a failure.
  const std::int64_t loaded = f.reload().value("rules_loaded_at", std::int64_t{0});
  fs::rename(f.rules, f.dir.path() / "rules.away");
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent, "failed", 1));
  EXPECT_NE(f.reload()["last"].value("error", "").find("rules not loaded, the rules in use are kept"),
            std::string::npos)
      << f.reload().dump();
  EXPECT_EQ(f.reload().value("rules_loaded_at", std::int64_t{0}), loaded);
  EXPECT_EQ(f.rules_loaded(), 2);
  EXPECT_TRUE(f.probe_alerted("after-dir-gone")) << slurp(f.alerts) << slurp(f.log);

  stop_agent(*agent, f.log);
}

}  // namespace
}  // namespace detest
