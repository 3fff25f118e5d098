#pragma once
// Reading a running agent's store from an integration test, read-only, and
// (exec_sql) changing it where a test must.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace detest {

// The first column of the first row of `sql` on the agent's store, read
// only ("" when there is none or the store cannot be read yet: the agent
// may not have created it, or holds a write lock for longer than 2 s).
inline std::string query_text(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::string out;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      if (t != nullptr) out = reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

// The number a `SELECT count(*) …` (or any query of one integer: min(id),
// a stored mark) gives on the agent's store; -1 when the store cannot be
// read yet (see query_text) or the query gives no row or NULL.
inline std::int64_t count_rows(const std::filesystem::path& db, const std::string& sql) {
  const std::string text = query_text(db, sql);
  return text.empty() ? -1 : std::stoll(text);
}

// Every row of `sql` on the agent's store, read only, each as its columns'
// text (NULL as ""); none when the store cannot be read yet (see query_text).
inline std::vector<std::vector<std::string>> rows_of(const std::filesystem::path& db, const std::string& sql) {
  std::vector<std::vector<std::string>> out;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        std::vector<std::string> row;
        for (int i = 0; i < sqlite3_column_count(st); ++i) {
          const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
          row.emplace_back(t ? t : "");
        }
        out.push_back(std::move(row));
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

// SQL on the agent's database through a connection of the test's own
// (read-write, waiting for the agent's write lock); empty on success.
inline std::string exec_sql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::string err;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    err = h ? sqlite3_errmsg(h) : "cannot open";
  } else {
    sqlite3_busy_timeout(h, 30000);
    char* msg = nullptr;
    if (sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) err = msg ? msg : "failed";
    sqlite3_free(msg);
  }
  sqlite3_close(h);
  return err;
}

}  // namespace detest
