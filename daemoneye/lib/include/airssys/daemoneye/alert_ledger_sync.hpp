#pragma once
// AlertLedgerSync — keeps the store's `alerts` table complete with respect to
// the audit ledger, the record of raised alerts the agent trusts.
//
// An alert is raised when AlertPipeline::submit has appended it to the
// ledger (durable before submit returns) and handed it to the sinks; the
// agent commits it to the store after that. A SIGKILL or power loss in
// between, or a commit that fails (full disk, store locked), would leave an
// alert in the ledger and at the sinks but not in the store: the dedup
// window, read back from the store at the next start, would not know it
// (raised twice), and `daemoneye-cli alerts` would not show it. So:
//
//  - catch_up(), at start before the dedup window is read back: inserts into
//    the store every alert of the ledger the store lacks, with its ledger
//    fields (time, host, rule, severity, tags, dedup key, row).
//  - store(), each scan: the alerts submit() just raised, the Sigma rules'
//    marks and the new mark, one transaction. After a failure it reads what
//    lies past the mark back from the ledger instead (the refused alerts and
//    the new ones), at most kChunksPerScan chunks a scan, so nothing waits
//    in memory and a later scan, or the next start, stores the rest. When
//    the ledger cannot be read (its root), the scan's own alerts and marks
//    are still stored, the mark left where it was.
//
// The ledger is read in chunks (kChunkEntries entries or kChunkBytes bytes,
// whichever comes first); each chunk is one transaction that inserts what
// it found missing and moves the mark past it, so memory stays bounded and a
// kill loses only the chunk in progress.
//
// The mark (Store::alert_ledger_mark) is the ledger size up to which the
// store is complete, with the ledger's root at that size, so a mark is only
// trusted against the ledger it was taken on. Only the entries past it are
// read: a clean start reads none. Without a usable mark (a store no agent
// with this class wrote, a new store beside an old ledger, a ledger.dir
// pointed at another ledger) the ledger is read from the first entry newer
// than the floor (below), found by a binary search on the entries' "time"
// (they are appended in time order but for a clock set back).
//
// An alert counts as stored when the store holds as many alerts of its
// (time, rule id, dedup key), among the rows stored after the mark's
// (AlertLedgerMark::alerts_id), as the entries read hold; so an alert is not
// inserted twice, also when an older agent or a failed read's fallback
// stored alerts past the mark, and one identical to an alert below the mark
// (the same second, dedup window 0) is still stored.
//
// Not inserted: alerts at or before the floor — older than the store's
// retention age (`max_age`), at or before what retention deleted
// (Store::alert_ledger_cut), and without a usable mark older than the
// store's oldest scan (history the store does not hold any more) — so a
// catch-up never undoes retention. Skipped and told to `log` once: entries
// that cannot be read (a damaged offset) and entries whose bytes do not
// hash to the tree's leaf hash (edited in place: tampering). Entries that
// are not alerts (live query audit records) are skipped silently. What the
// agent does not do here: hand a recovered alert to the sinks again
// (docs/daemoneye.md "Alerts across a crash").
//
// Thread safety: one thread (the agent's scan thread); the ledger may be
// appended to by other threads meanwhile (live query audit records).

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/event_marks.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace airssys::ledger {
class Ledger;
}

namespace airssys::daemoneye {

class Store;

struct AlertCatchUp {
  std::uint64_t stored = 0;        // alerts the ledger held and the store lacked, inserted now
  std::uint64_t entries_read = 0;  // ledger entries read back
  std::uint64_t skipped = 0;       // entries that could not be read or failed their leaf hash
  std::uint64_t not_raised = 0;    // alerts whose append was reported failed (append_failed), kept out
  bool by_time = false;            // no usable mark: the ledger was read back by time
  bool complete = false;           // the store is up to the ledger's end (else: store() goes on)
};

class AlertLedgerSync {
 public:
  static constexpr std::uint64_t kChunkEntries = 512;
  static constexpr std::uint64_t kChunkBytes = std::uint64_t{16} << 20;
  static constexpr int kChunksPerScan = 4;

  using Log = std::function<void(std::string_view)>;

  // Both outlive this object. `max_age` (the store's retention age; 0:
  // none) bounds what is brought back. `log` hears of entries skipped as
  // unreadable or tampered with, and of a ledger that cannot be read.
  AlertLedgerSync(const ledger::Ledger& ledger, Store& store, std::chrono::seconds max_age, Log log = {})
      : ledger_(ledger), store_(store), max_age_(max_age), log_(std::move(log)) {}

  // Brings the store up to the ledger's end (see above), every chunk; `now`
  // in Unix seconds. An error (the store's mark, the ledger's root, the
  // store refusing a chunk) leaves the store behind after the chunks
  // committed before it; `found`, when given, receives the alerts of the
  // failed chunk it found missing (the caller may still keep those in its
  // dedup window).
  [[nodiscard]] Result<AlertCatchUp> catch_up(std::int64_t now, std::vector<Alert>* found = nullptr);

  // Stores `raised` — the alerts the last AlertPipeline::submit appended, no
  // alert appended after them — with the Sigma rules' `marks`, in one
  // transaction; while behind, the alerts the store lacks instead, at most
  // kChunksPerScan chunks (the rest with later scans); when the ledger
  // cannot be read, `raised` and `marks` without the mark. Returns how many
  // alerts it stored. An error (the store refused) leaves the store behind.
  [[nodiscard]] Result<std::size_t> store(std::span<const Alert> raised, const EventMarks& marks, std::int64_t now);

  // The rate limit's summaries (alerts tagged daemoneye.rate_limited) the
  // ledger holds past the store's mark: (rule id, dedup key) -> the time
  // each was raised. For the start, before catch_up() moves the mark: a
  // summary of what the store's held_alerts owes that reached the ledger
  // before a kill lies there, whether or not the catch-up stores it (a store
  // that refuses writes, a summary older than `max_age`, a catch-up that
  // stops early). Read only; most entries are passed over by a substring
  // search, a summary is parsed and its leaf hash checked. Not counted:
  // entries at or past an append reported failed (append_failed: no sink got
  // them), entries that cannot be read or fail their leaf hash (as
  // catch_up() skips them). Without a usable mark: none (the catch-up then
  // reads by time and stores what it finds, where the store answers for it).
  using SummaryKey = std::pair<std::string, std::string>;
  [[nodiscard]] Result<std::map<SummaryKey, std::int64_t>> summaries_past_mark();

  // AlertPipeline::submit failed; `size_before` is the ledger's size before
  // it. A ledger whose head write or sync failed reports the append failed
  // (the alerts go to no sink), but the head on disk may count the entries
  // after a restart; the next start's catch_up keeps the alerts at or past
  // `size_before` out of the store (so the dedup window does not suppress
  // them when they are raised again) and clears the note. A later store()
  // of appended alerts clears it too (the append failed before the head:
  // the ledger went on). Saved in the store, one transaction.
  [[nodiscard]] Result<void> append_failed(std::uint64_t size_before);

  // The store lacks alerts the ledger holds (a failed store or catch_up, or
  // no catch_up yet): call store() with the next scan even if it raised nothing.
  [[nodiscard]] bool behind() const noexcept { return behind_; }

 private:
  Result<AlertCatchUp> sync(std::int64_t now, const EventMarks* marks, std::vector<Alert>* found, int max_chunks,
                            bool at_start);
  void tell(std::string_view message) const;
  Result<std::string> root_at(std::uint64_t size);  // the ledger's root, hex; a failure sets ledger_failed_now_

  const ledger::Ledger& ledger_;
  Store& store_;
  std::chrono::seconds max_age_;
  Log log_;
  bool behind_ = true;
  bool ledger_failed_ = false;      // told once per outage
  bool ledger_failed_now_ = false;  // the last root_at failed
  std::uint64_t told_below_ = 0;  // skipped entries below this index were told already
  // A catch-up spread over several calls: the mark's alerts_id stays at the
  // start's (`base_`) until the last chunk; `consumed_` counts, per (time,
  // rule, dedup key), the entries earlier chunks matched with rows above it.
  std::int64_t base_ = -2;
  std::map<std::tuple<std::int64_t, std::string, std::string>, std::uint64_t> consumed_;
};

}  // namespace airssys::daemoneye
