// A rules directory as operators fill it: rules kept in a subdirectory (the
// source tree's rules/sigma/), a file saved with the wrong extension. The
// agent reads neither, which is by design; it must say so, and so must
// `daemoneye-cli rules check` / `rules list`, instead of leaving a rule that
// never runs without a word. Real daemoneye-cli and daemoneye-agent.

#include "harness.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

namespace detest {
namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct RulesDir {
  TempDir dir{"de-cli-operator"};
  fs::path rules = dir.path() / "rules";

  RulesDir() {
    fs::create_directories(rules / "sigma");
    ::chmod(rules.c_str(), 0755);
    add(rules / "good.yaml", "id: good\nname: Good\nseverity: low\nquery: SELECT pid, start_time FROM processes\n");
    add(rules / "sigma" / "nested.yml",
        "title: Nested\nlogsource: {product: linux, category: process_creation}\n"
        "detection: {sel: {CommandLine|contains: x}, condition: sel}\n");
    add(rules / "later.yaml.txt", "id: later\nname: Later\nseverity: low\nquery: SELECT pid, start_time FROM processes\n");
    add(rules / ".disabled.yaml", "id: off\nname: Off\nseverity: low\nquery: SELECT pid, start_time FROM processes\n");
  }
  static void add(const fs::path& file, const std::string& text) {
    write_file(file, text);
    ::chmod(file.c_str(), 0644);
  }
  std::string subdir_note() const {
    return (rules / "sigma").string() +
           ": ignored, a directory (only *.yaml and *.yml files directly in the rules directory are read)";
  }
  std::string extension_note() const {
    return (rules / "later.yaml.txt").string() + ": ignored, not a *.yaml or *.yml file";
  }
};

TEST(CliOperator, RulesCheckNamesWhatInTheDirectoryIsNotRead) {
  RulesDir r;
  Outcome check = run_cli({"rules", "check", r.rules.string()}, r.dir.path());
  EXPECT_EQ(check.code, 0) << check.err;  // nothing rejected: ignored entries are not errors
  EXPECT_TRUE(has(check.out, "ok  " + (r.rules / "good.yaml").string() + ": good (low)")) << check.out;
  EXPECT_TRUE(has(check.err, r.subdir_note())) << check.err;
  EXPECT_TRUE(has(check.err, r.extension_note())) << check.err;
  EXPECT_FALSE(has(check.err, ".disabled.yaml")) << check.err;  // hidden: the way to switch a file off
  EXPECT_TRUE(has(check.err, "1 rule valid, 0 rejected")) << check.err;
}

TEST(CliOperator, RulesListSaysTheSameInTextAndJson) {
  RulesDir r;
  const fs::path config = r.dir.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nrules: {{ dir: {} }}\n",
                                 (r.dir.path() / "var" / "daemoneye.db").string(), r.rules.string()));
  Outcome text = run_cli({"--config", config.string(), "rules", "list"}, r.dir.path());
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(has(text.err, r.subdir_note())) << text.err;
  Outcome json = run_cli({"--config", config.string(), "rules", "list", "--json"}, r.dir.path());
  EXPECT_EQ(json.code, 0) << json.err;
  auto doc = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << json.out;
  EXPECT_EQ(doc["rules"].size(), 1u);
  EXPECT_EQ(doc["ignored"], nlohmann::json::array({r.extension_note(), r.subdir_note()}));
}

// A rule without pid and start_time (and no key:) gives all its rows one
// dedup key: one alert per dedup window however many processes match.
// Allowed (an aggregate may mean that), but said at load.
const char* kNoKeyRule = "id: nokey\nname: No key\nseverity: low\nquery: SELECT name, cmdline FROM processes\n";

std::string no_key_warning(const fs::path& file) {
  return file.string() +
         ":4: warning: the query's result has no pid or start_time column (columns: name, cmdline), so all its rows "
         "share one dedup key and the rule raises at most one alert per alerts.dedup_window";
}

TEST(CliOperator, RulesCheckWarnsOfARuleWhoseRowsShareOneDedupKey) {
  RulesDir r;
  const fs::path file = r.rules / "nokey.yaml";
  RulesDir::add(file, kNoKeyRule);
  Outcome one = run_cli({"rules", "check", file.string()}, r.dir.path());
  EXPECT_EQ(one.code, 0) << one.err;  // a warning, not a rejection
  EXPECT_TRUE(has(one.out, "ok  " + file.string() + ": nokey (low)")) << one.out;
  EXPECT_TRUE(has(one.err, no_key_warning(file))) << one.err;
  Outcome dir = run_cli({"rules", "check", r.rules.string()}, r.dir.path());
  EXPECT_EQ(dir.code, 0) << dir.err;
  EXPECT_TRUE(has(dir.err, no_key_warning(file))) << dir.err;
  EXPECT_FALSE(has(dir.err, (r.rules / "good.yaml").string() + ":4: warning")) << dir.err;  // it selects pid
  EXPECT_TRUE(has(dir.err, "2 rules valid, 0 rejected")) << dir.err;
}

// start_time without pid: processes started in the same second share a
// key. Also a warning; pid alone is none (a usable key).
TEST(CliOperator, RulesCheckWarnsOfStartTimeWithoutPid) {
  RulesDir r;
  const fs::path st = r.rules / "start-only.yaml";
  RulesDir::add(st, "id: start-only\nname: S\nseverity: low\nquery: SELECT start_time, name FROM processes\n");
  const fs::path pid = r.rules / "pid-only.yaml";
  RulesDir::add(pid, "id: pid-only\nname: P\nseverity: low\nquery: SELECT pid, name FROM processes\n");
  Outcome dir = run_cli({"rules", "check", r.rules.string()}, r.dir.path());
  EXPECT_EQ(dir.code, 0) << dir.err;
  EXPECT_TRUE(has(dir.err, st.string() + ":4: warning: the query's result has start_time but no pid column (columns: "
                                         "start_time, name), so the rows of processes started in the same second "
                                         "share one dedup key"))
      << dir.err;
  EXPECT_FALSE(has(dir.err, pid.string() + ":4: warning")) << dir.err;
  EXPECT_TRUE(has(dir.err, "3 rules valid, 0 rejected")) << dir.err;
}

TEST(CliOperator, TheAgentLogsWhatItDoesNotRead) {
  RulesDir r;
  RulesDir::add(r.rules / "nokey.yaml", kNoKeyRule);
  const fs::path config = r.dir.path() / "config.yaml", log = r.dir.path() / "agent.log";
  write_file(config, fmt::format("database: {{ path: {} }}\nscan: {{ interval: 500ms }}\nrules: {{ dir: {} }}\n",
                                 (r.dir.path() / "var" / "daemoneye.db").string(), r.rules.string()));
  ASSERT_FALSE(agent_bin().empty()) << "DAEMONEYE_AGENT_BIN is not set: run this test through ctest";
  Child agent({agent_bin(), "--config", config.string()}, log, log);
  EXPECT_TRUE(eventually([&] { return has(slurp(log), "first scan stored"); })) << slurp(log);
  EXPECT_TRUE(has(slurp(log), "warning daemoneye-agent: " + r.subdir_note())) << slurp(log);
  EXPECT_TRUE(has(slurp(log), "warning daemoneye-agent: " + r.extension_note())) << slurp(log);
  EXPECT_TRUE(has(slurp(log), "warning daemoneye-agent: " + no_key_warning(r.rules / "nokey.yaml"))) << slurp(log);
  agent.signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return has(slurp(log), "reload: " + r.subdir_note()); })) << slurp(log);
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait().value_or(-1), 0) << slurp(log);
}

}  // namespace
}  // namespace detest
