#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule_runner.hpp>

namespace airssys::daemoneye {

RuleRun run_rules(const std::vector<Rule>& rules, QueryEngine& engine, const std::string& host, std::int64_t now) {
  RuleRun out;
  const auto started = std::chrono::steady_clock::now();
  for (const Rule& rule : rules) {
    if (!rule.enabled) continue;
    auto result = engine.run(rule.query);
    if (!result) {
      std::string why = result.error().message;
      // Under the agent's SQLite heap limit, a query too complex to compile
      // or run fails with SQLite's bare "out of memory".
      if (why.find("out of memory") != std::string::npos)
        why += " (the query needs more memory than SQLite may use in this process; simplify it)";
      out.failures.push_back({rule.id, std::move(why)});
      continue;
    }
    out.timings.push_back({rule.id, result->elapsed, result->rows.size(), result->truncated});
    for (std::size_t i = 0; i < result->rows.size(); ++i) {
      Alert a;
      a.rule_id = rule.id;
      a.rule_name = rule.name;
      a.severity = rule.severity;
      a.tags = rule.tags;
      a.row_json = row_to_json(*result, i);
      a.host = host;
      a.time = now;
      a.dedup_key = make_dedup_key(rule, a.row_json);
      out.candidates.push_back(std::move(a));
    }
  }
  out.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  return out;
}

}  // namespace airssys::daemoneye
