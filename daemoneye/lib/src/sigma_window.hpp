#pragma once
// The scan window of Sigma rules (docs/daemoneye.md "Sigma rules", What a
// scan reads): which process_events rows a rule's query reads in one scan.
//
// A Sigma query reads `id > :after AND id <= :upto` (sigma_rule.cpp).
// - `upto` is the newest event id when the scan begins, one read for every
//   rule: events stored while the rules run are the next scan's.
// - `after` is the rule's mark (EventMarks): where its last successful
//   query read up to; the agent keeps the marks in the store (sigma_marks),
//   so a restart goes on from them. A rule without one (the first scan on
//   a new store, a rule new since the last scan) starts at the first event
//   stored with a time since the last recorded scan's collection, and at
//   least the last kFirstScanSeconds; so does a mark above the newest id (a
//   store file put back from an older copy: ids never go back otherwise,
//   see below).
// - At most kMaxEventsPerScan ids per rule and scan: a rule that fell
//   behind (its query failed, a burst of execs) catches up in bounded steps
//   instead of one query that passes its time limit.
// - A query that ran out of time or memory halves the rule's next window
//   (EventMarks::narrowed), each success doubles it back: events that are
//   expensive to match (long command lines under many regexes) are read in
//   smaller steps instead of failing every scan. A window of one event that
//   still fails is skipped, with the event's id in the failure, so one
//   event crafted to be unreadable cannot silence the rule. Other failures
//   (I/O, a busy store) keep the window as it was.
// ids only grow, also when retention empties the table (process_events.id
// is AUTOINCREMENT since schema version 3; before, SQLite gave max + 1, so
// an emptied table started again at 1, below every rule's mark, and the
// events under the old mark were never read), and the store's single
// writer commits them in order, so (after, upto] seen in one scan never
// gains a row later: no event is read twice or skipped.

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule_runner.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::daemoneye::sigma {

inline constexpr std::int64_t kFirstScanSeconds = 120;
inline constexpr std::int64_t kMaxEventsPerScan = 50'000;

struct EventRange {
  std::int64_t after = 0;  // exclusive
  std::int64_t upto = 0;   // inclusive
  std::int64_t limit = kMaxEventsPerScan;  // the most ids this window could hold
};

class ScanWindow {
 public:
  // Reads the newest event id (the engine's errors).
  [[nodiscard]] static Result<ScanWindow> begin(QueryEngine& engine, std::int64_t now);

  // What `rule_id` reads this scan.
  [[nodiscard]] Result<EventRange> range(QueryEngine& engine, const EventMarks& marks, std::string_view rule_id);

  // The rule's new mark after its query read `range` and returned `result`
  // (rows in id order, `event_id` among the columns): the range's end, or
  // when max_rows / max_bytes cut the result, the last row returned, so
  // the rows after it are read next scan.
  [[nodiscard]] static std::int64_t covered(const QueryResult& result, EventRange range);

  // Records in `next` where `rule_id` stands after its query over `range`
  // gave `result`. Returns what to add to the failure's message (an
  // event skipped), empty otherwise. For a `result` that succeeded but was
  // cut off before its first row, returns the failure's whole message
  // (never empty): the caller reports it as the rule's failure.
  static std::string record(std::string_view rule_id, EventRange range, const Result<QueryResult>& result,
                            EventMarks& next);

 private:
  ScanWindow(std::int64_t now, std::int64_t newest) : now_(now), newest_(newest) {}
  std::int64_t now_ = 0;
  std::int64_t newest_ = 0;
  std::optional<std::int64_t> recent_;  // `after` for a rule without a mark, read once per scan
};

}  // namespace airssys::daemoneye::sigma
