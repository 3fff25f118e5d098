#pragma once
// The store's excepted_alerts table (docs/daemoneye.md "excepted_alerts"):
// a bounded record of the rows rule exceptions silenced, for the operator
// to query (`daemoneye-cli query`), as the agent logs them
// (ExceptionFilter: the first hit of each key an hour, at most 20 a minute
// per exception). Created at open when missing, with no schema version of
// its own (as alert_ledger.pending_discontinuity): an older agent ignores
// it. Capped at kMaxRows (the oldest deleted) and pruned with the alerts
// by retention. Private to the daemoneye library.
//
// Thread safety: used by the Store's one thread.

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/store.hpp>

#include <cstdint>
#include <span>

namespace airssys::daemoneye::store_excepted {

inline constexpr std::int64_t kMaxRows = 10000;

// CREATE TABLE IF NOT EXISTS excepted_alerts (...) and its time index.
[[nodiscard]] const char* ddl() noexcept;

// Appends `rows` in one transaction, then deletes the oldest past kMaxRows.
[[nodiscard]] Result<void> insert(sqlite3* db, std::span<const ExceptedAlert> rows);

// Deletes rows with time <= cutoff (< when `strict`); returns how many.
[[nodiscard]] Result<std::uint64_t> prune(sqlite3* db, std::int64_t cutoff, bool strict);

}  // namespace airssys::daemoneye::store_excepted
