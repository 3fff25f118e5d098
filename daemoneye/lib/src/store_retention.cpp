#include "store_retention.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

#include "sqlite_util.hpp"
#include "store_excepted.hpp"
#include "store_ledger_mark.hpp"

namespace airssys::daemoneye::retention {

namespace {

constexpr std::array<const char*, 3> kHistory{"process_events", "alerts", "scans"};

// Deletes rows of all history tables with time <= cutoff (or < when
// `strict`); adds the counts to `stats`.
Result<void> delete_until(sqlite3* db, std::int64_t cutoff, bool strict,
                                              RetentionStats& stats) {
  for (std::size_t t = 0; t < kHistory.size(); ++t) {
    auto stmt =
        sqlite::prepare(db, fmt::format("DELETE FROM {} WHERE time {} ?", kHistory[t], strict ? "<" : "<="));
    if (!stmt) return std::unexpected(stmt.error());
    sqlite::bind(stmt->get(), 1, cutoff);
    if (auto r = sqlite::run(db, stmt->get()); !r) {
      return std::unexpected(r.error().prefixed(fmt::format("retention: delete from {}", kHistory[t])));
    }
    const auto n = static_cast<std::size_t>(::sqlite3_changes64(db));
    (t == 0 ? stats.events_deleted : t == 1 ? stats.alerts_deleted : stats.scans_deleted) += n;
  }
  // What rule exceptions silenced goes with the alerts.
  if (auto r = store_excepted::prune(db, cutoff, strict); !r) return std::unexpected(r.error());
  return {};
}

// The time up to which one size step deletes: that of the K-th oldest row of
// the first non-empty table among events, scans, alerts; nullopt when all
// three are empty.
Result<std::optional<std::int64_t>> step_cutoff(sqlite3* db) {
  for (const char* table : {"process_events", "scans", "alerts"}) {
    auto count = sqlite::query_int(db, fmt::format("SELECT count(*) FROM {}", table).c_str());
    if (!count) return std::unexpected(count.error());
    if (*count == 0) continue;
    // 1/16 per step: few steps for a large excess, little overshoot (the
    // newest history is what the operator wants kept).
    const std::int64_t k = std::min(*count, std::max<std::int64_t>(64, *count / 16));
    auto t = sqlite::query_int(
        db, fmt::format("SELECT time FROM {} ORDER BY time LIMIT 1 OFFSET {}", table, k - 1).c_str());
    if (!t) return std::unexpected(t.error());
    return std::optional<std::int64_t>(*t);
  }
  return std::optional<std::int64_t>();
}

}  // namespace

Result<std::uint64_t> used_bytes(sqlite3* db) {
  auto pages = sqlite::query_int(db, "PRAGMA page_count");
  if (!pages) return std::unexpected(pages.error());
  auto free_pages = sqlite::query_int(db, "PRAGMA freelist_count");
  if (!free_pages) return std::unexpected(free_pages.error());
  auto page_size = sqlite::query_int(db, "PRAGMA page_size");
  if (!page_size) return std::unexpected(page_size.error());
  return static_cast<std::uint64_t>(*pages - *free_pages) * static_cast<std::uint64_t>(*page_size);
}

Result<RetentionStats> enforce(sqlite3* db, const RetentionOptions& options,
                                                   std::int64_t now) {
  RetentionStats stats;
  sqlite::Transaction txn(db);
  if (auto r = txn.begin(); !r) return std::unexpected(r.error().prefixed("retention"));
  // The newest time deleted: alerts at or before it are not brought back
  // from the audit ledger (alert_ledger_sync.hpp), so the store does not
  // grow back past max_size by them.
  std::optional<std::int64_t> cut;
  if (options.max_age.count() > 0) {
    if (auto r = delete_until(db, now - options.max_age.count(), /*strict=*/true, stats); !r) {
      return std::unexpected(r.error());
    }
  }
  if (options.max_size_bytes > 0) {
    for (;;) {
      auto used = used_bytes(db);
      if (!used) return std::unexpected(used.error().prefixed("retention"));
      if (*used <= options.max_size_bytes) break;
      auto cutoff = step_cutoff(db);
      if (!cutoff) return std::unexpected(cutoff.error().prefixed("retention"));
      if (!*cutoff) break;  // only `processes` is left: nothing more may go
      if (auto r = delete_until(db, **cutoff, /*strict=*/false, stats); !r) return std::unexpected(r.error());
      cut = std::max(cut.value_or(**cutoff), **cutoff);
    }
  }
  if (cut)
    if (auto r = ledger_mark::raise_cut(db, *cut); !r) return std::unexpected(r.error().prefixed("retention"));
  if (auto r = txn.commit(); !r) return std::unexpected(r.error().prefixed("retention"));
  return stats;
}

}  // namespace airssys::daemoneye::retention
