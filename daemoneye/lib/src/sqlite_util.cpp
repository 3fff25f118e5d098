#include "sqlite_util.hpp"

#include <fmt/format.h>

#include <climits>

namespace airssys::daemoneye::sqlite {

std::string error(sqlite3* db, std::string_view what) {
  const char* msg = db != nullptr ? ::sqlite3_errmsg(db) : "out of memory";
  if (what.empty()) return msg;
  return fmt::format("{}: {}", what, msg);
}

std::expected<Db, std::string> open(const std::string& path, int flags, const char* vfs) {
  sqlite3* raw = nullptr;
  const int rc = ::sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE, vfs);
  Db db(raw);  // owns the handle even when open failed (SQLite allocates one for the message)
  if (rc != SQLITE_OK)
    return std::unexpected(fmt::format("{}: cannot open database: {}", path, error(db.get(), "")));
  return db;
}

std::expected<void, std::string> exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (::sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : ::sqlite3_errmsg(db);
    ::sqlite3_free(err);
    return std::unexpected(std::move(msg));
  }
  return {};
}

std::expected<Stmt, std::string> prepare(sqlite3* db, std::string_view sql, bool persistent) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) return std::unexpected(std::string("SQL too long"));
  sqlite3_stmt* raw = nullptr;
  const int rc = ::sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return std::unexpected(error(db, "prepare"));
  return stmt;
}

std::expected<void, std::string> run(sqlite3* db, sqlite3_stmt* stmt) {
  int rc = SQLITE_ROW;
  while (rc == SQLITE_ROW) rc = ::sqlite3_step(stmt);
  // The message must be read before reset, which may overwrite it.
  std::expected<void, std::string> result;
  if (rc != SQLITE_DONE) result = std::unexpected(error(db, ""));
  ::sqlite3_reset(stmt);
  return result;
}

std::expected<std::int64_t, std::string> query_int(sqlite3* db, const char* sql) {
  auto stmt = prepare(db, sql);
  if (!stmt) return std::unexpected(stmt.error());
  const int rc = ::sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return std::unexpected(error(db, sql));
  return ::sqlite3_column_int64(stmt->get(), 0);
}

Transaction::~Transaction() {
  // After some errors (e.g. SQLITE_FULL on commit) SQLite has already rolled
  // back; get_autocommit tells whether a transaction is still open.
  if (open_ && ::sqlite3_get_autocommit(db_) == 0) (void)exec(db_, "ROLLBACK");
}

std::expected<void, std::string> Transaction::begin() {
  if (auto r = exec(db_, "BEGIN IMMEDIATE"); !r) return std::unexpected("begin transaction: " + r.error());
  open_ = true;
  return {};
}

std::expected<void, std::string> Transaction::commit() {
  if (auto r = exec(db_, "COMMIT"); !r) return std::unexpected("commit: " + r.error());
  open_ = false;
  return {};
}

}  // namespace airssys::daemoneye::sqlite
