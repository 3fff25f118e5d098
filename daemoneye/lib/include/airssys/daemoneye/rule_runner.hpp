#pragma once
// Runs every enabled rule once over the store and turns each result row into
// a candidate Alert (dedup and rate limits come later, in AlertPipeline).
// A rule that fails at run time (time limit, or an error the load-time
// check could not see) is reported and skipped; the others still run.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/event_marks.hpp>
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

// A rule whose result the row limit (rules.max_rows, or
// kMaxRowsReadFactor × it read in all) or the byte limit cut: rows past
// the cut were never seen.
struct RuleCut {
  std::string rule_id;
  std::size_t rows = 0;      // rows kept (candidates)
  std::size_t excepted = 0;  // rows a rule exception took while reading
};

struct RuleRun {
  std::vector<Alert> candidates;
  std::vector<RuleRunFailure> failures;
  std::vector<RuleTiming> timings;
  std::vector<RuleCut> cut;
  std::chrono::microseconds elapsed{0};
};

struct QueryResult;
class ExceptionFilter;

// The candidate alert of each row of `rule`'s result: the row as JSON
// (row_to_json), its dedup key (make_dedup_key), raised by `host` at `now`.
// What run_rules makes of a result, and `daemoneye-cli rules test` too.
[[nodiscard]] std::vector<Alert> alerts_of(const Rule& rule, const QueryResult& result, const std::string& host,
                                           std::int64_t now);

// `marks`: where each Sigma rule has read process_events up to
// (event_marks.hpp); read and updated by each run. `exceptions` (optional):
// applied to each row as it is read (ExceptionFilter::take), so excepted
// rows are counted there, are not candidates and use none of the rule's
// max_rows.
[[nodiscard]] RuleRun run_rules(const std::vector<Rule>& rules, QueryEngine& engine, const std::string& host,
                                std::int64_t now, EventMarks& marks, ExceptionFilter* exceptions = nullptr);
// With no marks kept: every Sigma rule reads the last two minutes.
[[nodiscard]] RuleRun run_rules(const std::vector<Rule>& rules, QueryEngine& engine, const std::string& host,
                                std::int64_t now);

}  // namespace airssys::daemoneye
