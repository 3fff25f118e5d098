#include "alert_held.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace airssys::daemoneye::detail {

namespace {

using ordered_json = nlohmann::ordered_json;

// A row without its digits: decoys that differ only in a counter, a pid or
// a time share one shape.
std::string shape_of(const std::string& row_json) {
  std::string s;
  s.reserve(row_json.size());
  for (const char c : row_json)
    if (c < '0' || c > '9') s += c;
  return s;
}

std::int64_t event_id_of(const ordered_json& row) {
  if (!row.is_object()) return -1;
  const auto it = row.find("event_id");
  return it != row.end() && it->is_number_integer() ? it->get<std::int64_t>() : -1;
}

// The row with each string longer than HeldAlerts::kSampleStringMax cut
// back to a UTF-8 character's start and marked with what was cut.
std::string clipped_row(const ordered_json& row, const std::string& row_json) {
  if (!row.is_object()) return row_json.substr(0, HeldAlerts::kSampleStringMax);
  ordered_json out = row;
  bool cut = false;
  for (auto& [key, value] : out.items()) {
    if (!value.is_string()) continue;
    auto& text = value.get_ref<std::string&>();
    if (text.size() <= HeldAlerts::kSampleStringMax) continue;
    std::size_t end = HeldAlerts::kSampleStringMax;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    const std::size_t was = text.size();
    text.resize(end);
    text += fmt::format("…[{} bytes cut]", was - end);
    cut = true;
  }
  return cut ? out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : row_json;
}

}  // namespace

HeldAlerts::HeldAlerts(std::chrono::seconds period) : period_(period.count() > 0 ? period.count() : 1) {}

void HeldAlerts::add(const Alert& a, std::int64_t now) {
  Outage& o = rules_[a.rule_id];
  o.rule_name = a.rule_name;
  o.host = a.host;
  o.severity = std::max(o.severity, a.severity);
  o.tags = a.tags;
  if (o.count == 0) o.first = now;
  o.last = now;
  ++o.count;
  const ordered_json row = ordered_json::parse(a.row_json, nullptr, /*allow_exceptions=*/false);
  if (const std::int64_t id = event_id_of(row); id >= 0) {
    o.min_event = o.min_event < 0 ? id : std::min(o.min_event, id);
    o.max_event = std::max(o.max_event, id);
  }
  if (o.sample.size() < kSampleMax && o.sample_bytes < kSampleMaxBytes) {
    std::string kept = clipped_row(row, a.row_json);
    std::string shape = shape_of(kept);
    if (std::ranges::find(o.shapes, shape) == o.shapes.end()) {
      o.sample_bytes += kept.size();
      o.shapes.push_back(std::move(shape));
      o.sample.push_back(std::move(kept));
    }
  }
}

bool HeldAlerts::pending() const noexcept {
  return std::ranges::any_of(rules_, [](const auto& r) { return r.second.count > 0; });
}

std::vector<Alert> HeldAlerts::take_due(std::int64_t now, bool all) {
  std::vector<Alert> out;
  for (auto it = rules_.begin(); it != rules_.end();) {
    Outage& o = it->second;
    const bool quiet_period = o.last_told >= 0 && now - o.last_told >= period_;
    if (o.count == 0) {
      if (quiet_period || all) it = rules_.erase(it);  // nothing held back for a period: the outage is over
      else ++it;
      continue;
    }
    if (!(all || o.last_told < 0 || quiet_period)) {
      ++it;
      continue;
    }
    ordered_json row;
    row["rate_limited"] = o.count;
    row["rule_id"] = it->first;
    row["first_time"] = o.first;
    row["last_time"] = o.last;
    if (o.min_event >= 0) {
      row["first_event_id"] = o.min_event;
      row["last_event_id"] = o.max_event;
    }
    ordered_json sample = ordered_json::array();
    for (const auto& r : o.sample) {
      ordered_json j = ordered_json::parse(r, nullptr, false);
      sample.push_back(j.is_discarded() ? ordered_json(r) : std::move(j));
    }
    row["sample"] = std::move(sample);
    row["sample_left_out"] = o.count - o.sample.size();
    Alert a;
    a.rule_id = it->first;
    a.rule_name = fmt::format("rate limit reached for rule {}: {} alert{} suppressed", it->first, o.count,
                              o.count == 1 ? "" : "s");
    a.severity = o.severity;
    a.tags = o.tags;
    a.tags.emplace_back(kRateLimitedTag);
    a.host = o.host;
    a.time = now;
    a.row_json = row.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    // Unique per summary: never deduplicated, never taken for another alert.
    a.dedup_key = fmt::format("{}|{}|since={}|n={}", it->first, kRateLimitedTag, o.first, o.told);
    out.push_back(std::move(a));
    o.count = 0;
    o.min_event = o.max_event = -1;
    o.sample.clear();
    o.sample_bytes = 0;
    o.shapes.clear();
    o.last_told = now;
    ++o.told;
    ++it;
  }
  return out;
}

}  // namespace airssys::daemoneye::detail
