#pragma once
// Retention of the store's history tables (process_events, alerts, scans).
// `processes` is live state and is never trimmed.

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/store.hpp>
#include <cstdint>

namespace airssys::daemoneye::retention {

// Bytes the database's pages hold: (page_count - freelist_count) * page_size.
// Deleting rows frees pages for reuse without shrinking the file, so this,
// not the file size, is what max_size_bytes bounds.
[[nodiscard]] Result<std::uint64_t> used_bytes(sqlite3* db);

// In one transaction: deletes history rows older than now - max_age (0 = no
// age limit); then, while used_bytes() > max_size_bytes (0 = no size limit),
// deletes the oldest rows of all three tables in steps (each step up to the
// time of the oldest 1/16, at least 64, of the events; of the scans, then the
// alerts, once there are no events), until under the limit or the three
// tables are empty.
[[nodiscard]] Result<RetentionStats> enforce(sqlite3* db, const RetentionOptions& options,
                                                                 std::int64_t now);

}  // namespace airssys::daemoneye::retention
