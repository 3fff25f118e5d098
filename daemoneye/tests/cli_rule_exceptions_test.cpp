// daemoneye-cli and rule exceptions (docs/daemoneye.md "Rule exceptions"),
// the real binary on a real store and files: `rules test FILE` marks the
// rows an exception of rules.exceptions matches ("excepted by ID"; they take
// no part in dedup), and says the exceptions it refuses; `rules
// exceptions` lists what the agent's status file says is in force.

#include "cli_store_fixture.hpp"

#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/daemoneye/store.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <ctime>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class CliRuleExceptions : public CliStoreTest {
 protected:
  void SetUp() override {
    CliStoreTest::SetUp();
    if (HasFatalFailure()) return;
    std::vector<de::ProcessEvent> events;
    for (const auto& [pid, cmdline] : {std::pair{4401, "backup-agent --sync /srv"}, {4402, "curl -s http://10.1.2.3/x"}})
      events.push_back(
          {de::EventKind::exec, de::EventSource::ebpf, now_ - 90, curl_process(pid, cmdline, now_ - 100)});
    auto a = store_->append_events(events);
    ASSERT_TRUE(a) << a.error();
    store_.reset();
    fs::create_directories(exc_dir_);
    ::chmod(exc_dir_.c_str(), 0755);
    write_file(config_, fmt::format("database: {{ path: {} }}\nrules: {{ exceptions: {} }}\n", db_.string(),
                                    (exc_dir_ / "known.yaml").string()));
  }
  void exceptions(const std::string& text) const {
    write_file(exc_dir_ / "known.yaml", text);
    ::chmod((exc_dir_ / "known.yaml").c_str(), 0644);
  }
  Outcome cli_config(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--config", config_.string()});
    return run_cli(std::move(args), dir_.path());
  }

  const std::int64_t now_ = static_cast<std::int64_t>(::time(nullptr));
  fs::path exc_dir_ = dir_.path() / "exceptions";
  fs::path config_ = dir_.path() / "config.yaml";
};

const char* kRule =
    "id: curl-any\nname: curl\nseverity: low\n"
    "query: SELECT pid, start_time, cmdline FROM process_events WHERE name = 'curl' ORDER BY id\n";

TEST_F(CliRuleExceptions, RulesTestMarksTheRowsAnExceptionMatches) {
  const fs::path file = rule("curl-any.yaml", kRule);
  exceptions(
      "exceptions:\n"
      "  - id: backup-sync\n    rule: curl-any\n    reason: the nightly backup\n    match: {cmdline: {glob: 'backup-agent *'}}\n"
      "  - id: other-rule\n    rule: some-other-rule\n    reason: not this one\n    match: {pid: 4402}\n");
  Outcome r = cli_config({"rules", "test", file.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> lines = lines_in(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_TRUE(lines[1].starts_with("excepted by backup-sync ")) << lines[1];
  EXPECT_TRUE(has(lines[1], "4401")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("new ")) << lines[2];  // another process under the same rule
  EXPECT_TRUE(has(r.err, "daemoneye-cli: rule curl-any (native): 2 matched, 1 new, 0 already raised, 1 excepted by "
                         "rule exceptions (the agent raises none of them)\n"))
      << r.err;
  EXPECT_FALSE(has(r.err, "some-other-rule")) << r.err;  // another rule's entry is the agent's business

  Outcome j = cli_config({"rules", "test", file.string(), "--json"});
  EXPECT_EQ(j.code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_TRUE(doc.is_array() && doc.size() == 2u) << j.out;
  EXPECT_EQ(doc[0]["alert"], "excepted");
  EXPECT_EQ(doc[0]["exception"], "backup-sync");
  EXPECT_EQ(doc[1]["alert"], "new");
  EXPECT_FALSE(doc[1].contains("exception")) << j.out;

  // An exception on a column the rule does not return is said, and marks nothing.
  exceptions("exceptions:\n  - {id: typo, rule: curl-any, reason: x, match: {cmdlin: x}}\n");
  r = cli_config({"rules", "test", file.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "rule exception rejected (the agent would not apply it): ")) << r.err;
  EXPECT_TRUE(has(r.err, "exception 'typo': match: 'cmdlin' is not a column of rule curl-any's result")) << r.err;
  EXPECT_FALSE(has(r.out, "excepted")) << r.out;
}

TEST_F(CliRuleExceptions, RulesExceptionsListsWhatTheStatusFileSays) {
  de::AgentStatus s;
  s.pid = 1;
  s.updated_at = now_;
  s.exceptions = {{.id = "backup-sync", .rule = "curl-any", .reason = "the nightly backup", .owner = "", .ticket = "",
                   .file = (exc_dir_ / "known.yaml").string(), .weak = "", .expires = 0, .expired = false,
                   .hits = 17, .last_hit = now_ - 5},
                  {.id = "any-backup", .rule = "curl-any", .reason = "backups", .owner = "", .ticket = "",
                   .file = (exc_dir_ / "known.yaml").string(),
                   .weak = "no exact condition on a column the kernel gives", .expires = 0, .expired = false,
                   .hits = 0, .last_hit = 0}};
  s.exceptions_rejected = {"known.yaml:9: exception 'typo': match: 'cmdlin' is not a column"};
  ASSERT_TRUE(de::write_status_file(de::status_file_for(db_), s));
  Outcome r = cli({"rules", "exceptions"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("ID ")) << r.out;
  EXPECT_TRUE(has(r.out, "backup-sync")) << r.out;
  EXPECT_TRUE(has(r.out, " 17 ")) << r.out;
  EXPECT_TRUE(has(r.out, "never")) << r.out;
  EXPECT_TRUE(has(r.err, "rejected: known.yaml:9: exception 'typo'")) << r.err;
  EXPECT_TRUE(has(r.err, "weak: any-backup: no exact condition on a column the kernel gives")) << r.err;
  EXPECT_FALSE(has(r.err, "weak: backup-sync")) << r.err;
  EXPECT_TRUE(has(r.err, "2 rule exceptions in force, 1 rejected at the last load")) << r.err;
  Outcome j = cli({"rules", "exceptions", "--json"});
  const auto doc = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << j.out;
  EXPECT_EQ(doc["exceptions"][0]["hits"], 17);
  EXPECT_EQ(doc["exceptions"][0]["rule"], "curl-any");
  EXPECT_EQ(doc["exceptions"][0]["weak"], false);
  EXPECT_EQ(doc["exceptions"][1]["weak"], true);
  EXPECT_EQ(doc["rejected"].size(), 1u);
}

}  // namespace
}  // namespace detest
