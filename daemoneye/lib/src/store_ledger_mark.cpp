// The store's ledger mark (store_ledger_mark.hpp).

#include "store_ledger_mark.hpp"

#include <fmt/format.h>

#include "sqlite_util.hpp"

namespace airssys::daemoneye::ledger_mark {

Result<std::optional<AlertLedgerMark>> load(sqlite3* db) {
  auto st = sqlite::prepare(db, "SELECT size, root FROM alert_ledger WHERE id = 1");
  if (!st) return std::unexpected(st.error().prefixed("read the alerts' ledger mark"));
  const int rc = ::sqlite3_step(st->get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return std::unexpected(sqlite::error(db, "read the alerts' ledger mark", rc));
  const std::int64_t size = ::sqlite3_column_int64(st->get(), 0);
  const auto* root = reinterpret_cast<const char*>(::sqlite3_column_text(st->get(), 1));
  // A damaged or hand-edited row is no mark: the ledger is matched by time instead.
  if (size < 0 || root == nullptr) return std::nullopt;
  return AlertLedgerMark{.size = static_cast<std::uint64_t>(size),
                         .root = std::string(root, static_cast<std::size_t>(::sqlite3_column_bytes(st->get(), 1)))};
}

Result<void> save(sqlite3* db, const AlertLedgerMark& mark) {
  auto st = sqlite::prepare(db,
                            "INSERT INTO alert_ledger (id, size, root) VALUES (1, ?, ?) "
                            "ON CONFLICT(id) DO UPDATE SET size = excluded.size, root = excluded.root");
  if (!st) return std::unexpected(st.error().prefixed("save the alerts' ledger mark"));
  sqlite::bind(st->get(), 1, static_cast<std::int64_t>(mark.size));
  sqlite::bind(st->get(), 2, std::string_view(mark.root));
  if (auto r = sqlite::run(db, st->get()); !r) return std::unexpected(r.error().prefixed("save the alerts' ledger mark"));
  return {};
}

}  // namespace airssys::daemoneye::ledger_mark
