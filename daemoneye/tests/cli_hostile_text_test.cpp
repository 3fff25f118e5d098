// Text from monitored processes reaching an operator's terminal through
// every output of daemoneye-cli and procmond --once (outside probe, session
// 13, finding 9): real rows in a real store, a real rule file, a real
// status file and a real process, each holding every sequence of the one
// rule (terminal_text.hpp). Text and CSV show each as '?'; every JSON
// output writes each as \uXXXX and parses back to the very same text.
// Before: `query --format csv` wrote ESC, BEL and CR as they were, every
// --json output wrote C1 (U+009B) raw, and the text outputs passed U+202E
// and U+2028 through.

#include "cli_store_fixture.hpp"

#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/daemoneye/store.hpp>
#include <airssys/osl/proc.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <string>
#include <utility>
#include <vector>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

std::int64_t now() { return static_cast<std::int64_t>(::time(nullptr)); }

// Every sequence the rule names, with what it is.
const std::vector<std::pair<std::string, std::string>> kHostile = {
    {"\x1b[2J", "ESC (CSI 2J)"},       {"\x07", "BEL"},
    {"\r", "CR"},                      {"\xc2\x9b" "31m", "U+009B (C1 CSI)"},
    {"\xc2\x9d" "0;t", "U+009D (C1 OSC)"}, {"\xe2\x80\xae", "U+202E (RTL override)"},
    {"\xe2\x80\xaa", "U+202A (LTR embedding)"}, {"\xe2\x81\xa6", "U+2066 (LTR isolate)"},
    {"\xe2\x81\xa9", "U+2069 (pop isolate)"},   {"\xe2\x80\xa8", "U+2028 (line separator)"},
    {"\xe2\x80\xa9", "U+2029 (paragraph separator)"},
};

// The raw bytes that must not reach a terminal (ESC, BEL, CR aside from
// CSV's line ends, the C1 and bidi and separator code points).
const std::vector<std::pair<std::string, std::string>> kRaw = {
    {"\x1b", "ESC"},          {"\x07", "BEL"},          {"\xc2\x9b", "U+009B"}, {"\xc2\x9d", "U+009D"},
    {"\xe2\x80\xae", "U+202E"}, {"\xe2\x80\xaa", "U+202A"}, {"\xe2\x81\xa6", "U+2066"}, {"\xe2\x81\xa9", "U+2069"},
    {"\xe2\x80\xa8", "U+2028"}, {"\xe2\x80\xa9", "U+2029"},
};

// "evil <seq> | <seq> | ... end": one string holding every sequence.
std::string hostile_text(std::string_view prefix) {
  std::string s(prefix);
  for (const auto& [seq, what] : kHostile) s += " " + seq + " |";
  return s + " end";
}

// Fails naming each raw sequence found in `out` (CR allowed only before LF when `crlf`).
void expect_no_raw(const std::string& out, std::string_view what, bool crlf = false) {
  for (const auto& [seq, name] : kRaw) EXPECT_EQ(out.find(seq), std::string::npos) << what << " wrote raw " << name << ":\n" << out;
  for (std::size_t i = out.find('\r'); i != std::string::npos; i = out.find('\r', i + 1))
    EXPECT_TRUE(crlf && i + 1 < out.size() && out[i + 1] == '\n') << what << " wrote a raw CR at " << i;
}

// Each \u escape of the rule's non-ASCII sequences appears in `out`.
void expect_escaped(const std::string& out, std::string_view what) {
  for (const char* e : {"\\u009b", "\\u009d", "\\u202e", "\\u202a", "\\u2066", "\\u2069", "\\u2028", "\\u2029", "\\u001b",
                        "\\u0007", "\\r"})
    EXPECT_NE(out.find(e), std::string::npos) << what << " lacks " << e << ":\n" << out;
}

class CliHostileText : public CliStoreTest {
 protected:
  void SetUp() override {
    CliStoreTest::SetUp();
    if (HasFatalFailure()) return;
    de::ProcessRecord r;
    r.pid = 4242;
    r.parent = 1;
    r.name = hostile_text("nm");
    r.path = "/usr/bin/evil";
    r.cmdline = cmdline_;
    r.uid = 0;
    r.username = "root";
    r.start_time = now() - 10;
    auto a = store_->append_events(std::vector<de::ProcessEvent>{{de::EventKind::exec, de::EventSource::ebpf, now() - 5, r}});
    ASSERT_TRUE(a) << a.error();
    // As the agent stores an alert: the rule's row as JSON (row_to_json
    // writes C1 and bidi code points as they are).
    const nlohmann::json row = {{"pid", 4242}, {"cmdline", cmdline_}};
    auto i = store_->insert_alerts(std::vector<de::Alert>{
        {.rule_id = "hostile", .rule_name = hostile_text("rule"), .severity = de::Severity::high, .tags = {"t1059"},
         .row_json = row.dump(), .host = "h", .time = now() - 30, .dedup_key = "hostile|pid=4242"}});
    ASSERT_TRUE(i) << i.error();
  }

  const std::string cmdline_ = hostile_text("evil");
};

TEST_F(CliHostileText, QueryCsvShowsEachSequenceAsAQuestionMarkAndStaysValid) {
  Outcome c = cli({"query", "SELECT pid, cmdline, 'a,b' AS comma FROM process_events", "--format", "csv"});
  ASSERT_EQ(c.code, 0) << c.err;
  expect_no_raw(c.out, "query --format csv", true);
  // One header line and one row (no CR or LF inside a field); the comma's field quoted.
  EXPECT_EQ(c.out.substr(0, c.out.find("\r\n") + 2), "pid,cmdline,comma\r\n");
  const std::string row = c.out.substr(c.out.find("\r\n") + 2);
  EXPECT_EQ(row, "4242,evil ?[2J | ? | ? | ?31m | ?0;t | ? | ? | ? | ? | ? | ? | end,\"a,b\"\r\n") << row;
}

TEST_F(CliHostileText, QueryTableAndEventsShowEachSequenceAsAQuestionMark) {
  Outcome t = cli({"query", "SELECT cmdline FROM process_events"});
  ASSERT_EQ(t.code, 0) << t.err;
  expect_no_raw(t.out, "query (table)");
  EXPECT_EQ(t.out.substr(t.out.find('\n') + 1), "evil ?[2J | ? | ? | ?31m | ?0;t | ? | ? | ? | ? | ? | ? | end\n");
  Outcome e = cli({"events"});
  ASSERT_EQ(e.code, 0) << e.err;
  expect_no_raw(e.out, "events");
  EXPECT_NE(e.out.find("nm ?[2J | ? | ? | ?31m"), std::string::npos) << e.out;
  Outcome a = cli({"alerts"});
  ASSERT_EQ(a.code, 0) << a.err;
  expect_no_raw(a.out, "alerts");
  EXPECT_NE(a.out.find("rule ?[2J | ? | ? | ?31m | ?0;t | ? | ? | ? | ? | ? | ? | end"), std::string::npos) << a.out;
}

TEST_F(CliHostileText, EveryJsonOutputEscapesEachSequenceAndKeepsTheText) {
  Outcome q = cli({"query", "SELECT pid, cmdline FROM process_events", "--format", "json"});
  ASSERT_EQ(q.code, 0) << q.err;
  expect_no_raw(q.out, "query --format json");
  expect_escaped(q.out, "query --format json");
  EXPECT_EQ(nlohmann::json::parse(q.out).at(0).at("cmdline"), cmdline_);

  Outcome e = cli({"events", "--json"});
  ASSERT_EQ(e.code, 0) << e.err;
  expect_no_raw(e.out, "events --json");
  const auto events = nlohmann::json::parse(e.out);
  EXPECT_EQ(events.at(0).at("cmdline"), cmdline_);
  EXPECT_EQ(events.at(0).at("name"), hostile_text("nm"));

  Outcome a = cli({"alerts", "--json"});
  ASSERT_EQ(a.code, 0) << a.err;
  expect_no_raw(a.out, "alerts --json");
  expect_escaped(a.out, "alerts --json");
  const auto alerts = nlohmann::json::parse(a.out);
  EXPECT_EQ(alerts.at(0).at("rule_name"), hostile_text("rule"));
  EXPECT_EQ(alerts.at(0).at("row").at("cmdline"), cmdline_);
}

TEST_F(CliHostileText, RulesListAndStatusEscapeEachSequence) {
  const fs::path rules = dir_.path() / "rules";
  fs::create_directories(rules);
  ::chmod(rules.c_str(), 0700);
  // YAML's own escapes put the raw sequences in the rule's name.
  write_file(rules / "hostile.yaml",
             "id: hostile\n"
             "name: \"n \\e[2J \\a \\r \\u009b31m \\u202e \\u2066 \\u2069 \\u2028 \\u2029 end\"\n"
             "severity: low\nquery: SELECT pid, start_time FROM processes\n");
  ::chmod((rules / "hostile.yaml").c_str(), 0644);
  const std::string name = "n \x1b[2J \x07 \r \xc2\x9b" "31m \xe2\x80\xae \xe2\x81\xa6 \xe2\x81\xa9 \xe2\x80\xa8 \xe2\x80\xa9 end";
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nrules: {{ dir: {} }}\n", db_.string(), rules.string()));
  Outcome text = run_cli({"--config", config.string(), "rules", "list"}, dir_.path());
  ASSERT_EQ(text.code, 0) << text.err;
  expect_no_raw(text.out, "rules list");
  EXPECT_NE(text.out.find("n ?[2J ? ? ?31m ? ? ? ? ? end"), std::string::npos) << text.out;
  Outcome json = run_cli({"--config", config.string(), "rules", "list", "--json"}, dir_.path());
  ASSERT_EQ(json.code, 0) << json.err;
  expect_no_raw(json.out, "rules list --json");
  EXPECT_EQ(nlohmann::json::parse(json.out).at("rules").at(0).at("name"), name);

  // status --json: procmond's tier reason is its text.
  de::AgentStatus s;
  s.pid = ::getpid();
  s.start_ticks = airssys::osl::proc::read_stat(::getpid())->starttime;
  s.version = "0.1.0";
  s.host = "h";
  s.started_at = now() - 60;
  s.updated_at = now();
  s.database = db_.string();
  s.scan_interval_ms = 1000;
  s.write_interval_ms = 1000;
  de::ProcmondStatus p;
  p.time = now();
  p.pid = 99999;
  p.tier = de::EventSource::proc_connector;
  p.tier_reason = hostile_text("eBPF:");
  s.procmond_status = p;
  s.procmond_status_received = now();
  auto w = de::write_status_file(de::status_file_for(db_), s);
  ASSERT_TRUE(w) << w.error();
  Outcome st = cli({"status", "--json"});
  ASSERT_EQ(st.code, 0) << st.err;
  expect_no_raw(st.out, "status --json");
  expect_escaped(st.out, "status --json");
  EXPECT_NE(st.out.find(nlohmann::json(hostile_text("eBPF:")).dump().substr(1, 10)), std::string::npos);
  Outcome stt = cli({"status"});
  ASSERT_EQ(stt.code, 0) << stt.err;
  expect_no_raw(stt.out, "status");
}

// procmond --once --format json over a real process whose command line
// holds every sequence: escaped, and the same text once parsed.
TEST_F(CliHostileText, ProcmondJsonEscapesEachSequence) {
  ASSERT_FALSE(procmond_bin().empty()) << "DAEMONEYE_PROCMOND_BIN is not set: run this test through ctest";
  const std::string arg = hostile_text("evil");
  // sh stays (two commands), its argv holding the text.
  Child holder({"/bin/sh", "-c", "sleep 60; exit 0", arg});
  const fs::path out = dir_.path() / "procmond.json";
  bool seen = false;
  std::string text;
  // The child may not have exec'd sh yet at the first look.
  for (int attempt = 0; attempt < 50 && !seen; ++attempt) {
    Child p({procmond_bin(), "--once", "--format", "json", "--no-hash"}, out, dir_.path() / "procmond.err");
    ASSERT_EQ(p.wait(60s).value_or(-1), 0) << slurp(dir_.path() / "procmond.err");
    text = slurp(out);
    fs::remove(out);
    const auto doc = nlohmann::json::parse(text);
    for (const auto& r : doc)
      if (r.at("pid") == holder.pid() && r.at("cmdline").get<std::string>().find("sleep 60") != std::string::npos) {
        seen = true;
        EXPECT_EQ(r.at("cmdline"), "/bin/sh -c sleep 60; exit 0 " + arg);
      }
    if (!seen) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(seen) << "procmond did not list the holder process";
  expect_no_raw(text, "procmond --format json");
  expect_escaped(text, "procmond --format json");
}

}  // namespace
}  // namespace detest
