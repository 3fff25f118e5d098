// The store's excepted_alerts table (store_excepted.hpp).

#include "store_excepted.hpp"

#include <fmt/format.h>

#include "sqlite_util.hpp"

namespace airssys::daemoneye::store_excepted {

const char* ddl() noexcept {
  return "CREATE TABLE IF NOT EXISTS excepted_alerts (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, "
         "rule_id TEXT NOT NULL, exception_id TEXT NOT NULL, dedup_key TEXT NOT NULL, row TEXT NOT NULL);"
         "CREATE INDEX IF NOT EXISTS excepted_alerts_time ON excepted_alerts(time);";
}

Result<void> insert(sqlite3* db, std::span<const ExceptedAlert> rows) {
  if (rows.empty()) return {};
  sqlite::Transaction txn(db);
  if (auto r = txn.begin(); !r) return std::unexpected(r.error().prefixed("excepted_alerts"));
  auto st = sqlite::prepare(
      db, "INSERT INTO excepted_alerts (time, rule_id, exception_id, dedup_key, row) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st) return std::unexpected(st.error().prefixed("excepted_alerts"));
  for (const ExceptedAlert& a : rows) {
    sqlite::bind(st->get(), 1, a.time);
    sqlite::bind(st->get(), 2, std::string_view(a.rule_id));
    sqlite::bind(st->get(), 3, std::string_view(a.exception_id));
    sqlite::bind(st->get(), 4, std::string_view(a.dedup_key));
    sqlite::bind(st->get(), 5, std::string_view(a.row_json));
    if (auto r = sqlite::run(db, st->get()); !r) return std::unexpected(r.error().prefixed("excepted_alerts"));
  }
  // The oldest past the cap go (ids only grow: AUTOINCREMENT is not needed
  // for the order, max(id) is the newest).
  if (auto r = sqlite::exec(db, fmt::format("DELETE FROM excepted_alerts WHERE id <= (SELECT max(id) FROM "
                                            "excepted_alerts) - {}",
                                            kMaxRows)
                                    .c_str());
      !r)
    return std::unexpected(r.error().prefixed("excepted_alerts"));
  return txn.commit();
}

Result<std::uint64_t> prune(sqlite3* db, std::int64_t cutoff, bool strict) {
  auto st = sqlite::prepare(db, strict ? "DELETE FROM excepted_alerts WHERE time < ?" : "DELETE FROM excepted_alerts WHERE time <= ?");
  if (!st) return std::unexpected(st.error().prefixed("retention: delete from excepted_alerts"));
  sqlite::bind(st->get(), 1, cutoff);
  if (auto r = sqlite::run(db, st->get()); !r)
    return std::unexpected(r.error().prefixed("retention: delete from excepted_alerts"));
  return static_cast<std::uint64_t>(::sqlite3_changes64(db));
}

}  // namespace airssys::daemoneye::store_excepted
