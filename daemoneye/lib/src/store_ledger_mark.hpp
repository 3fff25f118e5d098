#pragma once
// The store's ledger mark (table alert_ledger, one row; schema in
// store_schema.cpp): how far into the audit ledger the `alerts` table is
// complete. Saved in the transaction that inserts the alerts it covers, read
// when the agent starts (alert_ledger_sync.hpp).

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/store.hpp>
#include <optional>

namespace airssys::daemoneye::ledger_mark {

// The saved mark; nullopt when none was ever saved (a new store, or one
// written only by an agent older than the table).
[[nodiscard]] Result<std::optional<AlertLedgerMark>> load(sqlite3* db);
// Replaces the saved mark. Runs inside the caller's transaction.
[[nodiscard]] Result<void> save(sqlite3* db, const AlertLedgerMark& mark);

}  // namespace airssys::daemoneye::ledger_mark
