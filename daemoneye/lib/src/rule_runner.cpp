#include <airssys/daemoneye/exception_filter.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule_runner.hpp>

#include <array>
#include <optional>

#include "sigma_window.hpp"

namespace airssys::daemoneye {

namespace {

Alert alert_of(const Rule& rule, const QueryResult& result, std::size_t i, const std::string& host, std::int64_t now) {
  Alert a;
  a.rule_id = rule.id;
  a.rule_name = rule.name;
  a.severity = rule.severity;
  a.tags = rule.tags;
  a.row_json = row_to_json(result, i);
  a.host = host;
  a.time = now;
  a.dedup_key = make_dedup_key(rule, a.row_json);
  return a;
}

}  // namespace

std::vector<Alert> alerts_of(const Rule& rule, const QueryResult& result, const std::string& host, std::int64_t now) {
  std::vector<Alert> out;
  out.reserve(result.rows.size());
  for (std::size_t i = 0; i < result.rows.size(); ++i) out.push_back(alert_of(rule, result, i, host, now));
  return out;
}

RuleRun run_rules(const std::vector<Rule>& rules, QueryEngine& engine, const std::string& host, std::int64_t now) {
  EventMarks none;
  return run_rules(rules, engine, host, now, none);
}

RuleRun run_rules(const std::vector<Rule>& rules, QueryEngine& engine, const std::string& host, std::int64_t now,
                  EventMarks& marks, ExceptionFilter* exceptions) {
  RuleRun out;
  if (exceptions) exceptions->begin(now);
  const auto started = std::chrono::steady_clock::now();
  std::optional<Result<sigma::ScanWindow>> window;  // read at the first Sigma rule
  EventMarks next;
  for (const Rule& rule : rules) {
    if (!rule.enabled) continue;
    std::optional<sigma::EventRange> range;
    if (rule.sigma) {
      if (!window) window = sigma::ScanWindow::begin(engine, now);
      Result<sigma::EventRange> r = *window ? (*window)->range(engine, marks, rule.id)
                                            : Result<sigma::EventRange>(std::unexpected(window->error()));
      if (!r) {
        out.failures.push_back({rule.id, r.error().message});
        if (auto kept = marks.covered.find(rule.id); kept != marks.covered.end()) next.covered.insert(*kept);
        if (auto kept = marks.narrowed.find(rule.id); kept != marks.narrowed.end()) next.narrowed.insert(*kept);
        continue;
      }
      range = *r;
    }
    const std::array params{QueryParam{":after", range ? range->after : 0}, QueryParam{":upto", range ? range->upto : 0}};
    // Excepted rows are taken as they are read: they use none of max_rows.
    // A row is matched as it is (no alert made of it unless excepted).
    RowFilter keep;
    std::optional<RowMatcher> matcher;  // made at the first row, when the result's columns are known
    if (exceptions && exceptions->has_rule(rule.id))
      keep = [&](const QueryResult& r, std::size_t i) {
        if (!matcher) matcher.emplace(exceptions->exceptions(), rule.id, row_keys(r.columns), now);
        return !exceptions->take_row(*matcher, r.rows[i], now, [&] { return alert_of(rule, r, i, host, now); });
      };
    auto result = engine.run(rule.query, range ? std::span<const QueryParam>(params) : std::span<const QueryParam>(), keep);
    // Advanced only by a query that succeeded: a failed one reads the same
    // events again next scan (a first one too, from where it started), in
    // a smaller window when it ran out of time or memory.
    const std::string note = range ? sigma::ScanWindow::record(rule.id, *range, result, next) : std::string();
    if (!result) {
      std::string why = result.error().message + note;
      // Under the agent's SQLite heap limit, a query too complex to compile
      // or run fails with SQLite's bare "out of memory".
      if (why.find("out of memory") != std::string::npos)
        why += " (the query needs more memory than SQLite may use in this process; simplify it)";
      out.failures.push_back({rule.id, std::move(why)});
      continue;
    }
    if (!note.empty()) {  // a Sigma window that read nothing (ScanWindow::record)
      out.failures.push_back({rule.id, note});
      continue;
    }
    out.timings.push_back({rule.id, result->elapsed, result->rows.size(), result->truncated});
    if (result->truncated) out.cut.push_back({rule.id, result->rows.size(), result->dropped});
    for (Alert& a : alerts_of(rule, *result, host, now)) out.candidates.push_back(std::move(a));
  }
  next.held = std::move(marks.held);  // the alert pipeline's, not the rules'
  marks = std::move(next);  // rules not run this scan lose their marks
  out.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  return out;
}

}  // namespace airssys::daemoneye
