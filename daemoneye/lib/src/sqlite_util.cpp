#include "sqlite_util.hpp"

#include "sqlite_category.hpp"

#include <fmt/format.h>

#include <climits>

namespace airssys::daemoneye::sqlite {

Error error(sqlite3* db, std::string_view what, int rc) {
  if (db == nullptr) return Error::make(ErrorCategory::resource_exhausted, fmt::format("{}{}out of memory", what, what.empty() ? "" : ": "));
  if (rc == 0) rc = ::sqlite3_extended_errcode(db);
  const ErrorCategory category = detail::sqlite_category(rc);
  // The errno only where SQLite's failure was a system call's.
  const bool system = category == ErrorCategory::io || category == ErrorCategory::resource_exhausted ||
                      category == ErrorCategory::not_found || category == ErrorCategory::denied;
  const char* msg = ::sqlite3_errmsg(db);
  Error e = Error::make(category, what.empty() ? std::string(msg) : fmt::format("{}: {}", what, msg));
  if (system) e.errno_value = ::sqlite3_system_errno(db);
  return e;
}

Result<Db> open(const std::string& path, int flags, const char* vfs) {
  sqlite3* raw = nullptr;
  const int rc = ::sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE, vfs);
  Db db(raw);  // owns the handle even when open failed (SQLite allocates one for the message)
  if (rc != SQLITE_OK) return std::unexpected(error(db.get(), fmt::format("{}: cannot open database", path), rc));
  return db;
}

Result<void> exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (const int rc = ::sqlite3_exec(db, sql, nullptr, nullptr, &err); rc != SQLITE_OK) {
    Error e = error(db, "", rc);
    if (err != nullptr) e.message = err;
    ::sqlite3_free(err);
    return std::unexpected(std::move(e));
  }
  return {};
}

Result<Stmt> prepare(sqlite3* db, std::string_view sql, bool persistent) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) return fail(ErrorCategory::invalid_input, "SQL too long");
  sqlite3_stmt* raw = nullptr;
  const int rc = ::sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return std::unexpected(error(db, "prepare", rc));
  return stmt;
}

Result<void> run(sqlite3* db, sqlite3_stmt* stmt) {
  int rc = SQLITE_ROW;
  while (rc == SQLITE_ROW) rc = ::sqlite3_step(stmt);
  // The message must be read before reset, which may overwrite it.
  Result<void> result;
  if (rc != SQLITE_DONE) result = std::unexpected(error(db, "", rc));
  ::sqlite3_reset(stmt);
  return result;
}

Result<std::int64_t> query_int(sqlite3* db, const char* sql) {
  auto stmt = prepare(db, sql);
  if (!stmt) return std::unexpected(stmt.error());
  const int rc = ::sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return std::unexpected(error(db, sql, rc == SQLITE_DONE ? SQLITE_ERROR : rc));
  return ::sqlite3_column_int64(stmt->get(), 0);
}

Transaction::~Transaction() {
  // After some errors (e.g. SQLITE_FULL on commit) SQLite has already rolled
  // back; get_autocommit tells whether a transaction is still open.
  if (open_ && ::sqlite3_get_autocommit(db_) == 0) (void)exec(db_, "ROLLBACK");
}

Result<void> Transaction::begin() {
  if (auto r = exec(db_, "BEGIN IMMEDIATE"); !r) return std::unexpected(r.error().prefixed("begin transaction"));
  open_ = true;
  return {};
}

Result<void> Transaction::commit() {
  if (auto r = exec(db_, "COMMIT"); !r) return std::unexpected(r.error().prefixed("commit"));
  open_ = false;
  return {};
}

}  // namespace airssys::daemoneye::sqlite
