#pragma once
// Store — DaemonEye's SQLite database (WAL), written by the agent only.
//
// Tables (osquery names; schema in docs/daemoneye.md "Tables"):
//   processes       one row per live process, kept current incrementally:
//                   apply_snapshot() writes only rows that changed, so an
//                   idle host writes almost nothing
//   process_events  start / exec / stop, with parent_path and parent_cmdline
//                   resolved from the parent's state at event time
//   process_open_sockets  the latest collection's sockets (osquery's table)
//   users, groups   the host's local accounts as procmond last read them
//   alerts, scans
// Every write is one transaction; a call that returns ok has committed, and
// with synchronous=FULL it survives power loss (daemoneye.store_faults
// shows it under injected write and fsync failures). A call that fails has
// changed nothing: the transaction is rolled back and so is the mirror.
// Errors: resource_exhausted for a full disk (SQLITE_FULL), io for another
// I/O failure, busy when another writer holds the database past
// busy_timeout, corrupt for a damaged file, invalid_input for a record the
// store refuses (a negative or repeated pid), denied / not_found for the
// path checks at open.
//
// Thread safety: one Store is used by one thread at a time.

#include <airssys/daemoneye/accounts.hpp>
#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/event_marks.hpp>
#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/process_record.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

// 0 disables a limit. Size is the bytes the database's pages hold (freed
// pages are reused, the file does not shrink); `processes` is never trimmed.
struct RetentionOptions {
  std::chrono::seconds max_age{7 * 24 * 3600};  // process_events, alerts, scans older than this are deleted
  std::uint64_t max_size_bytes = 512ull * 1024 * 1024;  // then the oldest events/scans/alerts go until under it
};

struct StoreOptions {
  std::filesystem::path path;  // created 0600 (its directory 0700 if created)
  RetentionOptions retention;
  // Told what a long schema upgrade is doing (before it, and its time after).
  std::function<void(std::string_view)> log;
};

struct ApplyStats {
  std::size_t inserted = 0, updated = 0, deleted = 0, unchanged = 0;
};

struct ScanRecord {
  std::uint64_t scan_id = 0;
  std::int64_t time = 0;  // Unix seconds
  std::uint32_t processes = 0;
  std::uint32_t unreadable = 0;
  std::uint64_t collect_us = 0, store_us = 0, rules_us = 0;
  std::uint32_t alerts = 0;
  std::uint32_t rule_errors = 0;
  ApplyStats applied;
};

// How far into the audit ledger the store's alerts are complete
// (alert_ledger_sync.hpp; table alert_ledger): every alert entry of the
// ledger below `size` is in `alerts`, or was there until retention.
struct AlertLedgerMark {
  std::uint64_t size = 0;
  std::string root;  // the ledger's root hash at `size`, lowercase hex: the ledger `size` counts in
  // Rows of `alerts` with a larger id were stored after the alerts the mark
  // counts (the ones it counts are at or below it). Read back: nullopt when
  // unknown (a mark saved before the column existed: every row counts).
  // Saved: nullopt saves the largest id once the transaction's alerts are in.
  std::optional<std::int64_t> alerts_id;
  // Saved: clears Store::alerts_not_raised_from (they are dealt with).
  bool clear_unraised = false;
};

struct RetentionStats {
  std::size_t events_deleted = 0, alerts_deleted = 0, scans_deleted = 0;
};

// A row a rule exception silenced (excepted_alerts).
struct ExceptedAlert {
  std::int64_t time = 0;
  std::string rule_id, exception_id, dedup_key, row_json;
};

class Store {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Store>> open(StoreOptions options);
  // What open() does to the database's directory, and nothing to the file:
  // creates it (0700, each missing level) and refuses one everyone may
  // write or another user owns. The agent calls it first so it can take the
  // ledger's writer lock in that directory before opening (and perhaps
  // migrating) a store another agent may be running on.
  [[nodiscard]] static Result<void> prepare_directory(const std::filesystem::path& database);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Makes `processes` equal to `all` (keyed by pid): inserts new pids,
  // updates rows whose columns changed, deletes pids not in `all`.
  [[nodiscard]] Result<ApplyStats> apply_snapshot(std::span<const ProcessRecord> all);
  // Appends to process_events (parent_path/parent_cmdline from the parent's
  // current row) and keeps `processes` current: start/exec upsert, stop deletes.
  [[nodiscard]] Result<void> append_events(std::span<const ProcessEvent> events);
  // Makes process_open_sockets hold exactly `rows` (a collection's sockets);
  // writes nothing when they equal the rows last written since open.
  [[nodiscard]] Result<void> replace_sockets(std::span<const osl::proc::OpenSocket> rows);
  // Makes process_memory_map hold exactly `rows` (a collection's executable
  // regions); rewrites only the pids whose rows changed, deletes gone pids'.
  [[nodiscard]] Result<void> replace_memory_maps(std::span<const MemoryMapRow> rows);
  // Make users / groups hold exactly `rows` (the accounts a collection
  // carried); write nothing when they equal the rows last written since open.
  [[nodiscard]] Result<void> replace_users(std::span<const UserAccount> rows);
  [[nodiscard]] Result<void> replace_groups(std::span<const GroupAccount> rows);
  [[nodiscard]] Result<void> record_scan(const ScanRecord& scan);
  // Appends to excepted_alerts (what rule exceptions silenced, as logged;
  // capped at 10,000 rows, the oldest deleted; pruned with the alerts).
  [[nodiscard]] Result<void> insert_excepted(std::span<const ExceptedAlert> rows);
  [[nodiscard]] Result<void> insert_alerts(std::span<const Alert> alerts);
  // The same, and replaces the Sigma rules' saved marks with `marks`, in
  // one transaction: a scan's alerts and how far its rules read are stored
  // together (also when `alerts` is empty).
  [[nodiscard]] Result<void> insert_alerts(std::span<const Alert> alerts, const EventMarks& marks);
  // The same, with the ledger mark past them (and with `marks`, when
  // given, the Sigma rules' marks), in one transaction.
  [[nodiscard]] Result<void> insert_alerts(std::span<const Alert> alerts, const AlertLedgerMark& ledger_mark);
  [[nodiscard]] Result<void> insert_alerts(std::span<const Alert> alerts, const EventMarks& marks,
                                           const AlertLedgerMark& ledger_mark);
  // The ledger mark the last insert_alerts with one saved; nullopt when none
  // ever was (a new store, or one only an older agent wrote).
  [[nodiscard]] Result<std::optional<AlertLedgerMark>> alert_ledger_mark();
  // How many stored alerts have this time, rule and dedup key and an id
  // above `after_id` (how the agent tells whether an alert it reads back
  // from the ledger is stored).
  [[nodiscard]] Result<std::uint64_t> count_alerts(std::int64_t time, std::string_view rule_id,
                                                   std::string_view dedup_key, std::int64_t after_id = -1);
  // When the newest stored alert of this rule with this dedup key was
  // raised; nullopt when none is stored (how the agent tells, at start,
  // whether a rate limit summary was raised before a kill, and when).
  [[nodiscard]] Result<std::optional<std::int64_t>> alert_raised_at(std::string_view rule_id,
                                                                    std::string_view dedup_key);
  // The time at or before which alerts are not brought back from the ledger:
  // the newest history retention deleted (raised by enforce_retention),
  // or what AlertLedgerSync saved; nullopt when neither ever happened.
  [[nodiscard]] Result<std::optional<std::int64_t>> alert_ledger_cut();
  // Raises the cut to `time` (never lowers it), one transaction.
  [[nodiscard]] Result<void> raise_alert_ledger_cut(std::int64_t time);
  // The ledger size before an alert append that was reported failed (the
  // alerts were not raised, but the ledger's head on disk may count them):
  // saved by the agent when a submit fails, keeping the smallest, one
  // transaction; read at the next start (alert_ledger_sync.hpp).
  [[nodiscard]] Result<void> note_alerts_not_raised_from(std::uint64_t ledger_size);
  [[nodiscard]] Result<std::optional<std::uint64_t>> alerts_not_raised_from();
  // The audit ledger's discontinuities a start found and has not raised yet
  // (ledger_continuity.hpp pending_text: saved before the start moves the
  // mark onto the ledger found, cleared once they are in the ledger), so a
  // start that fails in between leaves them for the next; "" when none.
  // Saving "" clears them.
  [[nodiscard]] Result<std::string> pending_ledger_discontinuities();
  [[nodiscard]] Result<void> save_pending_ledger_discontinuities(std::string_view text);
  // The oldest scan's time (where the store's history begins now); nullopt
  // when no scan is stored.
  [[nodiscard]] Result<std::optional<std::int64_t>> oldest_scan_time();
  // The marks the last insert_alerts with marks saved (none: empty), with
  // what the rate limit held back then (EventMarks::held); a saved mark out
  // of range is reset and told to StoreOptions::log.
  [[nodiscard]] Result<EventMarks> event_marks();
  // Deletes by age, then by size (VACUUM-free: freed pages are reused).
  [[nodiscard]] Result<RetentionStats> enforce_retention(std::int64_t now);

  // The current row of `pid`, from the in-memory mirror of `processes`.
  [[nodiscard]] const ProcessRecord* process(std::int64_t pid) const;
  [[nodiscard]] std::size_t process_count() const noexcept;
  [[nodiscard]] const std::filesystem::path& path() const noexcept;
  // Rows inserted, updated or deleted through this Store since open
  // (sqlite3_total_changes64): an idle scan adds nothing.
  [[nodiscard]] std::uint64_t total_changes() const noexcept;

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye
