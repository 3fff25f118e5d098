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
//    fields (time, host, rule, severity, tags, dedup key, row), one
//    transaction that also saves the new mark.
//  - store(), each scan: the alerts submit() just raised, the Sigma rules'
//    marks and the new mark, one transaction. After a failure it reads
//    everything past the mark back from the ledger instead (the refused
//    alerts and the new ones), so nothing waits in memory and a later scan,
//    or the next start, stores it.
//
// The mark (Store::alert_ledger_mark) is the ledger size up to which the
// store is complete, with the ledger's root at that size, so a mark is only
// trusted against the ledger it was taken on. Only the entries past it are
// read: a clean start reads none. Without a usable mark (a store no agent
// with this class wrote, a new store beside an old ledger, a ledger.dir
// pointed at another ledger) the ledger is read back from its end to the
// first entry older than the retention age (Store's max_age; 0: the whole
// ledger). Either way an alert counts as stored when the store holds as many
// alerts of its (time, rule id, dedup key) as the range read does, so an
// alert is never inserted twice, also when an older agent stored alerts past
// the mark. Entries that are not alerts (live query audit records) are
// skipped. What the agent does not do here: hand a recovered alert to the
// sinks again (docs/daemoneye.md "Alerts across a crash").
//
// Thread safety: one thread (the agent's scan thread); the ledger may be
// appended to by other threads meanwhile (live query audit records).

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/event_marks.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace airssys::ledger {
class Ledger;
}

namespace airssys::daemoneye {

class Store;

struct AlertCatchUp {
  // The alerts the ledger holds and the store lacked, in ledger order:
  // inserted, unless catch_up failed (then the store is behind and store()
  // tries again).
  std::vector<Alert> missing;
  std::uint64_t entries_read = 0;  // ledger entries read back
  bool by_time = false;            // no usable mark: the ledger was read back by time
};

class AlertLedgerSync {
 public:
  // Both outlive this object. `max_age` (the store's retention age; 0:
  // none) bounds the read back without a usable mark.
  AlertLedgerSync(const ledger::Ledger& ledger, Store& store, std::chrono::seconds max_age)
      : ledger_(ledger), store_(store), max_age_(max_age) {}

  // Brings the store up to the ledger's end (see above); `now` in Unix
  // seconds. An error (the store's mark or a ledger entry that cannot be
  // read, the store refusing the insert) leaves the store behind; `found`,
  // when given, receives what was found missing before it (the caller may
  // still keep those in its dedup window).
  [[nodiscard]] Result<AlertCatchUp> catch_up(std::int64_t now, std::vector<Alert>* found = nullptr);

  // Stores `raised` — the alerts the last AlertPipeline::submit appended, no
  // alert appended after them — with the Sigma rules' `marks`, in one
  // transaction; while behind, every alert the store lacks instead (as
  // catch_up, with the marks). Returns how many alerts it stored. An error
  // leaves the store behind.
  [[nodiscard]] Result<std::size_t> store(std::span<const Alert> raised, const EventMarks& marks, std::int64_t now);

  // The store lacks alerts the ledger holds (a failed store or catch_up, or
  // no catch_up yet): call store() with the next scan even if it raised nothing.
  [[nodiscard]] bool behind() const noexcept { return behind_; }

 private:
  Result<AlertCatchUp> sync(std::int64_t now, const EventMarks* marks, std::vector<Alert>* found);

  const ledger::Ledger& ledger_;
  Store& store_;
  std::chrono::seconds max_age_;
  bool behind_ = true;
};

}  // namespace airssys::daemoneye
