#pragma once
// Runs every enabled rule once over the store and turns each result row into
// a candidate Alert (dedup and rate limits come later, in AlertPipeline).
// A rule that fails at run time (time limit, or an error the load-time
// check could not see) is reported and skipped; the others still run.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/rule.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace airssys::daemoneye {

class QueryEngine;

struct RuleRunFailure {
  std::string rule_id;
  std::string message;
};

struct RuleTiming {
  std::string rule_id;
  std::chrono::microseconds elapsed{0};
  std::size_t rows = 0;
  bool truncated = false;  // the row limit cut the result
};

struct RuleRun {
  std::vector<Alert> candidates;
  std::vector<RuleRunFailure> failures;
  std::vector<RuleTiming> timings;
  std::chrono::microseconds elapsed{0};
};

// Where each rule that reads process_events (a Sigma rule) has read up to:
// rule id → the highest process_events.id its query covered. run_rules
// reads each such rule's events after its mark and up to the newest event
// when the scan began, and moves the mark only when the query succeeded,
// so every event is read once and none is skipped (docs/daemoneye.md
// "Sigma rules", What a scan reads). A rule with no mark reads the events
// of the last two minutes. A query that ran out of time or memory reads a
// smaller window next scan (`narrowed`, halved per failure, doubled back
// per success). Kept by the caller from scan to scan; marks of rules not
// run (removed, disabled) are dropped.
struct EventMarks {
  std::map<std::string, std::int64_t, std::less<>> covered;
  std::map<std::string, std::int64_t, std::less<>> narrowed;  // rule id → the most ids its next window holds
};

[[nodiscard]] RuleRun run_rules(const std::vector<Rule>& rules, QueryEngine& engine, const std::string& host,
                                std::int64_t now, EventMarks& marks);
// With no marks kept: every Sigma rule reads the last two minutes.
[[nodiscard]] RuleRun run_rules(const std::vector<Rule>& rules, QueryEngine& engine, const std::string& host,
                                std::int64_t now);

}  // namespace airssys::daemoneye
