#include "realtime_store.hpp"

namespace airssys::daemoneye::bench {
namespace {

std::string text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s, col)))
           : std::string();
}

EventRow row_of(sqlite3_stmt* s) {
  return EventRow{.id = sqlite3_column_int64(s, 0),
                  .event = text(s, 1),
                  .source = text(s, 2),
                  .cmdline = text(s, 3),
                  .time_ns = sqlite3_column_int64(s, 4)};
}

}  // namespace

std::expected<StoreReader, std::string> StoreReader::open(const std::string& db) {
  StoreReader r;
  sqlite3* h = nullptr;
  const int rc = sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  r.db_.reset(h);
  if (rc != SQLITE_OK) return std::unexpected(db + ": " + (h ? sqlite3_errmsg(h) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(h, 1000);
  constexpr const char* kCols = "SELECT id, event, source, cmdline, time_ns FROM process_events ";
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(h, (std::string(kCols) + "WHERE id > ?1 ORDER BY id").c_str(), -1, &s, nullptr) != SQLITE_OK) {
    return std::unexpected(db + ": " + sqlite3_errmsg(h));
  }
  r.after_.reset(s);
  if (sqlite3_prepare_v2(h, (std::string(kCols) + "WHERE instr(cmdline, ?1) > 0 AND (?2 = '' OR event = ?2) ORDER BY id").c_str(),
                         -1, &s, nullptr) != SQLITE_OK) {
    return std::unexpected(db + ": " + sqlite3_errmsg(h));
  }
  r.containing_.reset(s);
  return r;
}

std::expected<std::int64_t, std::string> StoreReader::rows_after(std::int64_t after,
                                                                 const std::function<void(const EventRow&)>& row) {
  sqlite3_stmt* s = after_.get();
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, after);
  std::int64_t last = after;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const EventRow r = row_of(s);
    last = r.id;
    row(r);
  }
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return std::unexpected(std::string("process_events: ") + sqlite3_errmsg(db_.get()));
  return last;
}

std::expected<void, std::string> StoreReader::rows_containing(const std::string& needle, const std::string& event,
                                                              const std::function<void(const EventRow&)>& row) {
  sqlite3_stmt* s = containing_.get();
  sqlite3_reset(s);
  sqlite3_bind_text(s, 1, needle.c_str(), static_cast<int>(needle.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, event.c_str(), static_cast<int>(event.size()), SQLITE_TRANSIENT);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) row(row_of(s));
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return std::unexpected(std::string("process_events: ") + sqlite3_errmsg(db_.get()));
  return {};
}

}  // namespace airssys::daemoneye::bench
