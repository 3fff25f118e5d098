// The store's ledger mark (store_ledger_mark.hpp).

#include "store_ledger_mark.hpp"

#include <fmt/format.h>

#include "sqlite_util.hpp"

namespace airssys::daemoneye::ledger_mark {

Result<void> add_columns(sqlite3* db) {
  auto has = sqlite::query_int(db, "SELECT count(*) FROM pragma_table_info('alert_ledger') WHERE name = 'alerts_id'");
  if (!has) return std::unexpected(has.error().prefixed("read the alerts' ledger mark's columns"));
  if (*has == 0)
    if (auto r = sqlite::exec(db, "ALTER TABLE alert_ledger ADD COLUMN alerts_id INTEGER; "
                                  "ALTER TABLE alert_ledger ADD COLUMN cut INTEGER;");
        !r)
      return r;
  auto unraised =
      sqlite::query_int(db, "SELECT count(*) FROM pragma_table_info('alert_ledger') WHERE name = 'unraised_from'");
  if (!unraised) return std::unexpected(unraised.error().prefixed("read the alerts' ledger mark's columns"));
  if (*unraised == 0)
    if (auto r = sqlite::exec(db, "ALTER TABLE alert_ledger ADD COLUMN unraised_from INTEGER;"); !r) return r;
  auto pending = sqlite::query_int(
      db, "SELECT count(*) FROM pragma_table_info('alert_ledger') WHERE name = 'pending_discontinuity'");
  if (!pending) return std::unexpected(pending.error().prefixed("read the alerts' ledger mark's columns"));
  if (*pending > 0) return {};
  return sqlite::exec(db, "ALTER TABLE alert_ledger ADD COLUMN pending_discontinuity TEXT;");
}

Result<std::optional<AlertLedgerMark>> load(sqlite3* db) {
  auto st = sqlite::prepare(db, "SELECT size, root, alerts_id FROM alert_ledger WHERE id = 1");
  if (!st) return std::unexpected(st.error().prefixed("read the alerts' ledger mark"));
  const int rc = ::sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return std::unexpected(sqlite::error(db, "read the alerts' ledger mark", rc));
  const std::int64_t size = ::sqlite3_column_int64(st->get(), 0);
  const auto* root = reinterpret_cast<const char*>(::sqlite3_column_text(st->get(), 1));
  // A damaged or hand-edited row is no mark: the ledger is matched by time
  // instead. A row retention made to hold the cut has size -1.
  if (size < 0 || root == nullptr) return std::nullopt;
  AlertLedgerMark mark{.size = static_cast<std::uint64_t>(size),
                       .root = std::string(root, static_cast<std::size_t>(::sqlite3_column_bytes(st->get(), 1)))};
  if (::sqlite3_column_type(st->get(), 2) == SQLITE_INTEGER) mark.alerts_id = ::sqlite3_column_int64(st->get(), 2);
  return mark;
}

Result<void> save(sqlite3* db, const AlertLedgerMark& mark) {
  auto st = sqlite::prepare(db,
                            "INSERT INTO alert_ledger (id, size, root, alerts_id) "
                            "VALUES (1, ?1, ?2, coalesce(?3, (SELECT coalesce(max(id), 0) FROM alerts))) "
                            "ON CONFLICT(id) DO UPDATE SET size = excluded.size, root = excluded.root, "
                            "alerts_id = excluded.alerts_id, "
                            "unraised_from = CASE WHEN ?4 THEN NULL ELSE unraised_from END");
  if (!st) return std::unexpected(st.error().prefixed("save the alerts' ledger mark"));
  sqlite::bind(st->get(), 1, static_cast<std::int64_t>(mark.size));
  sqlite::bind(st->get(), 2, std::string_view(mark.root));
  if (mark.alerts_id) sqlite::bind(st->get(), 3, *mark.alerts_id);
  sqlite::bind(st->get(), 4, mark.clear_unraised ? 1 : 0);
  if (auto r = sqlite::run(db, st->get()); !r) return std::unexpected(r.error().prefixed("save the alerts' ledger mark"));
  return {};
}

Result<std::optional<std::int64_t>> load_cut(sqlite3* db) {
  auto st = sqlite::prepare(db, "SELECT cut FROM alert_ledger WHERE id = 1 AND cut IS NOT NULL");
  if (!st) return std::unexpected(st.error().prefixed("read the alerts' retention cut"));
  const int rc = ::sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return std::unexpected(sqlite::error(db, "read the alerts' retention cut", rc));
  return ::sqlite3_column_int64(st->get(), 0);
}

Result<void> raise_cut(sqlite3* db, std::int64_t time) {
  auto st = sqlite::prepare(db,
                            "INSERT INTO alert_ledger (id, size, root, cut) VALUES (1, -1, '', ?1) "
                            "ON CONFLICT(id) DO UPDATE SET cut = max(coalesce(cut, ?1), ?1)");
  if (!st) return std::unexpected(st.error().prefixed("save the alerts' retention cut"));
  sqlite::bind(st->get(), 1, time);
  if (auto r = sqlite::run(db, st->get()); !r) return std::unexpected(r.error().prefixed("save the alerts' retention cut"));
  return {};
}

Result<std::optional<std::uint64_t>> load_unraised(sqlite3* db) {
  auto st = sqlite::prepare(db, "SELECT unraised_from FROM alert_ledger WHERE id = 1 AND unraised_from >= 0");
  if (!st) return std::unexpected(st.error().prefixed("read where unraised alerts begin"));
  const int rc = ::sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return std::unexpected(sqlite::error(db, "read where unraised alerts begin", rc));
  return static_cast<std::uint64_t>(::sqlite3_column_int64(st->get(), 0));
}

Result<void> save_unraised(sqlite3* db, std::uint64_t size) {
  auto st = sqlite::prepare(db,
                            "INSERT INTO alert_ledger (id, size, root, unraised_from) VALUES (1, -1, '', ?1) "
                            "ON CONFLICT(id) DO UPDATE SET unraised_from = min(coalesce(unraised_from, ?1), ?1)");
  if (!st) return std::unexpected(st.error().prefixed("save where unraised alerts begin"));
  sqlite::bind(st->get(), 1, static_cast<std::int64_t>(size));
  if (auto r = sqlite::run(db, st->get()); !r) return std::unexpected(r.error().prefixed("save where unraised alerts begin"));
  return {};
}

Result<std::string> load_pending(sqlite3* db) {
  auto st = sqlite::prepare(db, "SELECT pending_discontinuity FROM alert_ledger WHERE id = 1");
  if (!st) return std::unexpected(st.error().prefixed("read the ledger discontinuities not raised yet"));
  const int rc = ::sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return std::unexpected(sqlite::error(db, "read the ledger discontinuities not raised yet", rc));
  const auto* text = reinterpret_cast<const char*>(::sqlite3_column_text(st->get(), 0));
  if (text == nullptr) return std::string();
  return std::string(text, static_cast<std::size_t>(::sqlite3_column_bytes(st->get(), 0)));
}

Result<void> save_pending(sqlite3* db, std::string_view text) {
  // A store without a mark gets a row that holds only this (size -1: no mark).
  auto st = sqlite::prepare(db,
                            "INSERT INTO alert_ledger (id, size, root, pending_discontinuity) VALUES (1, -1, '', ?1) "
                            "ON CONFLICT(id) DO UPDATE SET pending_discontinuity = excluded.pending_discontinuity");
  if (!st) return std::unexpected(st.error().prefixed("save the ledger discontinuities not raised yet"));
  if (!text.empty()) sqlite::bind(st->get(), 1, text);  // unbound: NULL, none pending
  if (auto r = sqlite::run(db, st->get()); !r)
    return std::unexpected(r.error().prefixed("save the ledger discontinuities not raised yet"));
  return {};
}

}  // namespace airssys::daemoneye::ledger_mark
