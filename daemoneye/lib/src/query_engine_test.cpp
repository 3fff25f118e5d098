#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/store.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sqlite3.h>
#include <string>
#include <vector>

#include "result_memory.hpp"
#include "socket_test_util.hpp"
#include "store_schema.hpp"
#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::proc;
using test::TempDir;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class QueryEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open({.path = tmp_ / "d.db"});
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
    std::vector<ProcessRecord> all;
    for (int i = 0; i < 200; ++i) all.push_back(proc(1000 + i, fmt::format("p{}", i)));
    auto bash = proc(100, "bash", "/usr/bin/bash", "bash -l", 1);
    bash.cpu_percent = 1.5;
    all.push_back(bash);
    ASSERT_TRUE(store_->apply_snapshot(all));
    // A time limit far above what the fixture's queries need: on a busy
    // machine under ASan (CI: two ctest jobs beside three builds) a query of
    // 32 regexp() calls over 201 rows is not done in 300 ms of wall time.
    // The tests about the clock use runaway_engine().
    engine_ = open_engine({.time = 60s, .max_rows = 10000});
  }
  // The limit the runaway queries run into: short, so that they end soon.
  std::unique_ptr<QueryEngine> runaway_engine() { return open_engine({.time = 300ms, .max_rows = 10000}); }
  std::unique_ptr<QueryEngine> open_engine(QueryLimits limits) {
    auto e = QueryEngine::open(tmp_ / "d.db", limits);
    EXPECT_TRUE(e) << (e ? "" : e.error().message);
    return e ? std::move(*e) : nullptr;
  }

  TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<QueryEngine> engine_;
};

TEST_F(QueryEngineTest, NormalQueryReturnsTypedValues) {
  auto r = engine_->run("SELECT pid, name, cpu_percent, NULL AS missing FROM processes WHERE name = 'bash'");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->columns, (std::vector<std::string>{"pid", "name", "cpu_percent", "missing"}));
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(r->rows[0][0]), 100);
  EXPECT_EQ(std::get<std::string>(r->rows[0][1]), "bash");
  EXPECT_EQ(std::get<double>(r->rows[0][2]), 1.5);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(r->rows[0][3]));
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(row_to_json(*r, 0), R"({"pid":100,"name":"bash","cpu_percent":1.5,"missing":null})");
}

TEST_F(QueryEngineTest, RowToJsonKeepsRepeatedColumnsAndReplacesBadUtf8) {
  auto joined = engine_->run(
      "SELECT p.pid, pp.pid, 'a' || char(10) || 'b' AS nl, CAST(x'ff41' AS TEXT) AS bad "
      "FROM processes AS p JOIN processes AS pp ON pp.pid = p.pid WHERE p.pid = 1000");
  ASSERT_TRUE(joined) << joined.error();
  ASSERT_EQ(joined->rows.size(), 1u);
  EXPECT_EQ(row_to_json(*joined, 0),
            "{\"pid\":1000,\"pid_2\":1000,\"nl\":\"a\\nb\",\"bad\":\"\xEF\xBF\xBD"
            "A\"}");
  EXPECT_EQ(row_to_json(*joined, 5), "{}");
}

TEST_F(QueryEngineTest, OsqueryStyleQueriesRun) {
  // Double-quoted strings (accepted by osquery's SQLite), joins, aggregates,
  // date and JSON functions, a bounded recursive CTE.
  for (const char* sql : {
           R"(SELECT pid FROM processes WHERE name = "bash")",
           "SELECT p.name, count(*) AS n FROM processes p JOIN processes c ON c.parent = p.pid GROUP BY "
           "p.pid",
           "SELECT datetime(start_time, 'unixepoch'), lower(name), instr(cmdline, '-l') FROM processes",
           "SELECT json_extract('{\"a\":[1,2]}', '$.a[1]'), '{\"b\":3}' ->> '$.b', 'pid=' || pid FROM "
           "processes",
           "WITH c(x) AS (SELECT 1 UNION ALL SELECT 2) SELECT count(*) FROM c, (SELECT pid FROM processes) "
           "AS sub",
           "WITH RECURSIVE up(pid) AS (SELECT 1005 UNION SELECT parent FROM processes JOIN up USING (pid)) "
           "SELECT pid FROM up",
           "SELECT count(*) FROM process_events UNION ALL SELECT count(*) FROM alerts UNION ALL "
           "SELECT count(*) FROM scans",
           "SELECT rowid, * FROM processes ORDER BY pid DESC LIMIT 3",
           "SELECT row_number() OVER (ORDER BY pid), pid FROM processes",
           "SELECT 1; -- a trailing comment ;\n ; /* and another */",
       }) {
    auto r = engine_->run(sql);
    EXPECT_TRUE(r) << sql << ": " << r.error();
  }
}

struct Refusal {
  const char* sql;
  const char* message;
};

TEST_F(QueryEngineTest, HostileSqlIsRefusedWithItsReason) {
  const std::string attach_target = (tmp_ / "stolen.db").string();
  const std::string vacuum_target = (tmp_ / "copy.db").string();
  const std::string attach = fmt::format("ATTACH DATABASE '{}' AS x", attach_target);
  const std::string vacuum_into = fmt::format("VACUUM INTO '{}'", vacuum_target);
  const std::vector<Refusal> cases{
      {"INSERT INTO processes (pid) VALUES (1)", "not allowed: INSERT into processes"},
      {"UPDATE processes SET name = 'x'", "not allowed: UPDATE of processes"},
      {"DELETE FROM alerts", "not allowed: DELETE from alerts"},
      {"REPLACE INTO scans (scan_id, time) VALUES (1, 1)", "not allowed: INSERT into scans"},
      {"DROP TABLE processes", "not allowed: DROP (schema changes)"},
      {"CREATE TABLE t (x)", "not allowed: CREATE (schema changes)"},
      {"CREATE TEMP TABLE t (x)", "not allowed: CREATE TEMP (temporary tables, views, indexes, triggers)"},
      {"CREATE TEMP VIEW v AS SELECT 1",
       "not allowed: CREATE TEMP (temporary tables, views, indexes, triggers)"},
      {"CREATE TEMP TRIGGER t AFTER INSERT ON processes BEGIN SELECT 1; END",
       "not allowed: CREATE TEMP TRIGGER t"},
      {"ALTER TABLE processes ADD COLUMN x", "not allowed: ALTER TABLE processes"},
      {attach.c_str(), "not allowed: ATTACH"},
      {"DETACH DATABASE main", "not allowed: DETACH"},
      {"PRAGMA journal_mode", "not allowed: PRAGMA journal_mode"},
      {"PRAGMA journal_mode = DELETE", "not allowed: PRAGMA journal_mode"},
      {"PRAGMA writable_schema = ON", "not allowed: PRAGMA writable_schema"},
      {"SELECT load_extension('/tmp/evil.so')", "not allowed: function load_extension"},
      {"SELECT fts3_tokenizer('simple')", "not allowed: function fts3_tokenizer"},
      {"SELECT random()", "not allowed: function random"},
      {"SELECT zeroblob(1000000000)", "not allowed: function zeroblob"},
      {"SELECT sqlite_version()", "not allowed: function sqlite_version"},
      {"SELECT name FROM sqlite_master",
       "not allowed: read of table sqlite_master (readable: processes, process_events, alerts, scans, process_open_sockets, listening_ports, users, groups, excepted_alerts, process_memory_map)"},
      {"SELECT * FROM pragma_table_info('processes')",
       "not allowed: UPDATE of sqlite_master (table-valued functions such as json_each and pragma_* need "
       "it)"},
      {"SELECT value FROM json_each('[1,2]')",
       "not allowed: UPDATE of sqlite_master (table-valued functions such as json_each and pragma_* need "
       "it)"},
      {"BEGIN", "not allowed: BEGIN (transactions)"},
      {"COMMIT", "not allowed: COMMIT (transactions)"},
      {"SAVEPOINT a", "not allowed: SAVEPOINT"},
      {"VACUUM", "not allowed: VACUUM (only read-only SELECT statements)"},
      {vacuum_into.c_str(), "not allowed: VACUUM (only read-only SELECT statements)"},
      {"REINDEX", "not allowed: REINDEX"},
      {"SELECT count(*) FROM sqlite_master",
       "not allowed: read of table sqlite_master (readable: processes, process_events, alerts, scans, process_open_sockets, listening_ports, users, groups, excepted_alerts, process_memory_map)"},
      // The agent's own tables: not even their row count (a column-less read).
      {"SELECT count(*) FROM sigma_marks",
       "not allowed: read of table sigma_marks (readable: processes, process_events, alerts, scans, process_open_sockets, listening_ports, users, groups, excepted_alerts, process_memory_map)"},
      {"SELECT 1 FROM alert_ledger",
       "not allowed: read of table alert_ledger (readable: processes, process_events, alerts, scans, process_open_sockets, listening_ports, users, groups, excepted_alerts, process_memory_map)"},
      {"SELECT count(*) FROM processes, sigma_marks",
       "not allowed: read of table sigma_marks (readable: processes, process_events, alerts, scans, process_open_sockets, listening_ports, users, groups, excepted_alerts, process_memory_map)"},
      {"SELECT printf('%.*c', 2147483647, 'x')", "not allowed: function printf"},
      {"SELECT format('%d', 1)", "not allowed: function format"},
      {"SELECT 1; DROP TABLE processes", "only one statement per query"},
      {"SELECT 1; SELECT 2", "only one statement per query"},
      {"SELECT 1 /* c */ ; x", "only one statement per query"},
      {"SELECT foo FROM processes", "no such column: foo"},
      // osquery's other tables are not here: which are is said.
      {"SELECT * FROM nosuch",
       "no such table: nosuch (readable: processes, process_events, alerts, scans, process_open_sockets, listening_ports, users, groups, excepted_alerts, process_memory_map)"},
      // listening_ports is the engine's own TEMP view: not to be dropped or shadowed.
      {"DROP VIEW listening_ports", "not allowed: DROP TEMP (temporary objects)"},
      {"CREATE TEMP VIEW users AS SELECT 1", "not allowed: CREATE TEMP (temporary tables, views, indexes, triggers)"},
      {"SELEC 1", "near \"SELEC\": syntax error"},
      {"SELECT nosuchfn(1)", "no such function: nosuchfn"},
      {"", "empty query"},
      {"  -- only a comment\n", "empty query"},
  };
  for (const auto& c : cases) {
    // What the guard refuses is denied; SQL that does not compile is the input's fault.
    const ErrorCategory want = std::string_view(c.message).starts_with("not allowed") ? ErrorCategory::denied : ErrorCategory::invalid_input;
    auto checked = engine_->check(c.sql);
    ASSERT_FALSE(checked) << c.sql;
    EXPECT_EQ(checked.error(), Error::make(want, c.message)) << c.sql;
    auto ran = engine_->run(c.sql);
    ASSERT_FALSE(ran) << c.sql;
    EXPECT_EQ(ran.error(), Error::make(want, c.message)) << c.sql;
  }
  EXPECT_FALSE(fs::exists(attach_target));
  EXPECT_FALSE(fs::exists(vacuum_target));
  // Nothing changed, and the engine still answers.
  auto n = engine_->run("SELECT count(*) FROM processes");
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(std::get<std::int64_t>(n->rows[0][0]), 201);
}

// Each regexp() call site may hold 1 MiB of PCRE2 heap outside SQLite's
// limit, so a statement (a rule or a live query) has at most 32 of them.
TEST_F(QueryEngineTest, MoreThan32RegexpCallsAreRefused) {
  const auto query = [](int calls) {
    std::string where;
    for (int i = 0; i < calls; ++i) {
      if (i > 0) where += " OR ";
      // Both spellings are the same function.
      where += i % 2 == 0 ? fmt::format("regexp('^p{}$', name)", i) : fmt::format("name REGEXP '^p{}$'", i);
    }
    return "SELECT count(*) FROM processes WHERE " + where;
  };
  const std::string refusal =
      "not allowed: more than 32 regexp()/REGEXP calls in one query (each may hold 1024 KiB of matching memory)";
  auto over = engine_->run(query(33));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().category, ErrorCategory::denied);
  EXPECT_EQ(over.error().message, refusal);
  // The count is per statement: 32 runs, also right after a refusal and twice.
  for (int round = 0; round < 2; ++round) {
    auto at = engine_->run(query(32));
    ASSERT_TRUE(at) << at.error();
    EXPECT_EQ(std::get<std::int64_t>(at->rows[0][0]), 32);  // p0 … p31
  }
  // A CTE used twice is compiled twice: 17 calls in it count 34.
  std::string cte = "WITH m AS (SELECT pid FROM processes WHERE regexp('^p0$', name)";
  for (int i = 1; i < 17; ++i) cte += fmt::format(" OR regexp('^p{}$', name)", i);
  cte += ") SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM m)";
  auto twice = engine_->run(cte);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, refusal);
  // A Sigma rule with the most regexes its loader allows still compiles.
  std::string yml = "title: t\nid: t\nlevel: high\nlogsource: {product: linux, category: process_creation}\n"
                    "detection:\n  s:\n    CommandLine|re:\n";
  for (int i = 0; i < 32; ++i) yml += fmt::format("      - 'x{}'\n", i);
  yml += "  condition: s\n";
  auto rule = parse_rule(yml, "t.yml");
  ASSERT_TRUE(rule) << rule.error().message;
  auto cols = engine_->columns(rule->query);
  EXPECT_TRUE(cols) << cols.error();
}

// SQLite copies an aliased expression into WHERE (and HAVING): each copy is
// a call site of its own with its own match heap, which the authorizer
// never sees. regexp() itself refuses the 33rd pattern held at once.
TEST_F(QueryEngineTest, RegexpCallSitesCopiedFromAnAliasAreCountedToo) {
  const auto query = [](int copies) {
    std::string where = "r";
    for (int i = 1; i < copies; ++i) where += " AND r";
    return "SELECT regexp('^p1$', name) AS r FROM processes WHERE " + where;
  };
  // One written call: the authorizer lets it through.
  ASSERT_TRUE(engine_->check(query(200))) << engine_->check(query(200)).error();
  auto many = engine_->run(query(200));
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error().category, ErrorCategory::denied);
  EXPECT_EQ(many.error().message,
            "not allowed: more than 32 regexp()/REGEXP calls in one query (each may hold 1024 KiB of matching memory; "
            "an alias used in WHERE or HAVING is a call of its own)");
  // A few copies are within the bound, also right after the refusal.
  auto few = engine_->run(query(8));
  ASSERT_TRUE(few) << few.error();
  ASSERT_EQ(few->rows.size(), 1u);
  // A pattern read from a column is compiled per row and freed after it:
  // any number of rows is fine.
  auto per_row = engine_->run("SELECT count(*) FROM processes WHERE regexp(name, name)");
  ASSERT_TRUE(per_row) << per_row.error();
  EXPECT_EQ(std::get<std::int64_t>(per_row->rows[0][0]), 201);
}

TEST_F(QueryEngineTest, NulByteIsRefused) {
  const std::string sql("SELECT 1\0; DROP TABLE processes", 32);
  auto r = engine_->check(sql);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "query contains a NUL byte");
}

TEST_F(QueryEngineTest, EndlessRecursiveCteHitsTheTimeLimit) {
  const char* sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
  auto engine = runaway_engine();
  ASSERT_TRUE(engine);
  EXPECT_TRUE(engine->check(sql));  // valid SQL: only running it is bounded
  const auto start = std::chrono::steady_clock::now();
  auto r = engine->run(sql);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Error::make(ErrorCategory::timeout, "time limit exceeded (300 ms)"));
  // Bounded, with a wide margin for a loaded machine under ASan.
  EXPECT_LT(took, 30s);
  // The connection is usable afterwards.
  EXPECT_TRUE(engine->run("SELECT 1"));
}

// Sets SQLite's process-wide heap limit for a scope and puts back the one
// before, also when an assertion returns early.
struct HeapLimitFor {
  explicit HeapLimitFor(std::int64_t n) : before(::sqlite3_hard_heap_limit64(n)) {}
  ~HeapLimitFor() { ::sqlite3_hard_heap_limit64(before); }
  HeapLimitFor(const HeapLimitFor&) = delete;
  HeapLimitFor& operator=(const HeapLimitFor&) = delete;
  std::int64_t before;
};

// A sort that spills: 150,000 rows of ~310 bytes (45 MB) are more than the
// sorter's memory (cache_size=-16384: 16 MiB). The two newest rows come
// first. No LIMIT: with one SQLite keeps only the top rows (no spill); the
// engine's max_rows cuts the result instead.
Result<QueryResult> spilling_sort(QueryEngine& e) {
  // (1000000 + x) || pad: text that sorts as x does (printf is not allowed).
  const std::string pad(300, 'p');
  return e.run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 150000) "
               "SELECT x, (1000000 + x) || '" + pad + "' AS pad FROM c ORDER BY pad DESC");
}

void expect_sorted(const Result<QueryResult>& r) {
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_GE(r->rows.size(), 2U);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(std::get<std::int64_t>(r->rows[0][0]), 150000);
  EXPECT_EQ(std::get<std::int64_t>(r->rows[1][0]), 149999);
}

TEST_F(QueryEngineTest, WhatAQuerySortsSpillsToBoundedTemporaryFiles) {
  ASSERT_EQ(::sqlite3_hard_heap_limit64(-1), kSqliteHeapLimit);  // open() set it: this process set none
  // A sort larger than the heap limit: 45 MB under a 32 MiB limit. With
  // temp_store=MEMORY (3b3b4bb) it failed as out of memory, as an ORDER BY
  // over a full store did under the default 256 MiB; spilled to temporary
  // files it comes back in order.
  {
    HeapLimitFor small(32 << 20);
    auto e = open_engine({.time = 120s, .max_rows = 2});
    ASSERT_TRUE(e);
    expect_sorted(spilling_sort(*e));
  }
  // An ORDER BY or a window over an endless CTE: in memory it ran to the
  // heap limit; in files without a cap it wrote /var/tmp until the time
  // limit (60 s here, up to 10 minutes for a rule). The cap fails it.
  auto e = open_engine({.time = 120s, .max_rows = 2, .max_temp_bytes = std::int64_t{64} << 20});
  ASSERT_TRUE(e);
  for (const char* sql : {"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c ORDER BY x DESC",
                          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT sum(x) OVER () FROM c"}) {
    auto r = e->run(sql);
    ASSERT_FALSE(r) << sql;
    EXPECT_EQ(r.error().category, ErrorCategory::resource_exhausted) << sql << ": " << r.error().message;
    EXPECT_EQ(r.error().message, "temporary files limit exceeded (64 MiB: what the query sorts or buffers)") << sql;
  }
  // The engine still answers afterwards, and the files' bytes were given
  // back: the 45 MB spill fits the 64 MiB cap only if nothing is left
  // counted from the refused queries or the run before (twice: a run that
  // kept its bytes fails the next).
  auto ok = e->run("SELECT count(*) FROM processes");
  ASSERT_TRUE(ok) << ok.error().message;
  expect_sorted(spilling_sort(*e));
  expect_sorted(spilling_sort(*e));
  EXPECT_EQ(::sqlite3_hard_heap_limit64(-1), kSqliteHeapLimit);
}

// What the installed agent sees: its unit (ProtectSystem=strict) leaves
// /tmp, /var/tmp and the working directory "/" read-only, so SQLite's own
// choice of directory fails every spilling sort with "disk I/O error";
// temp_dir (the agent passes its database's directory) makes it work.
// Run in a forked child in a mount namespace of its own, where /tmp and
// /var/tmp (and TMPDIR, SQLITE_TMPDIR) are remounted read-only and the
// working directory is /tmp. Exit: 0 sorted, 1 the query failed (message
// on stderr), 77 no namespace (not allowed here), 2 setup failed.
int spill_in_read_only_namespace(const fs::path& db, const fs::path& temp_dir) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(77);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
    std::vector<std::string> dirs{"/tmp", "/var/tmp", "/usr/tmp"};
    for (const char* env : {"TMPDIR", "SQLITE_TMPDIR"})
      if (const char* v = std::getenv(env); v != nullptr && *v != '\0') dirs.emplace_back(v);
    for (const auto& d : dirs) {
      struct stat st {};
      if (::stat(d.c_str(), &st) != 0) continue;
      if (::mount(d.c_str(), d.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
          ::mount(nullptr, d.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
        ::_exit(2);
    }
    if (::chdir("/tmp") != 0 || ::access("/tmp", W_OK) == 0) ::_exit(2);
    // The store's own directory must still be writable (it is not under /tmp).
    if (::access(db.parent_path().c_str(), W_OK) != 0) ::_exit(77);
    auto e = QueryEngine::open(db, {.time = 120s, .max_rows = 2, .temp_dir = temp_dir});
    if (!e) {
      std::fprintf(stderr, "open: %s\n", e.error().message.c_str());
      ::_exit(2);
    }
    auto r = spilling_sort(**e);
    if (!r) {
      std::fprintf(stderr, "query: %s\n", r.error().message.c_str());
      ::_exit(1);
    }
    const bool sorted = r->rows.size() == 2 && std::get<std::int64_t>(r->rows[0][0]) == 150000;
    ::_exit(sorted ? 0 : 2);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(QueryEngineTempDir, SortsSpillToTempDirWhereTheDefaultsAreReadOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a mount namespace)";
  // Under the working directory (the build tree), not /tmp: /tmp is made
  // read-only in the child.
  std::string name = (fs::current_path() / "query-engine-temp-dir-XXXXXX").string();
  ASSERT_NE(::mkdtemp(name.data()), nullptr);
  const fs::path dir = name;
  struct Remove {
    fs::path p;
    ~Remove() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } remove{dir};
  {
    auto s = Store::open({.path = dir / "d.db"});
    ASSERT_TRUE(s) << s.error();
  }
  fs::create_directory(dir / "spill");
  fs::permissions(dir / "spill", fs::perms::owner_all);

  const int with_dir = spill_in_read_only_namespace(dir / "d.db", dir / "spill");
  if (with_dir == 77) GTEST_SKIP() << "no mount namespace here (or the build tree is under /tmp)";
  EXPECT_EQ(with_dir, 0);
  // Unlinked as they were opened: nothing is left behind.
  EXPECT_TRUE(fs::is_empty(dir / "spill"));
  // The same sort with SQLite's default directories fails: it spills.
  EXPECT_EQ(spill_in_read_only_namespace(dir / "d.db", {}), 1);

  auto bad = QueryEngine::open(dir / "d.db", {.temp_dir = dir / "none"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, fmt::format("temporary files directory {}: not a directory", (dir / "none").string()));
}

TEST_F(QueryEngineTest, HugeCrossJoinHitsTheTimeLimit) {
  auto engine = runaway_engine();
  ASSERT_TRUE(engine);
  auto r = engine->run(
      "SELECT count(*) FROM processes a, processes b, processes c, processes d, processes e WHERE a.name <> "
      "e.cmdline");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "time limit exceeded (300 ms)");
}

TEST_F(QueryEngineTest, HugeStringsHitTheLengthLimit) {
  // Doubling a string: 2^20 bytes is over the 256 KiB limit.
  auto r = engine_->run(
      "WITH RECURSIVE s(x, n) AS (SELECT 'ab', 1 UNION ALL SELECT x || x, n + 1 FROM s WHERE n < 20) "
      "SELECT max(length(x)) FROM s");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Error::make(ErrorCategory::resource_exhausted, "string or blob too big"));
}

TEST_F(QueryEngineTest, RowLimitTruncates) {
  auto small = open_engine({.time = 60s, .max_rows = 5});
  ASSERT_TRUE(small);
  auto r = small->run("SELECT pid FROM processes ORDER BY pid");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->rows.size(), 5u);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(std::get<std::int64_t>(r->rows[4][0]), 1003);
  // Exactly max_rows rows is not truncated.
  auto exact = small->run("SELECT pid FROM processes ORDER BY pid LIMIT 5");
  ASSERT_TRUE(exact) << exact.error();
  EXPECT_EQ(exact->rows.size(), 5u);
  EXPECT_FALSE(exact->truncated);
  // An endless stream of rows is cut by the row limit, not the clock.
  auto endless =
      small->run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c");
  ASSERT_TRUE(endless) << endless.error();
  EXPECT_TRUE(endless->truncated);
  EXPECT_EQ(small->limits().max_rows, 5u);
}

// Long command lines (200 KiB each, under the 256 KiB value limit) in a real
// store: the byte limit cuts the result where the row limit would not.
class QueryEngineBytesTest : public QueryEngineTest {
 protected:
  static constexpr std::size_t kCmdline = 200 * 1024;
  void SetUp() override {
    QueryEngineTest::SetUp();
    std::vector<ProcessRecord> all;
    for (int i = 0; i < 20; ++i) {
      auto p = proc(2000 + i, fmt::format("long{}", i), "/usr/bin/long");
      p.cmdline = fmt::format("{:05} ", i) + std::string(kCmdline - 6, 'x');
      all.push_back(std::move(p));
    }
    ASSERT_TRUE(store_->apply_snapshot(all));
  }
};

TEST_F(QueryEngineBytesTest, DefaultLimitCutsAnAmplifiedResult) {
  auto e = open_engine({.time = 10s, .max_rows = 10000});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->limits().max_bytes, 16u * 1024 * 1024);
  // 8 copies of a 200 KiB column: 1.6 MB a row; 20 rows would be 32 MB.
  auto r = e->run(
      "SELECT pid, cmdline AS c1, cmdline AS c2, cmdline AS c3, cmdline AS c4, cmdline AS c5, cmdline AS c6, "
      "cmdline AS c7, cmdline AS c8 FROM processes ORDER BY pid");
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->truncated);
  // 10 rows are 16,384,000 bytes of text (and ~4 KB of rows and heap
  // blocks); the 11th would pass 16 MiB.
  ASSERT_EQ(r->rows.size(), 10u);
  EXPECT_EQ(std::get<std::int64_t>(r->rows[9][0]), 2009);
  std::size_t bytes = 0;
  for (const auto& row : r->rows) {
    for (std::size_t c = 1; c < row.size(); ++c) bytes += std::get<std::string>(row[c]).size();
  }
  EXPECT_EQ(bytes, 10u * 8 * kCmdline);
  EXPECT_EQ(std::get<std::string>(r->rows[9][8]).substr(0, 6), "00009 ");
}

TEST_F(QueryEngineBytesTest, RowsThatFitAreKeptAndEveryValueCounts) {
  // A row of one long cmdline: its row and its string's heap block.
  const std::size_t row = detail::row_memory(1) + detail::string_heap(kCmdline);
  auto e = open_engine({.time = 10s, .max_rows = 10000, .max_bytes = 5 * row});
  ASSERT_TRUE(e);
  auto r = e->run("SELECT cmdline FROM processes WHERE name LIKE 'long%' ORDER BY pid");
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->truncated);
  ASSERT_EQ(r->rows.size(), 5u);
  EXPECT_EQ(std::get<std::string>(r->rows[4][0]).substr(0, 6), "00004 ");
  // A result of exactly max_bytes is whole.
  auto exact = e->run("SELECT cmdline FROM processes WHERE name LIKE 'long%' ORDER BY pid LIMIT 5");
  ASSERT_TRUE(exact) << exact.error();
  EXPECT_EQ(exact->rows.size(), 5u);
  EXPECT_FALSE(exact->truncated);
  // Integers, reals and NULLs count too (a Value each: outside probe,
  // session 13, a million rows of 64 numbers grew daemoneye-cli to 3 GB
  // when they counted 0): room for 100 rows of three numbers holds 100.
  auto narrow = open_engine({.time = 10s, .max_rows = 10000, .max_bytes = 100 * detail::row_memory(3)});
  ASSERT_TRUE(narrow);
  auto numbers = narrow->run("SELECT pid, cpu_percent, NULL FROM processes");
  ASSERT_TRUE(numbers) << numbers.error();
  EXPECT_EQ(numbers->rows.size(), 20u);
  EXPECT_FALSE(numbers->truncated);
  auto many = narrow->run(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x, x * 0.5, NULL FROM c LIMIT 1000");
  ASSERT_TRUE(many) << many.error();
  EXPECT_TRUE(many->truncated);
  EXPECT_EQ(many->rows.size(), 100u);
  // A single row larger than the whole limit: nothing of it is returned.
  auto tiny = open_engine({.time = 10s, .max_rows = 10000, .max_bytes = kCmdline - 1});
  ASSERT_TRUE(tiny);
  auto one = tiny->run("SELECT name, cmdline FROM processes WHERE name = 'long0'");
  ASSERT_TRUE(one) << one.error();
  EXPECT_TRUE(one->rows.empty());
  EXPECT_TRUE(one->truncated);
}

TEST_F(QueryEngineTest, SeesWhatTheStoreCommitsLater) {
  ASSERT_TRUE(store_->apply_snapshot(std::vector{proc(7, "late")}));
  auto r = engine_->run("SELECT name FROM processes");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(std::get<std::string>(r->rows[0][0]), "late");
}

TEST_F(QueryEngineTest, ColumnsNamesTheResult) {
  auto c = engine_->columns("SELECT pid, name AS n, 1 + 1 FROM processes");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(*c, (std::vector<std::string>{"pid", "n", "1 + 1"}));
  auto bad = engine_->columns("PRAGMA user_version");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "not allowed: PRAGMA user_version");
}

TEST(QueryEngineOpen, MissingSymlinkedOrBogusDatabaseIsAnError) {
  TempDir tmp;
  auto missing = QueryEngine::open(tmp / "none.db");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find((tmp / "none.db").string()), std::string::npos) << missing.error().message;
  EXPECT_FALSE(fs::exists(tmp / "none.db"));  // never created by the reader

  ASSERT_TRUE(Store::open({.path = tmp / "real.db"}));
  fs::create_symlink(tmp / "real.db", tmp / "link.db");
  auto link = QueryEngine::open(tmp / "link.db");
  ASSERT_FALSE(link);
  EXPECT_NE(link.error().message.find("symbolic link"), std::string::npos) << link.error().message;
  EXPECT_EQ(link.error().category, ErrorCategory::denied);

  // A FIFO: SQLite's open() waited for a writer, forever (outside probe,
  // session 11); a directory was "disk I/O error".
  ASSERT_EQ(::mkfifo((tmp / "fifo.db").c_str(), 0600), 0);
  fs::create_directory(tmp / "dir.db");
  for (const char* name : {"fifo.db", "dir.db"}) {
    auto odd = QueryEngine::open(tmp / name);
    ASSERT_FALSE(odd) << name;
    EXPECT_EQ(odd.error().message, fmt::format("refusing {}: not a regular file", (tmp / name).string()));
    EXPECT_EQ(odd.error().category, ErrorCategory::invalid_input);
  }

  test::write_file(tmp / "junk.db", std::string(4096, 'j'));
  auto junk = QueryEngine::open(tmp / "junk.db");
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().message.find("not a database"), std::string::npos) << junk.error().message;
  EXPECT_EQ(junk.error().category, ErrorCategory::corrupt);
}

// A store the agent has not upgraded yet (a new CLI before the agent's
// restart) lacks the newest columns: "no such column" says why.
TEST(QueryEngineOpen, AMissingColumnOfAnOlderStoreSaysTheAgentUpgradesIt) {
  TempDir tmp;
  ASSERT_TRUE(Store::open({.path = tmp / "d.db"}));
  const auto query = [&](const char* sql) {
    auto e = QueryEngine::open(tmp / "d.db");
    EXPECT_TRUE(e) << (e ? "" : e.error().message);
    if (!e) return std::string("open failed");
    auto r = (*e)->run(sql);
    return r ? std::string("ran") : r.error().message;
  };
  // Current: a misspelt column is only that.
  EXPECT_EQ(query("SELECT nosuch FROM processes"), "no such column: nosuch");
  sqlite3* raw = nullptr;
  ASSERT_EQ(::sqlite3_open((tmp / "d.db").c_str(), &raw), SQLITE_OK);
  const std::string older = fmt::format("PRAGMA user_version={}", schema::kVersion - 1);
  ASSERT_EQ(::sqlite3_exec(raw, older.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  ::sqlite3_close(raw);
  EXPECT_EQ(query("SELECT nosuch FROM processes"),
            fmt::format("no such column: nosuch (the store is at schema version {}, this program's is {}: the agent "
                        "adds the newer columns when it next starts)",
                        schema::kVersion - 1, schema::kVersion));
  EXPECT_EQ(query("SELECT pid FROM processes"), "ran");
}

// osquery's listening_ports over the stored sockets: TCP with no remote
// (LISTEN, and one bound but not listening, as osquery shows it), UDP with
// no remote, unix sockets bound to a path; not connected ones, not unbound
// unix ones. Unix rows: port and socket 0; inet rows: path ''.
TEST_F(QueryEngineTest, ListeningPortsIsOsquerysViewOfTheStoredSockets) {
  using test::inet_socket_row;
  using test::unix_socket_row;
  std::vector<osl::proc::OpenSocket> rows{
      inet_socket_row(100, 3, 2, 6, "0.0.0.0", 0, "LISTEN"),          // listed
      inet_socket_row(100, 4, 10, 6, "::", 0, "LISTEN"),              // listed
      inet_socket_row(100, 5, 2, 6, "10.0.0.9", 443, "ESTABLISHED"),  // not: connected
      inet_socket_row(100, 6, 2, 17, "0.0.0.0", 0, ""),               // listed: UDP bound
      inet_socket_row(100, 7, 2, 17, "10.0.0.9", 53, ""),             // not: connected UDP
      unix_socket_row(100, 8, "/run/app.sock"),                       // listed
      unix_socket_row(100, 9, ""),                                    // not: unbound unix
      unix_socket_row(100, 10, "@abstract"),                          // listed
  };
  rows[0].entry.local_address = "127.0.0.1";
  ASSERT_TRUE(store_->replace_sockets(rows));
  auto r = engine_->run(
      "SELECT pid, port, protocol, family, address, fd, socket, path, net_namespace FROM listening_ports ORDER BY fd");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->columns, (std::vector<std::string>{"pid", "port", "protocol", "family", "address", "fd", "socket",
                                                  "path", "net_namespace"}));
  std::vector<std::string> got;
  for (const auto& row : r->rows) {
    std::string line;
    for (const auto& v : row) {
      if (!line.empty()) line += '|';
      if (const auto* i = std::get_if<std::int64_t>(&v)) line += std::to_string(*i);
      else if (const auto* t = std::get_if<std::string>(&v)) line += *t;
      else line += "?";
    }
    got.push_back(line);
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "100|40003|6|2|127.0.0.1|3|5000010003||4026531840",
                     "100|40004|6|10|fd00::5|4|5000010004||4026531840",
                     "100|40006|17|2|10.0.0.5|6|5000010006||4026531840",
                     "100|0|0|1||8|0|/run/app.sock|4026531840",
                     "100|0|0|1||10|0|@abstract|4026531840",
                 }));
  // A rule's join, and the column-less read of count(*), pass the authorizer.
  auto joined = engine_->run(
      "SELECT p.name, l.port FROM listening_ports l JOIN processes p USING (pid) WHERE l.protocol = 6 ORDER BY l.port");
  ASSERT_TRUE(joined) << joined.error();
  ASSERT_EQ(joined->rows.size(), 2u);
  EXPECT_EQ(std::get<std::string>(joined->rows[0][0]), "bash");
  auto n = engine_->run("SELECT count(*) FROM listening_ports");
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(std::get<std::int64_t>(n->rows[0][0]), 5);
  // Still read-only and guarded underneath: a function the view does not
  // call is refused as anywhere else.
  auto bad = engine_->run("SELECT random() FROM listening_ports");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "not allowed: function random");
}

// users and groups came with schema 8: on an older store the CLI says the
// agent adds them, not that they do not exist.
TEST(QueryEngineOpen, UsersOfAStoreBeforeSchema8SaysTheAgentAddsThem) {
  TempDir tmp;
  ASSERT_TRUE(Store::open({.path = tmp / "d.db"}));
  sqlite3* raw = nullptr;
  ASSERT_EQ(::sqlite3_open((tmp / "d.db").c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(::sqlite3_exec(raw, "DROP TABLE users; DROP TABLE groups; PRAGMA user_version=7", nullptr, nullptr, nullptr),
            SQLITE_OK);
  ::sqlite3_close(raw);
  auto e = QueryEngine::open(tmp / "d.db");
  ASSERT_TRUE(e) << e.error();
  auto r = (*e)->run("SELECT username FROM users WHERE uid = 0");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            fmt::format("no such table: users (the store is at schema version 7, this program's is {}: the agent "
                        "adds the users and groups tables when it next starts)",
                        schema::kVersion));
}

}  // namespace
}  // namespace airssys::daemoneye
