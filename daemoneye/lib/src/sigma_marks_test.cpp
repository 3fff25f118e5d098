// The Sigma rules' marks in the store (store_marks.hpp): saved with a
// scan's alerts, read back by a new Store on the same file, so a restart
// reads neither an event twice nor skips one stored late. Real SQLite
// files in a temp dir; the rules run as the agent runs them (run_rules).

#include <gtest/gtest.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <algorithm>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_runner.hpp>
#include <airssys/daemoneye/store.hpp>
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::proc;
using test::TempDir;

ProcessEvent exec_event(std::int64_t pid, std::int64_t time, std::string cmdline) {
  return {EventKind::exec, EventSource::ebpf, time, proc(pid, "sh", "/usr/bin/sh", std::move(cmdline))};
}

Rule marker_rule(const std::string& id) {
  auto rule = parse_rule("title: marker\nid: " + id +
                             "\nlogsource: {product: linux, category: process_creation}\n"
                             "detection:\n  selection:\n    CommandLine|contains: evil-marker\n  condition: selection\n",
                         id + ".yml");
  EXPECT_TRUE(rule) << (rule ? "" : rule.error().message);
  return rule ? *rule : Rule{};
}

std::set<std::int64_t> pids(const RuleRun& run) {
  std::set<std::int64_t> out;
  for (const auto& a : run.candidates) {
    const auto at = a.row_json.find("\"pid\":");
    if (at != std::string::npos) out.insert(std::stoll(a.row_json.substr(at + 6)));
  }
  return out;
}

struct Opened {
  std::unique_ptr<Store> store;
  std::unique_ptr<QueryEngine> engine;
};

Opened open(const std::filesystem::path& db) {
  auto s = Store::open({.path = db});
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  auto e = QueryEngine::open(db);
  EXPECT_TRUE(e) << (e ? "" : e.error().message);
  return {s ? std::move(*s) : nullptr, e ? std::move(*e) : nullptr};
}

TEST(SigmaMarks, ARestartGoesOnWhereTheLastStoredScanEnded) {
  TempDir tmp;
  const auto db = tmp / "d.db";
  const std::vector rules{marker_rule("marker")};
  const std::int64_t now = std::time(nullptr);
  {
    auto [store, engine] = open(db);
    ASSERT_TRUE(store && engine);
    ASSERT_TRUE(store->append_events(std::vector{exec_event(301, now, "sh -c 'evil-marker a'")}));
    EventMarks marks;
    RuleRun run = run_rules(rules, *engine, "h", now, marks);
    EXPECT_EQ(pids(run), std::set<std::int64_t>{301});
    ASSERT_TRUE(store->insert_alerts(run.candidates, marks));
    ASSERT_TRUE(store->record_scan({.scan_id = 1, .time = now}));
  }
  // The agent restarts. Meanwhile an event was stored late (its time is
  // older than the last scan and the two minutes a rule without a mark
  // looks back) and another one now.
  auto [store, engine] = open(db);
  ASSERT_TRUE(store && engine);
  ASSERT_TRUE(store->append_events(
      std::vector{exec_event(302, now - 600, "sh -c 'evil-marker late'"), exec_event(303, now, "sh -c 'evil-marker b'")}));
  auto saved = store->event_marks();
  ASSERT_TRUE(saved) << saved.error();
  ASSERT_TRUE(saved->covered.contains("marker"));
  EventMarks marks = *saved;
  EXPECT_EQ(pids(run_rules(rules, *engine, "h", now, marks)), (std::set<std::int64_t>{302, 303}));

  // Without the saved marks (the agent before they were stored) the rule
  // started from the last two minutes' events: 301 a second time.
  EventMarks none;
  EXPECT_EQ(pids(run_rules(rules, *engine, "h", now, none)), (std::set<std::int64_t>{301, 302, 303}));
}

// The stopped agent stored an event after its last scan, with a time older
// than that scan's collection (a late batch): the restarted agent reads it.
TEST(SigmaMarks, AnEventStoredAfterTheLastScanIsReadAfterARestart) {
  TempDir tmp;
  const auto db = tmp / "d.db";
  const std::vector rules{marker_rule("marker")};
  const std::int64_t last_scan = std::time(nullptr) - 1000;
  {
    auto [store, engine] = open(db);
    ASSERT_TRUE(store && engine);
    ASSERT_TRUE(store->append_events(std::vector{exec_event(401, last_scan - 10, "sh -c 'evil-marker a'")}));
    EventMarks marks;
    RuleRun run = run_rules(rules, *engine, "h", last_scan, marks);
    EXPECT_EQ(pids(run), std::set<std::int64_t>{401});
    ASSERT_TRUE(store->insert_alerts(run.candidates, marks));
    ASSERT_TRUE(store->record_scan({.scan_id = 1, .time = last_scan}));
    ASSERT_TRUE(store->append_events(std::vector{exec_event(402, last_scan - 600, "sh -c 'evil-marker late'")}));
  }
  const std::int64_t now = std::time(nullptr);
  auto [store, engine] = open(db);
  ASSERT_TRUE(store && engine);
  ASSERT_TRUE(store->append_events(std::vector{exec_event(403, now, "sh -c 'evil-marker b'")}));
  auto saved = store->event_marks();
  ASSERT_TRUE(saved) << saved.error();
  EventMarks marks = *saved;
  EXPECT_EQ(pids(run_rules(rules, *engine, "h", now, marks)), (std::set<std::int64_t>{402, 403}));
  // Without them the rule started at the events since the last scan's
  // collection: 402 was never read.
  EventMarks none;
  EXPECT_EQ(pids(run_rules(rules, *engine, "h", now, none)), (std::set<std::int64_t>{403}));
}

TEST(SigmaMarks, SavedMarksReplaceTheOldOnesWithOrWithoutAlerts) {
  TempDir tmp;
  const auto db = tmp / "d.db";
  {
    auto [store, engine] = open(db);
    ASSERT_TRUE(store);
    auto empty = store->event_marks();
    ASSERT_TRUE(empty) << empty.error();
    EXPECT_EQ(*empty, EventMarks{});
    EventMarks m;
    m.covered = {{"a", 10}, {"b", 20}};
    m.narrowed = {{"b", 4}};
    ASSERT_TRUE(store->insert_alerts({}, m));
    auto back = store->event_marks();
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(*back, m);
    // Rule a was removed, b moved on and reads full windows again.
    EventMarks next;
    next.covered = {{"b", 30}};
    ASSERT_TRUE(store->insert_alerts({}, next));
  }
  auto [store, engine] = open(db);
  ASSERT_TRUE(store);
  auto back = store->event_marks();
  ASSERT_TRUE(back) << back.error();
  EventMarks want;
  want.covered = {{"b", 30}};
  EXPECT_EQ(*back, want);
}

// What the rate limit still owes (EventMarks::held) is saved with the marks
// and read back by the next start; a save writes only the rules whose text
// changed (a flooded rule's 64 KiB sample is not written again while
// another rule's count moves).
TEST(SigmaMarks, WhatTheRateLimitOwesIsSavedWithTheMarks) {
  TempDir tmp;
  const auto db = tmp / "d.db";
  {
    auto [store, engine] = open(db);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->event_marks());
    EventMarks m;
    m.held = {{"a", HeldText(std::string(60000, 'x'))}, {"b", HeldText("{\"count\":1}")}};
    ASSERT_TRUE(store->insert_alerts({}, m));
    const auto before = store->total_changes();
    m.held["b"] = HeldText("{\"count\":2}");
    ASSERT_TRUE(store->insert_alerts({}, m));
    EXPECT_EQ(store->total_changes() - before, 1u) << "only b's row is written";
    m.held.erase("b");
    ASSERT_TRUE(store->insert_alerts({}, m));
    EXPECT_EQ(store->total_changes() - before, 2u) << "b's row is deleted, a's left alone";
  }
  auto [store, engine] = open(db);
  ASSERT_TRUE(store);
  auto back = store->event_marks();
  ASSERT_TRUE(back) << back.error();
  ASSERT_EQ(back->held.size(), 1u);
  EXPECT_EQ(back->held.at("a").text(), std::string(60000, 'x'));
  // A store opened without reading the marks first rewrites the table whole.
  {
    auto [blind, e] = open(db);
    ASSERT_TRUE(blind);
    EventMarks none;
    ASSERT_TRUE(blind->insert_alerts({}, none));
  }
  auto [again, e2] = open(db);
  auto empty = again->event_marks();
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_TRUE(empty->held.empty());
}

// A saved mark no scan can write (a damaged or hand-edited row) is reset
// and said, not used: a negative covered is dropped, a window outside
// 1..kMaxEventsPerScan goes back to a full one; sound marks load as saved.
TEST(SigmaMarks, MarksOutOfRangeAreResetAndSaid) {
  TempDir tmp;
  const auto db = tmp / "marks.db";
  {
    auto s = Store::open({.path = db});
    ASSERT_TRUE(s) << s.error();
    ASSERT_TRUE((*s)->insert_alerts({}, EventMarks{.covered = {{"bad-covered", 5}, {"bad-window", 7}, {"good", 9}},
                                                   .narrowed = {{"bad-window", 3}, {"good", 4}}}));
  }
  {
    test::Peek peek(db);
    peek.exec("UPDATE sigma_marks SET covered = -2 WHERE rule_id = 'bad-covered'");
    peek.exec("UPDATE sigma_marks SET narrowed = 0 WHERE rule_id = 'bad-window'");
    peek.exec("INSERT INTO sigma_marks (rule_id, covered, narrowed) VALUES ('huge-window', 1, 50001)");
  }
  std::vector<std::string> said;
  auto s = Store::open({.path = db, .log = [&](std::string_view m) { said.emplace_back(m); }});
  ASSERT_TRUE(s) << s.error();
  auto m = (*s)->event_marks();
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(*m, (EventMarks{.covered = {{"bad-window", 7}, {"good", 9}, {"huge-window", 1}}, .narrowed = {{"good", 4}}}));
  ASSERT_EQ(said.size(), 3u);
  std::sort(said.begin(), said.end());
  EXPECT_EQ(said[0], "the Sigma rule bad-covered's saved mark -2 is negative: reset (the rule starts as a new one)");
  EXPECT_EQ(said[1], "the Sigma rule bad-window's saved window 0 is outside 1..50000: reset (a full window)");
  EXPECT_EQ(said[2], "the Sigma rule huge-window's saved window 50001 is outside 1..50000: reset (a full window)");
}

}  // namespace
}  // namespace airssys::daemoneye
