#pragma once
// The ErrorCategory of a SQLite result code (primary or extended), for
// errors from the guarded query engine and the store: a caller retries a
// busy database, reports a corrupt one, and fixes a query SQLite rejects.

#include <airssys/daemoneye/error.hpp>

#include <sqlite3.h>

namespace airssys::daemoneye::detail {

[[nodiscard]] inline ErrorCategory sqlite_category(int rc) noexcept {
  switch (rc & 0xff) {
    case SQLITE_ERROR:  // syntax errors, no such table or column: the SQL text
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
    case SQLITE_CONSTRAINT:
      return ErrorCategory::invalid_input;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCategory::busy;
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_READONLY:
      return ErrorCategory::denied;
    case SQLITE_CANTOPEN:
      return ErrorCategory::not_found;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
      return ErrorCategory::corrupt;
    case SQLITE_NOMEM:
    case SQLITE_FULL:
    case SQLITE_TOOBIG:  // a value past SQLITE_LIMIT_LENGTH
      return ErrorCategory::resource_exhausted;
    case SQLITE_INTERRUPT:
      return ErrorCategory::timeout;
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return ErrorCategory::io;
    default:
      return ErrorCategory::internal;
  }
}

}  // namespace airssys::daemoneye::detail
