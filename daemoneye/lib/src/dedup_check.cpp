// Dedup asked without raising anything (dedup_check.hpp): the agent's own
// DedupWindow and BatchDedup, fed as the agent feeds them at start.

#include <airssys/daemoneye/dedup_check.hpp>
#include <airssys/daemoneye/query_engine.hpp>

#include <fmt/format.h>

#include <unordered_map>
#include <variant>

#include "alert_dedup.hpp"

namespace airssys::daemoneye {

Result<std::vector<RaisedKey>> recent_alert_keys(QueryEngine& engine, std::chrono::seconds window, std::int64_t now,
                                                 std::string_view rule_id) {
  std::vector<RaisedKey> out;
  if (window.count() <= 0) return out;
  // A rule id is [A-Za-z0-9_.-]+ (rule.hpp): safe in a quoted literal;
  // query parameters here are integers only.
  std::string sql = fmt::format("SELECT dedup_key, max(time) AS t FROM alerts WHERE time >= {}", now - window.count());
  if (!rule_id.empty()) {
    if (rule_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
        std::string_view::npos)
      return fail(ErrorCategory::invalid_input, fmt::format("'{}' is not a rule id", rule_id));
    sql += fmt::format(" AND rule_id = '{}'", rule_id);
  }
  sql += " GROUP BY dedup_key ORDER BY t";
  auto rows = engine.run(sql);
  if (!rows) return std::unexpected(rows.error());
  for (const auto& row : rows->rows) {
    const auto* key = std::get_if<std::string>(&row[0]);
    const auto* t = std::get_if<std::int64_t>(&row[1]);
    if (key && t) out.push_back({*key, *t});
  }
  return out;
}

std::vector<DedupVerdict> dedup_verdicts(const std::vector<Alert>& candidates, const std::vector<RaisedKey>& recent,
                                         std::chrono::seconds window, std::int64_t now) {
  detail::DedupWindow remembered(window);
  for (const RaisedKey& k : recent)
    if (!k.dedup_key.empty()) remembered.raised(k.dedup_key, k.time);  // AlertPipeline::remember
  detail::BatchDedup batch(remembered, now);
  std::unordered_map<std::string, std::size_t> first_of;  // key -> the candidate raised for it
  std::vector<DedupVerdict> out;
  out.reserve(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string& key = candidates[i].dedup_key;
    switch (batch.check(key)) {
      case detail::BatchDedup::Verdict::passes:
        batch.passed(key);
        if (!key.empty()) first_of.emplace(key, i);
        out.push_back({});
        break;
      case detail::BatchDedup::Verdict::in_window:
        out.push_back({.kind = DedupVerdict::Kind::raised, .raised_at = remembered.raised_within(key, now).value_or(0)});
        break;
      case detail::BatchDedup::Verdict::in_batch:
        out.push_back({.kind = DedupVerdict::Kind::repeat, .first = first_of[key]});
        break;
    }
  }
  return out;
}

}  // namespace airssys::daemoneye
