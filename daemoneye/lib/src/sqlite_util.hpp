#pragma once
// Small RAII layer over the SQLite3 C API, private to the daemoneye library.
//
// Db and Stmt own a sqlite3* / sqlite3_stmt* (closed / finalized on
// destruction). Transaction is a guard: it begins in begin(), commits in
// commit(), and rolls back in its destructor unless commit() succeeded, so an
// early return on error never leaves a transaction open.
// Errors are daemoneye::Error: the category from SQLite's result code
// (sqlite_category.hpp: busy, corrupt, resource_exhausted for a full disk,
// io, ...), the errno of a failed system call where SQLite recorded one,
// and a message carrying sqlite3_errmsg() and what was being done.
//
// Thread safety: none of its own; a Db is used by one thread at a time.

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

namespace airssys::daemoneye::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { ::sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const noexcept { ::sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// The error of the call on `db` that just returned `rc` (a SQLite result
// code; 0: take sqlite3_extended_errcode): message "<what>: <sqlite3_errmsg>"
// (what may be empty).
[[nodiscard]] Error error(sqlite3* db, std::string_view what, int rc = 0);

// Opens `path` with `flags` (SQLITE_OPEN_*) through the VFS named `vfs`
// (nullptr: the default); the error names the file.
[[nodiscard]] Result<Db> open(const std::string& path, int flags, const char* vfs = nullptr);

// Runs SQL that returns no rows needed by the caller (schema, pragmas).
[[nodiscard]] Result<void> exec(sqlite3* db, const char* sql);

// Prepares one statement; `persistent` hints SQLite that it is reused.
[[nodiscard]] Result<Stmt> prepare(sqlite3* db, std::string_view sql,
                                                       bool persistent = false);

// Runs a prepared statement to completion and resets it (bindings are kept:
// every caller binds every parameter). The message is sqlite3_errmsg; callers
// add what they were doing, only when it failed (no formatting per row).
[[nodiscard]] Result<void> run(sqlite3* db, sqlite3_stmt* stmt);

// The single integer of a one-row, one-column query (e.g. PRAGMA page_count).
[[nodiscard]] Result<std::int64_t> query_int(sqlite3* db, const char* sql);

inline void bind(sqlite3_stmt* s, int i, std::int64_t v) { ::sqlite3_bind_int64(s, i, v); }
inline void bind(sqlite3_stmt* s, int i, int v) { ::sqlite3_bind_int64(s, i, v); }
inline void bind(sqlite3_stmt* s, int i, double v) { ::sqlite3_bind_double(s, i, v); }
// The text must outlive the step (SQLITE_STATIC): bound strings are the
// caller's, alive until the statement is reset.
inline void bind(sqlite3_stmt* s, int i, std::string_view v) {
  ::sqlite3_bind_text64(s, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
}

class Transaction {
 public:
  explicit Transaction(sqlite3* db) noexcept : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // BEGIN IMMEDIATE: takes the write lock now, so a busy database fails here
  // (after busy_timeout) rather than halfway through the writes.
  [[nodiscard]] Result<void> begin();
  [[nodiscard]] Result<void> commit();

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace airssys::daemoneye::sqlite
