// process_events ids never go back (schema version 3, AUTOINCREMENT): a
// Sigma rule's mark on the id stays below every event stored later, also
// after retention emptied the table, and a version-2 store is upgraded in
// place keeping its rows and ids. Real SQLite files in a temp dir.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_runner.hpp>
#include <airssys/daemoneye/store.hpp>
#include <ctime>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::Peek;
using test::proc;
using test::TempDir;

ProcessEvent exec_event(std::int64_t pid, std::int64_t time, std::string cmdline) {
  return {EventKind::exec, EventSource::ebpf, time, proc(pid, "sh", "/usr/bin/sh", std::move(cmdline))};
}

Rule marker_rule() {
  auto rule = parse_rule("title: marker\nid: marker\nlogsource: {product: linux, category: process_creation}\n"
                         "detection:\n  selection:\n    CommandLine|contains: evil-marker\n  condition: selection\n",
                         "marker.yml");
  EXPECT_TRUE(rule) << (rule ? "" : rule.error().message);
  return rule ? *rule : Rule{};
}

TEST(EventIds, ASigmaRuleStillFiresAfterRetentionEmptiedTheTable) {
  TempDir tmp;
  const auto db = tmp / "d.db";
  auto store = Store::open({.path = db, .retention = {.max_age = std::chrono::seconds(3600), .max_size_bytes = 0}});
  ASSERT_TRUE(store) << store.error();
  auto engine = QueryEngine::open(db);
  ASSERT_TRUE(engine) << engine.error();
  const std::vector rules{marker_rule()};
  const std::int64_t now = std::time(nullptr);

  std::vector<ProcessEvent> old;
  for (std::int64_t i = 0; i < 100; ++i) old.push_back(exec_event(1000 + i, now - 7200, "sh -c true"));
  ASSERT_TRUE((*store)->append_events(old));
  EventMarks marks;
  RuleRun first = run_rules(rules, **engine, "h", now, marks);
  EXPECT_TRUE(first.failures.empty());
  EXPECT_TRUE(first.candidates.empty());
  ASSERT_TRUE(marks.covered.contains("marker"));
  EXPECT_EQ(marks.covered.find("marker")->second, 100);

  auto removed = (*store)->enforce_retention(now);
  ASSERT_TRUE(removed) << removed.error();
  EXPECT_EQ(removed->events_deleted, 100u);
  Peek peek(db);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events"), 0);

  // More new events than the mark before the next scan: with ids starting
  // again at 1, the window (100, 150] would hold only the last 50.
  std::vector<ProcessEvent> fresh{exec_event(2000, now, "sh -c 'evil-marker first'")};
  for (std::int64_t i = 1; i < 149; ++i) fresh.push_back(exec_event(2000 + i, now, "sh -c true"));
  fresh.push_back(exec_event(2149, now, "sh -c 'evil-marker last'"));
  ASSERT_TRUE((*store)->append_events(fresh));
  EXPECT_GT(peek.integer("SELECT min(id) FROM process_events"), 100);

  RuleRun second = run_rules(rules, **engine, "h", now, marks);
  EXPECT_TRUE(second.failures.empty());
  std::vector<std::string> rows;
  for (const auto& a : second.candidates) rows.push_back(a.row_json);
  ASSERT_EQ(rows.size(), 2u) << fmt::format("{}", fmt::join(rows, "\n"));
  EXPECT_NE(rows[0].find("\"pid\":2000"), std::string::npos) << rows[0];
  EXPECT_NE(rows[1].find("\"pid\":2149"), std::string::npos) << rows[1];
}

TEST(EventIds, AVersion2StoreIsUpgradedKeepingItsRowsAndIds) {
  TempDir tmp;
  const auto db = tmp / "v2.db";
  {
    // process_events as schema version 2 made it (id without AUTOINCREMENT).
    auto c = sqlite::open(db.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(c) << c.error();
    ASSERT_TRUE(sqlite::exec(
        c->get(),
        "CREATE TABLE process_events (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, event TEXT NOT NULL, "
        "source TEXT NOT NULL, pid INTEGER, parent INTEGER, name TEXT, path TEXT, cmdline TEXT, cwd TEXT, "
        "uid INTEGER, euid INTEGER, gid INTEGER, egid INTEGER, username TEXT, auid INTEGER, sha256 TEXT, "
        "start_time INTEGER, parent_path TEXT, parent_cmdline TEXT, time_ns INTEGER, cmdline_size INTEGER, "
        "overflows TEXT, exit_code INTEGER, exit_signal INTEGER, cgroup_id INTEGER);"
        "CREATE INDEX process_events_time ON process_events(time);"
        "INSERT INTO process_events (id, time, event, source, pid, cmdline, exit_code) VALUES "
        "(3, 5, 'start', 'poll', 42, 'a b', NULL), (7, 6, 'stop', 'ebpf', 43, 'c', 9);"
        "PRAGMA user_version=2;"));
  }
  ::chmod(db.c_str(), 0600);
  std::vector<std::string> said;
  auto store = Store::open({.path = db, .log = [&](std::string_view m) { said.emplace_back(m); }});
  ASSERT_TRUE(store) << store.error();
  // The upgrade copies the table (seconds for millions of events): it says so before and after.
  ASSERT_EQ(said.size(), 2u);
  EXPECT_NE(said[0].find("upgrading the store " + db.string() + " to schema version 3 (copies process_events: 2 rows"),
            std::string::npos)
      << said[0];
  EXPECT_TRUE(said[1].starts_with("store upgraded to schema version 10 in ")) << said[1];
  Peek peek(db);
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  EXPECT_NE(peek.text("SELECT sql FROM sqlite_master WHERE name = 'process_events'").find("AUTOINCREMENT"),
            std::string::npos);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM sqlite_master WHERE name = 'process_events_time'"), 1);
  EXPECT_EQ(peek.text("SELECT group_concat(id || ':' || pid || ':' || cmdline || ':' || ifnull(exit_code, '-'), ' ') "
                      "FROM (SELECT * FROM process_events ORDER BY id)"),
            "3:42:a b:- 7:43:c:9");
  // Emptied, the table goes on after the largest id it ever held.
  peek.exec("DELETE FROM process_events");
  ASSERT_TRUE((*store)->append_events(std::vector{exec_event(44, 10, "x")}));
  EXPECT_EQ(peek.integer("SELECT id FROM process_events"), 8);
}

}  // namespace
}  // namespace airssys::daemoneye
