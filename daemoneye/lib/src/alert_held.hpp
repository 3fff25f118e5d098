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

#include <airssys/daemoneye/alert.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
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

  explicit HeldAlerts(std::chrono::seconds period);

  // An alert the rate limit held back at `now`.
  void add(const Alert& a, std::int64_t now);
  // The summaries due at `now` (every rule holding something back when
  // `all`), and forgets what they tell; ends outages a period quiet.
  [[nodiscard]] std::vector<Alert> take_due(std::int64_t now, bool all);
  // Something is held back and not yet told.
  [[nodiscard]] bool pending() const noexcept;

 private:
  struct Outage {
    std::string rule_name, host;
    Severity severity = Severity::low;
    std::vector<std::string> tags;
    std::uint64_t count = 0;  // held back since the last summary
    std::int64_t first = 0, last = 0;
    std::int64_t min_event = -1, max_event = -1;
    std::vector<std::string> sample;  // row JSON
    std::size_t sample_bytes = 0;
    std::vector<std::string> shapes;  // of the sample's rows
    std::int64_t last_told = -1;      // -1: the outage is not told yet
    std::uint64_t told = 0;           // summaries so far
  };
  std::int64_t period_;
  std::map<std::string, Outage, std::less<>> rules_;
};

}  // namespace airssys::daemoneye::detail
