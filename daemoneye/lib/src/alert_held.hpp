#pragma once
// HeldAlerts — what the rate limit held back, per rule, told as summary
// alerts (docs/daemoneye.md "Alerts", Rate limit).
//
// A rule over alerts.rate_limit would otherwise lose its alerts silently:
// a Sigma rule reads each event once, so an event whose alert was held back
// is never alerted on, and 100 decoys would hide the real one behind them.
// Instead, per rule:
//  - the first alert held back starts an outage and is told at once: one
//    summary alert, "rate limit reached for rule X: N alerts suppressed",
//    with what was held back so far;
//  - while more are held back, one summary per `period` (alerts.rate_period)
//    with the count since the last one;
//  - a rule that held nothing back for a whole period ends its outage (the
//    next one is told at once again).
// A summary carries the count, the first and last time, the range of
// process event ids of the rows held back (when the rows have `event_id`:
// every one of them stays in process_events for review) and a sample of at
// most kSampleMax rows: those whose content differs from every row kept
// before once digits are left out ("shape"), so 1,000 decoys that differ
// only in a number keep one sample and leave room for the one row that is
// different. Memory per rule is bounded by the sample, whatever the volume.
//
// Summaries are not deduplicated or rate-limited (at most one per rule per
// period, plus the first). Not thread-safe; time is the caller's Unix seconds.
//
// A submit's change is prepared without touching the state (prepare(): it
// reads the outages, copies none) and applied once its summaries are in the
// ledger (apply()): the cost of a submit follows the alerts it holds back
// and the summaries it raises, not what every rule holds.
//
// What is held back and not told yet is also kept as text per rule
// (saved()), which the agent stores with the Sigma rules' marks
// (EventMarks::held) so that a kill does not lose it; restore() takes it
// back at the next start.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/event_marks.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::detail {

// Tag carried by every summary alert (beside the rule's own tags).
inline constexpr std::string_view kRateLimitedTag = "daemoneye.rate_limited";

class HeldAlerts {
 public:
  static constexpr std::size_t kSampleMax = 8;
  // Each string of a sampled row is cut to this many bytes (at a UTF-8
  // character's start, marked), and a sample stops growing past
  // kSampleMaxBytes: a summary stays far below a bus message's 1 MiB
  // whatever the rows hold (a 128 KiB cmdline).
  static constexpr std::size_t kSampleStringMax = 1024;
  static constexpr std::size_t kSampleMaxBytes = 64 * 1024;

  using Saved = HeldTexts;  // rule id -> what it owes, as text (a new HeldText per change)

 private:
  // Rows kept as a summary's sample (row JSON), with their shapes.
  struct Sample {
    std::vector<std::string> rows, shapes;
    std::size_t bytes = 0;
  };
  // What some held-back alerts of one rule add up to.
  struct Held {
    std::string rule_name, host;
    Severity severity = Severity::low;
    std::vector<std::string> tags;
    std::uint64_t count = 0;
    std::int64_t first = 0, last = 0;
    std::int64_t min_event = -1, max_event = -1;
    Sample sample;
  };
  struct Outage {
    Held held;                   // since the last summary
    std::int64_t last_told = -1;  // -1: the outage is not told yet
    std::uint64_t told = 0;       // summaries so far
  };

 public:
  explicit HeldAlerts(std::chrono::seconds period);

  // What one submit changes: the alerts it held back, the summaries due.
  class Change {
   public:
    std::vector<Alert> summaries;  // to raise with the batch

   private:
    friend class HeldAlerts;
    std::int64_t now_ = 0;
    std::map<std::string, Held, std::less<>> added_;  // held back by this submit, per rule
    std::vector<std::string> told_, ended_;
  };

  // The change of holding back `held_back` at `now`, and the summaries then
  // due (every rule holding something back when `all`); the state is not
  // touched until apply().
  [[nodiscard]] Change prepare(std::span<const Alert> held_back, std::int64_t now, bool all) const;
  // Makes `c` (from prepare() on this state, nothing applied since) the state:
  // what it told is forgotten, outages a period quiet end.
  void apply(Change c);
  // Something is held back and not yet told.
  [[nodiscard]] bool pending() const noexcept { return !saved_.empty(); }

  // Every rule that holds something back, with what it owes as text (a JSON
  // object): kept current by apply(), which makes a new text for the rules
  // it changed only (the others' texts stay the same objects).
  [[nodiscard]] const Saved& saved() const noexcept { return saved_; }
  // At start, before the first prepare(): `text` is what saved() held for
  // `rule_id`. Returns the dedup key the summary telling it carries (so the
  // caller can see whether that summary was raised before a kill), or
  // nullopt for a text that cannot be read (nothing is restored).
  std::optional<std::string> restore(std::string_view rule_id, const HeldText& text);
  // What restore() took back for `rule_id` was told by a summary raised at
  // `at` (before a kill): nothing is owed, the outage goes on as after that
  // summary (last told at `at`, one summary more).
  void told(std::string_view rule_id, std::int64_t at);

 private:
  // `a` added to `h`; `before`: the sample the outage keeps already (its
  // rows count towards the bounds and their shapes are not kept twice).
  static void add(Held& h, const Sample* before, const Alert& a, std::int64_t now);
  static void merge(Held& into, Held&& from);
  // The summary of what `o` holds and `added` adds (either may be null).
  static Alert summary(const std::string& rule_id, const Outage* o, const Held* added, std::int64_t now);
  void save(const std::string& rule_id, const Outage& o);
  std::int64_t period_;
  std::map<std::string, Outage, std::less<>> rules_;
  Saved saved_;
};

}  // namespace airssys::daemoneye::detail
