#pragma once
// The store's ledger mark (table alert_ledger, one row; schema in
// store_schema.cpp): how far into the audit ledger the `alerts` table is
// complete, and the time at or before which alerts are not brought back
// from the ledger (retention removed that history). The mark is saved in the
// transaction that inserts the alerts it covers, read when the agent starts
// (alert_ledger_sync.hpp); the cut is raised by retention.

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/store.hpp>
#include <optional>

namespace airssys::daemoneye::ledger_mark {

// Adds the columns alerts_id, cut, unraised_from and pending_discontinuity to an alert_ledger table made before
// them (one made by the first agent with the table). Runs inside the
// schema's transaction.
[[nodiscard]] Result<void> add_columns(sqlite3* db);
// The saved mark; nullopt when none was ever saved (a new store, one
// written only by an agent older than the table, a row that holds only a cut).
[[nodiscard]] Result<std::optional<AlertLedgerMark>> load(sqlite3* db);
// Replaces the saved mark (the cut stays). Runs inside the caller's
// transaction, after the alerts it covers are inserted: a mark without
// alerts_id saves the largest alert id at that point.
[[nodiscard]] Result<void> save(sqlite3* db, const AlertLedgerMark& mark);
// The saved cut; nullopt when none.
[[nodiscard]] Result<std::optional<std::int64_t>> load_cut(sqlite3* db);
// Raises the saved cut to `time` (never lowers it); a store without a mark
// gets a row that holds only the cut. Runs inside the caller's transaction.
[[nodiscard]] Result<void> raise_cut(sqlite3* db, std::int64_t time);

// Where the ledger entries begin whose append was reported failed (nullopt:
// none): Store::note_alerts_not_raised_from. Saved keeps the smallest; a
// mark saved with clear_unraised clears it.
[[nodiscard]] Result<std::optional<std::uint64_t>> load_unraised(sqlite3* db);
[[nodiscard]] Result<void> save_unraised(sqlite3* db, std::uint64_t size);

// The ledger discontinuities found at a start and not raised yet
// (Store::pending_ledger_discontinuities): an opaque text, "" when none.
// Saving "" clears it. Each runs on its own (no transaction needed: one row).
[[nodiscard]] Result<std::string> load_pending(sqlite3* db);
[[nodiscard]] Result<void> save_pending(sqlite3* db, std::string_view text);

}  // namespace airssys::daemoneye::ledger_mark
