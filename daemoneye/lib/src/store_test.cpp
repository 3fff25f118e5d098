#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/store.hpp>
#include <filesystem>
#include <memory>
#include <vector>

#include "sqlite_util.hpp"
#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::Peek;
using test::proc;
using test::TempDir;
namespace fs = std::filesystem;

std::unique_ptr<Store> open_store(const fs::path& db, RetentionOptions retention = {}) {
  auto s = Store::open({.path = db, .retention = retention});
  EXPECT_TRUE(s) << (s ? std::string() : s.error().to_string());
  return s ? std::move(*s) : nullptr;
}

std::vector<ProcessRecord> many(std::int64_t first, std::size_t n) {
  std::vector<ProcessRecord> out;
  for (std::size_t i = 0; i < n; ++i) {
    const auto pid = first + static_cast<std::int64_t>(i);
    out.push_back(proc(pid, fmt::format("p{}", pid), "/usr/bin/p", fmt::format("/usr/bin/p --n {}", pid)));
  }
  return out;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// After a refused snapshot: the mirror and the table hold `all` (pids from
// 100 on, as many() makes them) and not `absent`, and applying `all` again
// changes nothing.
void expect_only(Store& store, const fs::path& db, const std::vector<ProcessRecord>& all, std::int64_t absent) {
  EXPECT_EQ(store.process_count(), all.size());
  EXPECT_EQ(store.process(absent), nullptr);
  ASSERT_NE(store.process(100), nullptr);
  EXPECT_EQ(store.process(100)->cmdline, all[0].cmdline);
  Peek peek(db);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes"), static_cast<std::int64_t>(all.size()));
  EXPECT_EQ(peek.text("SELECT cmdline FROM processes WHERE pid = 100"), all[0].cmdline);
  auto idle = store.apply_snapshot(all);
  ASSERT_TRUE(idle) << idle.error();
  EXPECT_EQ(idle->unchanged, all.size());
}

// A new store at d.db in a temp dir, with the default retention.
class StoreInTempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    store = open_store(tmp / "d.db");
    ASSERT_TRUE(store);
  }
  TempDir tmp;
  std::unique_ptr<Store> store;
};

TEST(Store, CreatesDatabase0600InA0700DirectoryItMakes) {
  TempDir tmp;
  const fs::path db = tmp / "var/lib/de/daemoneye.db";
  auto store = open_store(db);
  ASSERT_TRUE(store);
  EXPECT_EQ(mode_of(db), 0600u);
  EXPECT_EQ(mode_of(tmp / "var"), 0700u);
  EXPECT_EQ(mode_of(tmp / "var/lib/de"), 0700u);
  auto all = many(100, 3);
  ASSERT_TRUE(store->apply_snapshot(all));
  // SQLite gives the WAL the database file's mode.
  EXPECT_EQ(mode_of(fs::path(db.string() + "-wal")), 0600u);
  Peek peek(db);
  EXPECT_EQ(peek.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
}

TEST(Store, UpgradesAVersion1StoreKeepingItsRows) {
  TempDir tmp;
  const fs::path db = tmp / "old.db";
  {
    // The version-1 process_events table, as session 3's agent created it.
    auto c = sqlite::open(db.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(c) << c.error();
    ASSERT_TRUE(sqlite::exec(c->get(),
                             "CREATE TABLE process_events (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, "
                             "event TEXT NOT NULL, source TEXT NOT NULL, pid INTEGER, parent INTEGER, name TEXT, "
                             "path TEXT, cmdline TEXT, cwd TEXT, uid INTEGER, euid INTEGER, gid INTEGER, egid INTEGER, "
                             "username TEXT, auid INTEGER, sha256 TEXT, start_time INTEGER, parent_path TEXT, "
                             "parent_cmdline TEXT);"
                             "INSERT INTO process_events (time, event, source, pid) VALUES (5, 'start', 'poll', 42);"
                             "PRAGMA user_version=1;"));
  }
  ::chmod(db.c_str(), 0600);
  auto store = open_store(db);
  ASSERT_TRUE(store);
  ProcessEvent e{EventKind::stop, EventSource::ebpf, 6, proc(43, "x", "/x", "x")};
  e.exit_code = 0;
  ASSERT_TRUE(store->append_events(std::vector{e}));
  Peek peek(db);
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events"), 2);
  EXPECT_EQ(peek.text("SELECT ifnull(exit_code, 'null') FROM process_events WHERE pid = 42"), "null");
  EXPECT_EQ(peek.integer("SELECT exit_code FROM process_events WHERE pid = 43"), 0);
}

// Version 4: an exec's path as given to execve (path_given) beside its
// cleaned path; a version-3 store gains the column and keeps its rows.
TEST(Store, UpgradesAVersion3StoreWithPathGiven) {
  TempDir tmp;
  const fs::path db = tmp / "v3.db";
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ProcessEvent e{EventKind::start, EventSource::ebpf, 5, proc(42, "x", "/x", "x")};
    ASSERT_TRUE(store->append_events(std::vector{e}));
  }
  {
    auto c = sqlite::open(db.string(), SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(c) << c.error();
    ASSERT_TRUE(sqlite::exec(c->get(), "ALTER TABLE process_events DROP COLUMN path_given; "
                                       "ALTER TABLE process_events DROP COLUMN root_is_host; "
                                       "ALTER TABLE process_events DROP COLUMN path_from; "
                                       "ALTER TABLE process_events DROP COLUMN image_dev; "
                                       "ALTER TABLE process_events DROP COLUMN image_ino; "
                                       "ALTER TABLE process_events DROP COLUMN host_path; "
                                       "PRAGMA user_version=3;"));
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  ProcessEvent e{EventKind::exec, EventSource::ebpf, 6, proc(43, "sl", "/tmp/x/sl", "sl")};
  e.path_given = "//tmp/x/sl";
  ASSERT_TRUE(store->append_events(std::vector{e}));
  Peek peek(db);
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events"), 2);
  EXPECT_EQ(peek.text("SELECT ifnull(path_given, 'null') FROM process_events WHERE pid = 42"), "null");
  EXPECT_EQ(peek.text("SELECT path || ' ' || path_given FROM process_events WHERE pid = 43"), "/tmp/x/sl //tmp/x/sl");
}

// Version 5: processes gains root_is_host and host_on_disk in place. The
// rows already there read as unknown (-1) until a snapshot rewrites them,
// and they are rewritten (the mirror sees the change), not left at -1.
TEST(Store, UpgradesAVersion4StoreWithTheHostColumns) {
  TempDir tmp;
  const fs::path db = tmp / "v4.db";
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->apply_snapshot(std::vector{proc(42, "x", "/usr/bin/x"), proc(43, "y", "/usr/bin/y")}));
  }
  {
    auto c = sqlite::open(db.string(), SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(c) << c.error();
    ASSERT_TRUE(sqlite::exec(c->get(), "ALTER TABLE processes DROP COLUMN root_is_host; "
                                       "ALTER TABLE processes DROP COLUMN host_on_disk; "
                                       "ALTER TABLE process_events DROP COLUMN root_is_host; "
                                       "ALTER TABLE process_events DROP COLUMN path_from; "
                                       "ALTER TABLE process_events DROP COLUMN image_dev; "
                                       "ALTER TABLE process_events DROP COLUMN image_ino; "
                                       "ALTER TABLE process_events DROP COLUMN host_path; "
                                       "PRAGMA user_version=4;"));
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  {
    Peek peek(db);
    EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
    EXPECT_EQ(peek.text("SELECT group_concat(pid || ':' || root_is_host || ':' || host_on_disk, ' ') FROM "
                        "(SELECT * FROM processes ORDER BY pid)"),
              "42:-1:-1 43:-1:-1");
  }
  ASSERT_NE(store->process(42), nullptr);
  EXPECT_EQ(store->process(42)->root_is_host, -1);
  auto masked = proc(43, "y", "/usr/bin/y");
  masked.host_on_disk = 0;
  auto applied = store->apply_snapshot(std::vector{proc(42, "x", "/usr/bin/x"), masked});
  ASSERT_TRUE(applied) << applied.error();
  EXPECT_EQ(applied->updated, 2u);
  Peek peek(db);
  EXPECT_EQ(peek.text("SELECT group_concat(pid || ':' || root_is_host || ':' || host_on_disk, ' ') FROM "
                      "(SELECT * FROM processes ORDER BY pid)"),
            "42:1:1 43:1:0");
}

// Version 6: process_events gains root_is_host in place (DEFAULT -1): the
// events already stored read unknown, new ones carry the record's value.
TEST(Store, UpgradesAVersion5StoreWithEventRootIsHost) {
  TempDir tmp;
  const fs::path db = tmp / "v5.db";
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ProcessEvent e{EventKind::exec, EventSource::ebpf, 5, proc(42, "x", "/x", "x")};
    ASSERT_TRUE(store->append_events(std::vector{e}));
  }
  {
    auto c = sqlite::open(db.string(), SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(c) << c.error();
    ASSERT_TRUE(sqlite::exec(c->get(), "ALTER TABLE process_events DROP COLUMN root_is_host; "
                                       "ALTER TABLE process_events DROP COLUMN path_from; "
                                       "ALTER TABLE process_events DROP COLUMN image_dev; "
                                       "ALTER TABLE process_events DROP COLUMN image_ino; "
                                       "ALTER TABLE process_events DROP COLUMN host_path; "
                                       "PRAGMA user_version=5;"));
    Peek before(db);
    EXPECT_EQ(before.integer("SELECT count(*) FROM pragma_table_info('process_events') WHERE name = 'root_is_host'"), 0);
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  ProcessEvent host{EventKind::exec, EventSource::ebpf, 6, proc(43, "y", "/y", "y")};
  ProcessEvent own = host;
  own.process.pid = 44;
  own.process.root_is_host = 0;
  ProcessEvent gone = host;
  gone.process.pid = 45;
  gone.process.root_is_host = -1;
  ASSERT_TRUE(store->append_events(std::vector{host, own, gone}));
  Peek peek(db);
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  EXPECT_EQ(peek.text("SELECT group_concat(pid || ':' || root_is_host, ' ') FROM (SELECT * FROM process_events ORDER BY id)"),
            "42:-1 43:1 44:0 45:-1");
}

// Version 7: process_events gains path_from in place: the events already
// stored read NULL (where their path came from is not known), new execs say
// it, and a start or stop has none.
TEST(Store, UpgradesAVersion6StoreWithPathFrom) {
  TempDir tmp;
  const fs::path db = tmp / "v6.db";
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ProcessEvent e{EventKind::exec, EventSource::ebpf, 5, proc(42, "x", "/dev/fd/3", "x")};
    e.path_given = "/dev/fd/3";
    ASSERT_TRUE(store->append_events(std::vector{e}));
  }
  {
    auto c = sqlite::open(db.string(), SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(c) << c.error();
    ASSERT_TRUE(sqlite::exec(c->get(), "ALTER TABLE process_events DROP COLUMN path_from; "
                                       "ALTER TABLE process_events DROP COLUMN image_dev; "
                                       "ALTER TABLE process_events DROP COLUMN image_ino; "
                                       "ALTER TABLE process_events DROP COLUMN host_path; "
                                       "PRAGMA user_version=6;"));
    Peek before(db);
    EXPECT_EQ(before.integer("SELECT count(*) FROM pragma_table_info('process_events') WHERE name = 'path_from'"), 0);
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  std::vector<ProcessEvent> events;
  for (const auto from : {PathFrom::exec, PathFrom::detached, PathFrom::proc, PathFrom::given}) {
    ProcessEvent e{EventKind::exec, EventSource::ebpf, 6, proc(43 + static_cast<int>(events.size()), "y", "/y", "y")};
    e.path_given = "/dev/fd/3";
    e.path_from = from;
    events.push_back(e);
  }
  events.push_back(ProcessEvent{EventKind::stop, EventSource::ebpf, 7, proc(43, "y", "/y", "y")});
  ASSERT_TRUE(store->append_events(events));
  Peek peek(db);
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  EXPECT_EQ(peek.text("SELECT group_concat(pid || ':' || event || ':' || ifnull(path_from, 'null'), ' ') FROM "
                      "(SELECT * FROM process_events ORDER BY id)"),
            "42:exec:null 43:exec:exec 44:exec:detached 45:exec:proc 46:exec:given 43:stop:null");
}

// Schema 8 added users and groups: a version-7 store (holding rows) gains
// them in place, keeps its rows, and is marked 8.
TEST(Store, UpgradesAVersion7StoreWithUsersAndGroups) {
  TempDir tmp;
  const fs::path db = tmp / "v7.db";
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->apply_snapshot(std::vector{proc(42, "sshd", "/usr/sbin/sshd", "sshd")}));
  }
  {
    Peek v7(db);
    v7.exec("DROP TABLE users; DROP TABLE groups; ALTER TABLE process_events DROP COLUMN image_dev; "
            "ALTER TABLE process_events DROP COLUMN image_ino; ALTER TABLE process_events DROP COLUMN host_path; "
            "PRAGMA user_version=7;");
    EXPECT_EQ(v7.integer("SELECT count(*) FROM sqlite_master WHERE name IN ('users', 'groups')"), 0);
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->replace_users(std::vector{UserAccount{.uid = 0, .gid = 0, .username = "root", .description = "root",
                                                           .directory = "/root", .shell = "/bin/bash"}}));
  Peek peek(db);
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  EXPECT_EQ(peek.text("SELECT name FROM processes WHERE pid = 42"), "sshd");
  EXPECT_EQ(peek.text("SELECT username || ':' || uid || ':' || shell FROM users"), "root:0:/bin/bash");
  EXPECT_EQ(peek.integer("SELECT count(*) FROM groups"), 0);
}

// Schema 9: process_events gains image_dev, image_ino and host_path in place
// (an exec's image identity and the host's path of it, eBPF only): a
// version-8 store keeps its rows, which read NULL; a new exec event stores
// them, and one without them (another source) stores NULL.
TEST(Store, UpgradesAVersion8StoreWithTheImagesIdentityAndHostPath) {
  TempDir tmp;
  const fs::path db = tmp / "v8.db";
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ProcessEvent e{EventKind::exec, EventSource::ebpf, 5, proc(42, "x", "/mnt/x", "x")};
    e.path_from = PathFrom::exec;
    ASSERT_TRUE(store->append_events(std::vector{e}));
  }
  {
    Peek v8(db);
    v8.exec("ALTER TABLE process_events DROP COLUMN image_dev; ALTER TABLE process_events DROP COLUMN image_ino; "
            "ALTER TABLE process_events DROP COLUMN host_path; PRAGMA user_version=8;");
    EXPECT_EQ(v8.integer("SELECT count(*) FROM pragma_table_info('process_events') WHERE name = 'host_path'"), 0);
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  ProcessEvent bound{EventKind::exec, EventSource::ebpf, 6, proc(43, "p", "/mnt/p", "p")};
  bound.path_from = PathFrom::exec;
  bound.image_dev = (254u << 8);  // makedev(254, 0)
  bound.image_ino = 1234567;
  bound.host_path = "/tmp/dir/p";
  ProcessEvent hidden = bound;  // a filesystem the host has not mounted
  hidden.process.pid = 44;
  hidden.host_path.clear();
  ProcessEvent other{EventKind::exec, EventSource::proc_connector, 7, proc(45, "q", "/q", "q")};
  ASSERT_TRUE(store->append_events(std::vector{bound, hidden, other}));
  Peek peek(db);
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  EXPECT_EQ(peek.text("SELECT group_concat(pid || ':' || ifnull(image_dev, 'null') || ':' || ifnull(image_ino, 'null') "
                      "|| ':' || ifnull(host_path, 'null'), ' ') FROM (SELECT * FROM process_events ORDER BY id)"),
            "42:null:null:null 43:65024:1234567:/tmp/dir/p 44:65024:1234567:null 45:null:null:null");
}

MemoryMapRow map_row(std::int32_t pid, std::string path, std::int64_t inode = 77) {
  return MemoryMapRow{.pid = pid, .start = "0x7f0000001000", .end = "0x7f0000002000", .permissions = "r-xp",
                      .offset = 4096, .device = "fd:01", .inode = inode, .path = std::move(path), .pseudo = 0};
}

// Schema 10: process_memory_map, made at open; a version-9 store (which has
// no such table) keeps its rows and gains it.
TEST(Store, UpgradesAVersion9StoreWithProcessMemoryMap) {
  TempDir tmp;
  const fs::path db = tmp / "v9.db";
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->apply_snapshot(std::vector{proc(42, "sshd", "/usr/sbin/sshd", "sshd")}));
  }
  {
    Peek v9(db);
    v9.exec("DROP TABLE process_memory_map; PRAGMA user_version=9;");
    EXPECT_EQ(v9.integer("SELECT count(*) FROM sqlite_master WHERE name = 'process_memory_map'"), 0);
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->replace_memory_maps(std::vector{map_row(42, "/tmp/x/libz.so.1")}));
  Peek peek(db);
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  EXPECT_EQ(peek.text("SELECT name FROM processes WHERE pid = 42"), "sshd");
  EXPECT_EQ(peek.text("SELECT pid || ' ' || start || ' ' || \"end\" || ' ' || permissions || ' ' || offset || ' ' || "
                      "device || ' ' || inode || ' ' || path || ' ' || pseudo FROM process_memory_map"),
            "42 0x7f0000001000 0x7f0000002000 r-xp 4096 fd:01 77 /tmp/x/libz.so.1 0");
}

// The table holds exactly the latest rows: a process whose rows changed is
// rewritten, one gone takes its rows with it, and unchanged rows are not
// written again (their rowids stay).
TEST(Store, MemoryMapRowsFollowTheirProcesses) {
  TempDir tmp;
  const fs::path db = tmp / "maps.db";
  auto store = open_store(db);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->replace_memory_maps(
      std::vector{map_row(1, "/usr/lib/a.so"), map_row(1, "/usr/lib/b.so"), map_row(2, "/usr/lib/a.so")}));
  Peek peek(db);
  const std::int64_t kept = peek.integer("SELECT rowid FROM process_memory_map WHERE pid = 2");
  ASSERT_TRUE(store->replace_memory_maps(
      std::vector{map_row(2, "/usr/lib/a.so"), map_row(3, "/usr/lib/a.so"), map_row(3, "/tmp/c.so", 9)}));
  EXPECT_EQ(peek.text("SELECT group_concat(pid || ':' || path, ' ') FROM (SELECT * FROM process_memory_map "
                      "ORDER BY pid, path)"),
            "2:/usr/lib/a.so 3:/tmp/c.so 3:/usr/lib/a.so");
  EXPECT_EQ(peek.integer("SELECT rowid FROM process_memory_map WHERE pid = 2"), kept);
  ASSERT_TRUE(store->replace_memory_maps(std::vector<MemoryMapRow>{}));
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_memory_map"), 0);
}

// osquery's columns: uid and gid as the file has them, *_signed their int32
// reading, uuid and comment ''. A replace with equal rows writes nothing (the
// table's data_version does not move); another replaces every row.
TEST_F(StoreInTempDir, UsersAndGroupsAreReplacedWholeAndOnlyWhenChanged) {
  const std::vector<UserAccount> users{
      {.uid = 0, .gid = 0, .username = "root", .description = "root", .directory = "/root", .shell = "/bin/bash"},
      {.uid = 4294967294, .gid = 4294967294, .username = "nobody2", .description = "", .directory = "/",
       .shell = "/usr/sbin/nologin"}};
  const std::vector<GroupAccount> groups{{.gid = 0, .groupname = "root"}, {.gid = 4294967294, .groupname = "nogroup2"}};
  ASSERT_TRUE(store->replace_users(users));
  ASSERT_TRUE(store->replace_groups(groups));
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.text("SELECT group_concat(uid || ',' || gid || ',' || uid_signed || ',' || gid_signed || ',' || username "
                      "|| ',' || description || ',' || directory || ',' || shell || ',[' || uuid || ']', ' ') FROM "
                      "(SELECT * FROM users ORDER BY uid)"),
            "0,0,0,0,root,root,/root,/bin/bash,[] 4294967294,4294967294,-2,-2,nobody2,,/,/usr/sbin/nologin,[]");
  EXPECT_EQ(peek.text("SELECT group_concat(gid || ',' || gid_signed || ',' || groupname || ',[' || comment || ']', ' ') "
                      "FROM (SELECT * FROM groups ORDER BY gid)"),
            "0,0,root,[] 4294967294,-2,nogroup2,[]");
  const auto changes = peek.integer("PRAGMA data_version");
  ASSERT_TRUE(store->replace_users(users));
  ASSERT_TRUE(store->replace_groups(groups));
  EXPECT_EQ(peek.integer("PRAGMA data_version"), changes) << "unchanged rows were written again";
  ASSERT_TRUE(store->replace_users(std::vector{users[0]}));
  EXPECT_NE(peek.integer("PRAGMA data_version"), changes);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM users"), 1);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM groups"), 2);
}

// excepted_alerts: created at open (no schema version of its own), capped at
// 10,000 rows (the oldest go), pruned by retention with the alerts, and
// readable through the guarded engine.
TEST(Store, ExceptedAlertsAreCappedPrunedWithTheAlertsAndQueryable) {
  TempDir tmp;
  const fs::path db = tmp.path() / "d.db";
  auto store = open_store(db, {.max_age = std::chrono::seconds(3600)});
  std::vector<ExceptedAlert> rows;
  for (std::int64_t i = 0; i < 10005; ++i)
    rows.push_back({.time = 1000 + i, .rule_id = "r", .exception_id = "e", .dedup_key = fmt::format("r|pid={}", i),
                    .row_json = fmt::format(R"({{"pid":{}}})", i)});
  ASSERT_TRUE(store->insert_excepted(rows));
  Peek peek(db);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM excepted_alerts"), 10000);
  EXPECT_EQ(peek.integer("SELECT min(time) FROM excepted_alerts"), 1005);  // the 5 oldest went
  EXPECT_EQ(peek.integer("PRAGMA user_version"), 10);
  auto engine = QueryEngine::open(db);
  ASSERT_TRUE(engine) << engine.error();
  auto r = (*engine)->run("SELECT rule_id, exception_id, dedup_key, row FROM excepted_alerts ORDER BY time DESC LIMIT 1");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(row_to_json(*r, 0), R"({"rule_id":"r","exception_id":"e","dedup_key":"r|pid=10004","row":"{\"pid\":10004}"})");
  // Retention by age: rows older than max_age go, with the alerts.
  ASSERT_TRUE(store->enforce_retention(5000 + 3600));  // cutoff: time < 5000
  EXPECT_EQ(peek.integer("SELECT min(time) FROM excepted_alerts"), 5000);
}

// A store made before alerts_rule_time (rule_id, time) — with the index on
// rule_id alone — gains it when the agent opens it, and loses the old one;
// a rule's newest alerts are then read in the index's order, not sorted.
TEST(Store, AnExistingStoreGainsTheIndexOnRuleAndTime) {
  TempDir tmp;
  const fs::path db = tmp / "d.db";
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->insert_alerts(std::vector{Alert{.rule_id = "r", .time = 5}, Alert{.rule_id = "r", .time = 6}}));
  }
  {
    Peek old(db);
    old.exec("DROP INDEX alerts_rule_time; CREATE INDEX alerts_rule_id ON alerts(rule_id)");
    EXPECT_EQ(old.integer("SELECT count(*) FROM sqlite_master WHERE name = 'alerts_rule_time'"), 0);
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  Peek peek(db);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM sqlite_master WHERE name = 'alerts_rule_time'"), 1);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM sqlite_master WHERE name = 'alerts_rule_id'"), 0);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM alerts WHERE rule_id = 'r'"), 2);
  // The shape of `daemoneye-cli alerts --rule r` (cli/alert_queries.hpp;
  // cli_test AlertsAreReadThroughIndexes checks the CLI's own statement).
  auto st = sqlite::prepare(peek.get(), "EXPLAIN QUERY PLAN SELECT id, time FROM alerts WHERE time >= 0 AND "
                                        "rule_id = 'r' ORDER BY time DESC, id DESC LIMIT 100");
  ASSERT_TRUE(st) << st.error();
  std::string plan;
  while (::sqlite3_step(st->get()) == SQLITE_ROW)
    plan += reinterpret_cast<const char*>(::sqlite3_column_text(st->get(), 3)) + std::string("\n");
  EXPECT_NE(plan.find("SEARCH alerts USING COVERING INDEX alerts_rule_time (rule_id=? AND time>?)"), std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

TEST_F(StoreInTempDir, KernelEventExtrasAreStoredAndUnknownOnesAreNull) {
  ProcessEvent exec{EventKind::exec, EventSource::ebpf, 1764000100, proc(200, "true", "/usr/bin/true", "true x")};
  exec.time_ns = 1764000100123456789;
  exec.cmdline_size = 100000;
  exec.cmdline_truncated = true;
  exec.cgroup_id = 1234;
  ProcessEvent stop{EventKind::stop, EventSource::ebpf, 1764000101, exec.process};
  stop.exit_signal = 9;
  ProcessEvent polled{EventKind::start, EventSource::poll, 1764000102, proc(300, "p", "/p", "p")};
  ASSERT_TRUE(store->append_events(std::vector{exec, stop, polled}));
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.text("SELECT time_ns || '|' || cmdline_size || '|' || overflows || '|' || cgroup_id FROM "
                      "process_events WHERE event = 'exec'"),
            "1764000100123456789|100000|cmdline|1234");
  EXPECT_EQ(peek.text("SELECT ifnull(exit_code, 'null') || '|' || exit_signal FROM process_events WHERE event = 'stop'"),
            "null|9");
  EXPECT_EQ(peek.text("SELECT ifnull(time_ns, 'null') || '|' || ifnull(cmdline_size, 'null') || '|' || overflows || "
                      "'|' || ifnull(cgroup_id, 'null') FROM process_events WHERE pid = 300"),
            "null|null||null");
}

TEST(Store, NarrowsAnExistingDatabaseTo0600) {
  TempDir tmp;
  const fs::path db = tmp / "d.db";
  test::write_file(db, "");
  ASSERT_EQ(::chmod(db.c_str(), 0644), 0);
  auto store = open_store(db);
  ASSERT_TRUE(store);
  EXPECT_EQ(mode_of(db), 0600u);
}

TEST(Store, RefusesASymlinkedDatabasePathAndLeavesTheTargetAlone) {
  TempDir tmp;
  const fs::path target = tmp / "elsewhere";
  test::write_file(target, "precious");
  ASSERT_EQ(::chmod(target.c_str(), 0644), 0);
  const fs::path db = tmp / "d.db";
  fs::create_symlink(target, db);
  auto s = Store::open({.path = db});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("symbolic link"), std::string::npos) << s.error();
  EXPECT_NE(s.error().message.find(db.string()), std::string::npos) << s.error();
  EXPECT_EQ(s.error().category, ErrorCategory::denied);
  EXPECT_EQ(mode_of(target), 0644u);
  std::ifstream in(target);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "precious");
}

TEST(Store, RefusesASymlinkedWalFile) {
  TempDir tmp;
  const fs::path db = tmp / "d.db";
  fs::create_symlink(tmp / "x", db.string() + "-wal");
  auto s = Store::open({.path = db});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("d.db-wal: it is a symbolic link"), std::string::npos) << s.error();
}

TEST(Store, RefusesAWorldWritableDirectory) {
  TempDir tmp;
  const fs::path dir = tmp / "shared";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 01777), 0);
  auto s = Store::open({.path = dir / "d.db"});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("writable by everyone"), std::string::npos) << s.error();
  EXPECT_EQ(s.error().category, ErrorCategory::denied);
  EXPECT_FALSE(fs::exists(dir / "d.db"));
}

TEST(Store, RefusesADirectoryAsDatabase) {
  TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "d.db").c_str(), 0700), 0);
  auto s = Store::open({.path = tmp / "d.db"});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not a regular file"), std::string::npos) << s.error();
  EXPECT_EQ(s.error().category, ErrorCategory::invalid_input);
}

TEST(Store, RefusesAFileThatIsNotADatabase) {
  TempDir tmp;
  test::write_file(tmp / "d.db", std::string(8192, 'x'));
  auto s = Store::open({.path = tmp / "d.db"});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not a database"), std::string::npos) << s.error();
  EXPECT_EQ(s.error().category, ErrorCategory::corrupt);
}

TEST_F(StoreInTempDir, FirstSnapshotInsertsEveryRowWithEveryColumn) {
  auto all = many(100, 50);
  all[7].cmdline = "with 'quotes' and \xc3\xa9";
  all[7].cpu_percent = 12.5;
  all[7].on_disk = 0;
  all[7].auid = 4294967295;
  auto stats = store->apply_snapshot(all);
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->inserted, 50u);
  EXPECT_EQ(stats->updated + stats->deleted + stats->unchanged, 0u);
  EXPECT_EQ(store->process_count(), 50u);
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes"), 50);
  EXPECT_EQ(peek.text("SELECT cmdline FROM processes WHERE pid = 107"), all[7].cmdline);
  EXPECT_EQ(peek.text("SELECT cpu_percent FROM processes WHERE pid = 107"), "12.5");
  EXPECT_EQ(peek.integer("SELECT on_disk FROM processes WHERE pid = 107"), 0);
  EXPECT_EQ(peek.integer("SELECT auid FROM processes WHERE pid = 107"), 4294967295);
  EXPECT_EQ(peek.text("SELECT sha256 FROM processes WHERE pid = 107"), std::string(64, 'a'));
}

TEST_F(StoreInTempDir, IdleReapplyWritesNothing) {
  auto all = many(100, 200);
  ASSERT_TRUE(store->apply_snapshot(all));
  Peek peek(tmp / "d.db");
  // data_version changes when another connection commits anything.
  const auto version = peek.integer("PRAGMA data_version");
  const auto changes = store->total_changes();
  const auto wal_size = fs::file_size(tmp / "d.db-wal");
  auto stats = store->apply_snapshot(all);
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->unchanged, 200u);
  EXPECT_EQ(stats->inserted + stats->updated + stats->deleted, 0u);
  EXPECT_EQ(store->total_changes(), changes);
  EXPECT_EQ(peek.integer("PRAGMA data_version"), version);
  EXPECT_EQ(fs::file_size(tmp / "d.db-wal"), wal_size);
}

TEST_F(StoreInTempDir, ChangedRowIsUpdatedAndOnlyIt) {
  auto all = many(100, 20);
  ASSERT_TRUE(store->apply_snapshot(all));
  const auto before = store->total_changes();
  all[3].cmdline = "changed";
  all[3].resident_size = 1;
  all[4].start_ticks += 1;  // not a column: no write
  auto stats = store->apply_snapshot(all);
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->updated, 1u);
  EXPECT_EQ(stats->unchanged, 19u);
  EXPECT_EQ(store->total_changes(), before + 1);
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.text("SELECT cmdline FROM processes WHERE pid = 103"), "changed");
  EXPECT_EQ(peek.integer("SELECT resident_size FROM processes WHERE pid = 103"), 1);
  ASSERT_NE(store->process(103), nullptr);
  EXPECT_EQ(store->process(103)->cmdline, "changed");
  EXPECT_EQ(store->process(104)->start_ticks, all[4].start_ticks);
}

TEST_F(StoreInTempDir, VanishedPidIsDeletedAndNewOneInserted) {
  auto all = many(100, 10);
  ASSERT_TRUE(store->apply_snapshot(all));
  all.erase(all.begin() + 2);  // pid 102 exited
  all.push_back(proc(500, "new"));
  auto stats = store->apply_snapshot(all);
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->deleted, 1u);
  EXPECT_EQ(stats->inserted, 1u);
  EXPECT_EQ(stats->unchanged, 9u);
  EXPECT_EQ(store->process(102), nullptr);
  EXPECT_NE(store->process(500), nullptr);
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes WHERE pid = 102"), 0);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes"), 10);
  // An empty snapshot empties the table.
  auto none = store->apply_snapshot({});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->deleted, 10u);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes"), 0);
}

TEST_F(StoreInTempDir, BadSnapshotIsRefusedAndChangesNothing) {
  auto all = many(100, 10);
  ASSERT_TRUE(store->apply_snapshot(all));
  // New and changed rows come first, then the duplicate: the writes before
  // it must be rolled back in the database and in the mirror.
  auto bad = many(100, 10);
  bad[0].cmdline = "changed";
  bad.push_back(proc(900, "new"));
  bad.push_back(proc(105, "again"));
  auto r = store->apply_snapshot(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "snapshot: pid 105 appears twice");
  EXPECT_EQ(r.error().category, ErrorCategory::invalid_input);
  ASSERT_NO_FATAL_FAILURE(expect_only(*store, tmp / "d.db", all, 900));

  auto negative = std::vector<ProcessRecord>{proc(-1, "x")};
  auto n = store->apply_snapshot(negative);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().message, "snapshot: record with invalid pid -1");
  EXPECT_EQ(n.error().category, ErrorCategory::invalid_input);
}

// A write that fails half way (here the file size limit, as a full disk
// would) returns SQLite's message and leaves the mirror equal to the table.
TEST_F(StoreInTempDir, FailedWriteRollsBackDatabaseAndMirror) {
  auto all = many(100, 100);
  ASSERT_TRUE(store->apply_snapshot(all));

  auto big = many(100, 3000);
  for (auto& r : big) r.cmdline = std::string(2000, 'c') + std::to_string(r.pid);
  const auto largest = std::max(fs::file_size(tmp / "d.db"), fs::file_size(tmp / "d.db-wal"));
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = largest + 64 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto r = store->apply_snapshot(big);
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(r) << "the write should have failed";
  EXPECT_FALSE(r.error().message.empty());
  // EFBIG: SQLite reports an I/O error, not a full disk.
  EXPECT_EQ(r.error().category, ErrorCategory::io) << r.error();
  // Mirror and table agree: the old snapshot is a no-op, the big one now fits.
  ASSERT_NO_FATAL_FAILURE(expect_only(*store, tmp / "d.db", all, 2000));
  auto again = store->apply_snapshot(big);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->updated, 100u);
  EXPECT_EQ(again->inserted, 2900u);
}

TEST(Store, ReopenKeepsDataAndTheMirror) {
  TempDir tmp;
  auto all = many(100, 30);
  all[5].cpu_percent = 3.25;
  {
    auto store = open_store(tmp / "d.db");
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->apply_snapshot(all));
    ASSERT_TRUE(store->record_scan({.scan_id = 7, .time = 1764000000, .processes = 30}));
  }
  auto store = open_store(tmp / "d.db");
  ASSERT_TRUE(store);
  EXPECT_EQ(store->process_count(), 30u);
  ASSERT_NE(store->process(105), nullptr);
  EXPECT_EQ(store->process(105)->cpu_percent, 3.25);
  EXPECT_EQ(store->process(105)->cmdline, all[5].cmdline);
  auto stats = store->apply_snapshot(all);
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->unchanged, 30u);
  EXPECT_EQ(store->total_changes(), 0u);
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.integer("SELECT scan_id FROM scans"), 7);
}

TEST_F(StoreInTempDir, EventsCarryTheParentsPathAndCmdline) {
  auto nginx = proc(100, "nginx", "/usr/sbin/nginx", "nginx: worker process");
  ASSERT_TRUE(store->apply_snapshot(std::vector{nginx}));

  auto shell = proc(200, "sh", "/usr/bin/dash", "sh -c id", /*parent=*/100);
  auto grandchild = proc(300, "id", "/usr/bin/id", "id", /*parent=*/200);
  auto orphan = proc(400, "x", "/x", "x", /*parent=*/999);
  std::vector<ProcessEvent> events{
      {EventKind::start, EventSource::poll, 1764000100, shell},
      {EventKind::start, EventSource::poll, 1764000100, grandchild},  // parent started in this same batch
      {EventKind::exec, EventSource::ebpf, 1764000101, orphan},
  };
  ASSERT_TRUE(store->append_events(events));
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.text("SELECT parent_path FROM process_events WHERE pid = 200"), "/usr/sbin/nginx");
  EXPECT_EQ(peek.text("SELECT parent_cmdline FROM process_events WHERE pid = 200"), "nginx: worker process");
  EXPECT_EQ(peek.text("SELECT parent_path FROM process_events WHERE pid = 300"), "/usr/bin/dash");
  EXPECT_EQ(peek.text("SELECT parent_path FROM process_events WHERE pid = 400"), "");
  EXPECT_EQ(peek.text("SELECT event || ',' || source || ',' || time FROM process_events WHERE pid = 400"),
            "exec,ebpf,1764000101");
  EXPECT_EQ(peek.text("SELECT cmdline || '|' || uid || '|' || sha256 FROM process_events WHERE pid = 200"),
            "sh -c id|1000|" + std::string(64, 'a'));
  // start/exec keep `processes` current.
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes"), 4);
  EXPECT_NE(store->process(300), nullptr);

  // A stop for an older process that had the same pid leaves the new one.
  auto stale = shell;
  stale.start_ticks -= 1;
  ASSERT_TRUE(store->append_events(
      std::vector<ProcessEvent>{{EventKind::stop, EventSource::poll, 1764000102, stale}}));
  EXPECT_NE(store->process(200), nullptr);
  ASSERT_TRUE(store->append_events(
      std::vector<ProcessEvent>{{EventKind::stop, EventSource::poll, 1764000103, shell}}));
  EXPECT_EQ(store->process(200), nullptr);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes WHERE pid = 200"), 0);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events WHERE pid = 200 AND event = 'stop'"), 2);
}

// procmond publishes the events of a collection the bus took only in part
// again with the next collection (diffed against the last one it took), so
// the agent can get one poll start or exec twice, with different times.
// The second tells nothing `processes` does not hold and is not stored: one
// exec, one event id, one Sigma alert. A real change of image is stored,
// and so is every real-time source's event (each is one kernel event).
TEST_F(StoreInTempDir, APollEventPublishedAgainIsNotStoredTwice) {
  auto shell = proc(500, "sh", "/usr/bin/dash", "sh -c : republished");
  const ProcessEvent start{EventKind::start, EventSource::poll, 1764000100, shell};
  ASSERT_TRUE(store->append_events(std::vector{start}));
  ProcessEvent again = start;
  again.time = 1764000102;  // the next collection's time
  ASSERT_TRUE(store->append_events(std::vector{again}));
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events WHERE pid = 500"), 1);

  // An exec chain: each new image is an event.
  auto bash = shell;
  bash.path = "/usr/bin/bash";
  bash.cmdline = "bash -c : stage2";
  bash.exe_ino = shell.exe_ino + 1;
  const ProcessEvent exec{EventKind::exec, EventSource::poll, 1764000103, bash};
  ASSERT_TRUE(store->append_events(std::vector{exec, exec}));  // and its copy in the same batch
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events WHERE pid = 500 AND event = 'exec'"), 1);
  // The same path and command line, another file (replaced on disk): a new exec.
  auto swapped = bash;
  swapped.exe_ino = bash.exe_ino + 1;
  ASSERT_TRUE(store->append_events(std::vector<ProcessEvent>{{EventKind::exec, EventSource::poll, 1764000104, swapped}}));
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events WHERE pid = 500 AND event = 'exec'"), 2);
  // Real-time sources: a re-exec of the same image is two kernel events.
  const ProcessEvent rt{EventKind::exec, EventSource::ebpf, 1764000105, swapped};
  ASSERT_TRUE(store->append_events(std::vector{rt, rt}));
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events WHERE pid = 500 AND source = 'ebpf'"), 2);
  // Another process that reuses the pid starts: stored.
  auto reused = shell;
  reused.start_ticks += 100;
  reused.start_time += 1;
  ASSERT_TRUE(store->append_events(std::vector<ProcessEvent>{{EventKind::start, EventSource::poll, 1764000106, reused}}));
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events WHERE pid = 500 AND event = 'start'"), 2);
}

TEST_F(StoreInTempDir, AlertsAndScansAreStored) {
  Alert a{.rule_id = "exe-deleted",
          .rule_name = "Executable deleted while running",
          .severity = Severity::high,
          .tags = {"attack.defense-evasion", "attack.t1070"},
          .row_json = R"({"pid":42,"name":"x"})",
          .host = "h1",
          .time = 1764000000,
          .dedup_key = "exe-deleted|pid=42|start_time=1"};
  ASSERT_TRUE(store->insert_alerts(std::vector{a, a}));
  ASSERT_TRUE(store->record_scan({.scan_id = 3,
                                  .time = 1764000001,
                                  .processes = 10,
                                  .unreadable = 2,
                                  .collect_us = 11,
                                  .store_us = 12,
                                  .rules_us = 13,
                                  .alerts = 2,
                                  .rule_errors = 1,
                                  .applied = {.inserted = 4, .updated = 5, .deleted = 6}}));
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.integer("SELECT count(*) FROM alerts"), 2);
  EXPECT_EQ(
      peek.text("SELECT severity || '|' || tags || '|' || \"row\" || '|' || host || '|' || dedup_key "
                "FROM alerts LIMIT 1"),
      R"(high|["attack.defense-evasion","attack.t1070"]|{"pid":42,"name":"x"}|h1|exe-deleted|pid=42|start_time=1)");
  EXPECT_EQ(peek.integer("SELECT json_extract(\"row\", '$.pid') FROM alerts LIMIT 1"), 42);
  EXPECT_EQ(
      peek.text(
          "SELECT scan_id||','||time||','||processes||','||unreadable||','||collect_us||','||store_us||','||"
          "rules_us||','||alerts||','||rule_errors||','||inserted||','||updated||','||deleted FROM scans"),
      "3,1764000001,10,2,11,12,13,2,1,4,5,6");
}

TEST(Store, RetentionByAgeDeletesOnlyOldHistory) {
  TempDir tmp;
  const std::int64_t now = 1764000000;
  auto store = open_store(tmp / "d.db", {.max_age = std::chrono::hours(24 * 7), .max_size_bytes = 0});
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->apply_snapshot(many(100, 5)));
  const std::int64_t old_t = now - 8 * 86400, new_t = now - 86400;
  std::vector<ProcessEvent> events;
  std::int64_t pid = 300;  // three processes (one process's start again would not be stored)
  for (std::int64_t t : {old_t, old_t, new_t})
    events.push_back({EventKind::start, EventSource::poll, t, proc(pid++, "x")});
  ASSERT_TRUE(store->append_events(events));
  for (std::int64_t t : {old_t, new_t}) {
    ASSERT_TRUE(store->insert_alerts(std::vector{Alert{.rule_id = "r", .time = t}}));
    ASSERT_TRUE(store->record_scan({.scan_id = 1, .time = t}));
  }
  auto stats = store->enforce_retention(now);
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_EQ(stats->events_deleted, 2u);
  EXPECT_EQ(stats->alerts_deleted, 1u);
  EXPECT_EQ(stats->scans_deleted, 1u);
  Peek peek(tmp / "d.db");
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events"), 1);
  EXPECT_EQ(peek.integer("SELECT min(time) FROM process_events"), new_t);
  EXPECT_EQ(peek.integer("SELECT min(time) FROM alerts"), new_t);
  EXPECT_EQ(peek.integer("SELECT min(time) FROM scans"), new_t);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes"), 8);  // live state is never trimmed
}

TEST(Store, RetentionBySizeDeletesOldestUntilUnderTheLimit) {
  TempDir tmp;
  const std::uint64_t limit = 1024 * 1024;
  auto store = open_store(tmp / "d.db", {.max_age = std::chrono::seconds(0), .max_size_bytes = limit});
  ASSERT_TRUE(store);
  // ~8 MB of events over 600 seconds, an alert per second and a scan every
  // 30 seconds (few commits: each one is an fsync).
  const std::int64_t t0 = 1764000000;
  std::vector<ProcessEvent> events;
  std::vector<Alert> alerts;
  for (int sec = 0; sec < 600; ++sec) {
    for (int i = 0; i < 10; ++i) {
      events.push_back(
          {EventKind::exec, EventSource::poll, t0 + sec, proc(1000 + i, "x", "/x", fmt::format("{:a>1000}", sec))});
    }
    alerts.push_back(Alert{.rule_id = "r", .time = t0 + sec});
  }
  ASSERT_TRUE(store->append_events(events));
  ASSERT_TRUE(store->insert_alerts(alerts));
  for (int sec = 0; sec < 600; sec += 30) {
    ASSERT_TRUE(store->record_scan({.scan_id = static_cast<std::uint64_t>(sec), .time = t0 + sec}));
  }
  Peek peek(tmp / "d.db");
  auto used = [&] {
    return static_cast<std::uint64_t>(peek.integer("PRAGMA page_count") -
                                      peek.integer("PRAGMA freelist_count")) *
           static_cast<std::uint64_t>(peek.integer("PRAGMA page_size"));
  };
  ASSERT_GT(used(), 4 * limit);
  auto stats = store->enforce_retention(t0 + 600);
  ASSERT_TRUE(stats) << stats.error();
  EXPECT_LE(used(), limit);
  EXPECT_GT(stats->events_deleted, 4000u);
  EXPECT_GT(stats->alerts_deleted, 0u);
  EXPECT_GT(stats->scans_deleted, 0u);
  // The newest survive; what is left is a suffix in time.
  const auto kept_from = peek.integer("SELECT min(time) FROM process_events");
  EXPECT_EQ(peek.integer("SELECT max(time) FROM process_events"), t0 + 599);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM process_events"), (t0 + 600 - kept_from) * 10);
  EXPECT_GE(peek.integer("SELECT min(time) FROM alerts"), kept_from);
  EXPECT_EQ(peek.integer("SELECT max(time) FROM scans"), t0 + 570);
}

}  // namespace
}  // namespace airssys::daemoneye
