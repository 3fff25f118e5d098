// Dedup asked without raising anything (dedup_check.hpp): the agent's own
// DedupWindow and BatchDedup, fed as the agent feeds them at start.

#include <airssys/daemoneye/dedup_check.hpp>
#include <airssys/daemoneye/query_engine.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <variant>

#include "alert_dedup.hpp"
#include "sigma_window.hpp"

namespace airssys::daemoneye {

Result<std::vector<RaisedKey>> recent_alert_keys(QueryEngine& engine, std::chrono::seconds window, std::int64_t now,
                                                 std::string_view rule_id, bool* cut) {
  std::vector<RaisedKey> out;
  if (cut) *cut = false;
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
  // Newest first: a window holding more keys than max_rows loses its
  // oldest (the ones nearest to leaving it), not the newest.
  sql += " GROUP BY dedup_key ORDER BY t DESC";
  auto rows = engine.run(sql);
  if (!rows) return std::unexpected(rows.error());
  if (cut) *cut = rows->truncated;
  for (const auto& row : rows->rows) {
    const auto* key = std::get_if<std::string>(&row[0]);
    const auto* t = std::get_if<std::int64_t>(&row[1]);
    if (key && t) out.push_back({*key, *t});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<RaisedKey>> raised_keys_of(QueryEngine& engine, std::chrono::seconds window, std::int64_t now,
                                              const std::vector<Alert>& candidates) {
  std::vector<RaisedKey> out;
  if (window.count() <= 0) return out;
  std::set<std::string_view> keys;
  for (const Alert& a : candidates)
    if (!a.dedup_key.empty()) keys.insert(a.dedup_key);
  // Keys are text from process data: given as hex blob literals cast to
  // text (the engine binds integers only), never as SQL. A group answers at
  // most one row per key, so max_rows cuts nothing unless it is below it.
  const std::size_t group = std::clamp<std::size_t>(engine.limits().max_rows, 1, 100);
  for (auto it = keys.begin(); it != keys.end();) {
    std::string list;
    for (std::size_t n = 0; n < group && it != keys.end(); ++n, ++it) {
      list += list.empty() ? "CAST(X'" : ", CAST(X'";
      for (const char c : *it) list += fmt::format("{:02x}", static_cast<unsigned char>(c));
      list += "' AS TEXT)";
    }
    auto rows = engine.run(fmt::format("SELECT dedup_key, max(time) FROM alerts WHERE time >= {} AND dedup_key IN ({}) "
                                       "GROUP BY dedup_key",
                                       now - window.count(), list));
    if (!rows) return std::unexpected(rows.error());
    if (rows->truncated)
      return fail(ErrorCategory::resource_exhausted,
                  "the alerts raised with these rows' dedup keys do not fit in rules.max_rows / rules.max_bytes");
    for (const auto& row : rows->rows) {
      const auto* key = std::get_if<std::string>(&row[0]);
      const auto* t = std::get_if<std::int64_t>(&row[1]);
      if (key && t) out.push_back({*key, *t});
    }
  }
  std::ranges::sort(out, {}, &RaisedKey::time);  // oldest first, as remembered
  return out;
}

Result<std::int64_t> sigma_first_scan_after(QueryEngine& engine, std::int64_t now) {
  // The scan's own computation for a rule without a mark, so the answer is the agent's.
  auto window = sigma::ScanWindow::begin(engine, now);
  if (!window) return std::unexpected(window.error());
  auto range = window->range(engine, EventMarks{}, "rules-test");
  if (!range) return std::unexpected(range.error());
  return range->after;
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
