// store_sockets::Table over a real SQLite file: what it writes, what it
// leaves alone while the rows are unchanged, and what a failed replace keeps.

#include "store_sockets.hpp"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "socket_test_util.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye::store_sockets {
namespace {

using testing::TempDir;
using test::unix_socket_row;

struct CloseDb {
  void operator()(sqlite3* db) const noexcept { sqlite3_close(db); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;

Db open_db(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  Db owned(db);
  return rc == SQLITE_OK ? std::move(owned) : Db{};
}

bool exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }

// "pid:fd:path" of every row, ordered.
std::string rows_of(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT pid, fd, path FROM process_open_sockets ORDER BY pid, fd", -1, &st, nullptr) !=
      SQLITE_OK) {
    return "<error>";
  }
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto* path = reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
    out += std::to_string(sqlite3_column_int64(st, 0)) + ":" + std::to_string(sqlite3_column_int64(st, 1)) + ":" +
           (path ? path : "") + ";";
  }
  sqlite3_finalize(st);
  return out;
}

TEST(StoreSockets, WritesNothingWhileUnchangedAndAFailedReplaceKeepsTheOldRows) {
  TempDir dir;
  Db db = open_db((dir / "s.db").string());
  ASSERT_TRUE(db);
  ASSERT_TRUE(exec(db.get(), ddl()));
  Table t;
  const std::vector<osl::proc::OpenSocket> first{unix_socket_row(10, 0, "/run/a"),
                                                 unix_socket_row(10, 3, "@b")};
  ASSERT_TRUE(t.replace(db.get(), first));
  EXPECT_EQ(rows_of(db.get()), "10:0:/run/a;10:3:@b;");

  const int before = sqlite3_total_changes(db.get());
  ASSERT_TRUE(t.replace(db.get(), first));  // unchanged: not a row touched
  EXPECT_EQ(sqlite3_total_changes(db.get()), before);

  // A write that fails halfway (the second row refused) rolls back: the old
  // rows stay, and the failed rows are not taken as written.
  ASSERT_TRUE(exec(db.get(), "CREATE TRIGGER refuse BEFORE INSERT ON process_open_sockets WHEN NEW.pid = 666 "
                             "BEGIN SELECT RAISE(ABORT, 'refused'); END;"));
  const std::vector<osl::proc::OpenSocket> second{unix_socket_row(11, 1, "/run/c"),
                                                  unix_socket_row(666, 2, "/run/d")};
  EXPECT_FALSE(t.replace(db.get(), second));
  EXPECT_EQ(rows_of(db.get()), "10:0:/run/a;10:3:@b;");
  ASSERT_TRUE(exec(db.get(), "DROP TRIGGER refuse"));
  ASSERT_TRUE(t.replace(db.get(), second));
  EXPECT_EQ(rows_of(db.get()), "11:1:/run/c;666:2:/run/d;");

  // A new Table (a new run) always writes first, replacing what was left.
  ASSERT_TRUE(exec(db.get(), "INSERT INTO process_open_sockets (pid, fd) VALUES (1, 1)"));
  Table fresh;
  ASSERT_TRUE(fresh.replace(db.get(), second));
  EXPECT_EQ(rows_of(db.get()), "11:1:/run/c;666:2:/run/d;");
  ASSERT_TRUE(fresh.replace(db.get(), {}));
  EXPECT_EQ(rows_of(db.get()), "");
}

}  // namespace
}  // namespace airssys::daemoneye::store_sockets
