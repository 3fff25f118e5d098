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

// Unique per summary: never deduplicated, never taken for another alert.
// The same for a summary raised before a kill and the one its restart
// would raise (restore()).
std::string summary_key(std::string_view rule_id, std::int64_t first, std::uint64_t told) {
  return fmt::format("{}|{}|since={}|n={}", rule_id, kRateLimitedTag, first, told);
}

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace); }

}  // namespace

HeldAlerts::HeldAlerts(std::chrono::seconds period) : period_(period.count() > 0 ? period.count() : 1) {}

void HeldAlerts::add(Held& h, const Sample* before, const Alert& a, std::int64_t now) {
  h.rule_name = a.rule_name;
  h.host = a.host;
  h.severity = std::max(h.severity, a.severity);
  h.tags = a.tags;
  if (h.count == 0) h.first = now;
  h.last = now;
  ++h.count;
  const ordered_json row = ordered_json::parse(a.row_json, nullptr, /*allow_exceptions=*/false);
  if (const std::int64_t id = event_id_of(row); id >= 0) {
    h.min_event = h.min_event < 0 ? id : std::min(h.min_event, id);
    h.max_event = std::max(h.max_event, id);
  }
  const std::size_t rows = h.sample.rows.size() + (before ? before->rows.size() : 0);
  const std::size_t bytes = h.sample.bytes + (before ? before->bytes : 0);
  if (rows >= kSampleMax || bytes >= kSampleMaxBytes) return;
  std::string kept = clipped_row(row, a.row_json);
  std::string shape = shape_of(kept);
  if (std::ranges::find(h.sample.shapes, shape) != h.sample.shapes.end()) return;
  if (before && std::ranges::find(before->shapes, shape) != before->shapes.end()) return;
  h.sample.bytes += kept.size();
  h.sample.shapes.push_back(std::move(shape));
  h.sample.rows.push_back(std::move(kept));
}

void HeldAlerts::merge(Held& into, Held&& from) {
  if (into.count == 0) {
    into = std::move(from);
    return;
  }
  into.rule_name = std::move(from.rule_name);
  into.host = std::move(from.host);
  into.severity = std::max(into.severity, from.severity);
  into.tags = std::move(from.tags);
  into.count += from.count;
  into.last = from.last;
  if (from.min_event >= 0) {
    into.min_event = into.min_event < 0 ? from.min_event : std::min(into.min_event, from.min_event);
    into.max_event = std::max(into.max_event, from.max_event);
  }
  for (auto& r : from.sample.rows) into.sample.rows.push_back(std::move(r));
  for (auto& s : from.sample.shapes) into.sample.shapes.push_back(std::move(s));
  into.sample.bytes += from.sample.bytes;
}

Alert HeldAlerts::summary(const std::string& rule_id, const Outage* o, const Held* added, std::int64_t now) {
  const Held* old = o != nullptr && o->held.count > 0 ? &o->held : nullptr;
  if (added != nullptr && added->count == 0) added = nullptr;
  const Held& meta = added ? *added : *old;  // the newest name, host and tags
  const std::uint64_t count = (old ? old->count : 0) + (added ? added->count : 0);
  std::int64_t min_event = -1, max_event = -1;
  for (const Held* h : {old, added}) {
    if (h == nullptr || h->min_event < 0) continue;
    min_event = min_event < 0 ? h->min_event : std::min(min_event, h->min_event);
    max_event = std::max(max_event, h->max_event);
  }
  const std::int64_t first = old ? old->first : added->first;
  ordered_json row;
  row["rate_limited"] = count;
  row["rule_id"] = rule_id;
  row["first_time"] = first;
  row["last_time"] = added ? added->last : old->last;
  if (min_event >= 0) {
    row["first_event_id"] = min_event;
    row["last_event_id"] = max_event;
  }
  ordered_json sample = ordered_json::array();
  std::size_t sampled = 0;
  for (const Held* h : {old, added}) {
    if (h == nullptr) continue;
    for (const auto& r : h->sample.rows) {
      ordered_json j = ordered_json::parse(r, nullptr, false);
      sample.push_back(j.is_discarded() ? ordered_json(r) : std::move(j));
      ++sampled;
    }
  }
  row["sample"] = std::move(sample);
  row["sample_left_out"] = count - sampled;
  Alert a;
  a.rule_id = rule_id;
  a.rule_name =
      fmt::format("rate limit reached for rule {}: {} alert{} suppressed", rule_id, count, count == 1 ? "" : "s");
  a.severity = std::max(old ? old->severity : Severity::low, added ? added->severity : Severity::low);
  a.tags = meta.tags;
  a.tags.emplace_back(kRateLimitedTag);
  a.host = meta.host;
  a.time = now;
  a.row_json = dump(row);
  a.dedup_key = summary_key(rule_id, first, o != nullptr ? o->told : 0);
  return a;
}

HeldAlerts::Change HeldAlerts::prepare(std::span<const Alert> held_back, std::int64_t now, bool all) const {
  Change c;
  c.now_ = now;
  for (const Alert& a : held_back) {
    const auto it = rules_.find(a.rule_id);
    add(c.added_[a.rule_id], it != rules_.end() ? &it->second.held.sample : nullptr, a, now);
  }
  const auto consider = [&](const std::string& rule, const Outage* o, const Held* added) {
    const std::uint64_t count = (o ? o->held.count : 0) + (added ? added->count : 0);
    const std::int64_t last_told = o ? o->last_told : -1;
    const bool quiet_period = last_told >= 0 && now - last_told >= period_;
    if (count == 0) {
      if (quiet_period || all) c.ended_.push_back(rule);  // nothing held back for a period: the outage is over
      return;
    }
    if (!(all || last_told < 0 || quiet_period)) return;
    c.summaries.push_back(summary(rule, o, added, now));
    c.told_.push_back(rule);
  };
  // Every outage is looked at (one may be due or over), none is copied.
  for (const auto& [rule, o] : rules_) {
    const auto a = c.added_.find(rule);
    consider(rule, &o, a != c.added_.end() ? &a->second : nullptr);
  }
  for (const auto& [rule, h] : c.added_)
    if (!rules_.contains(rule)) consider(rule, nullptr, &h);
  return c;
}

void HeldAlerts::apply(Change c) {
  std::vector<std::string> touched;
  for (auto& [rule, h] : c.added_) {
    merge(rules_[rule].held, std::move(h));
    touched.push_back(rule);
  }
  for (auto& rule : c.told_) {
    Outage& o = rules_[rule];
    o.held = Held{};
    o.last_told = c.now_;
    ++o.told;
    touched.push_back(std::move(rule));
  }
  for (auto& rule : c.ended_) {
    rules_.erase(rule);
    touched.push_back(std::move(rule));
  }
  for (const std::string& rule : touched) {
    const auto it = rules_.find(rule);
    if (it == rules_.end() || it->second.held.count == 0)
      saved_.erase(rule);
    else
      save(rule, it->second);
  }
}

// The text of what `o` owes: everything a summary needs, and where the
// outage stands (when it was told, how many summaries so far).
void HeldAlerts::save(const std::string& rule_id, const Outage& o) {
  const Held& h = o.held;
  ordered_json j;
  j["rule_name"] = h.rule_name;
  j["host"] = h.host;
  j["severity"] = static_cast<int>(h.severity);
  j["tags"] = h.tags;
  j["count"] = h.count;
  j["first"] = h.first;
  j["last"] = h.last;
  j["min_event"] = h.min_event;
  j["max_event"] = h.max_event;
  j["sample"] = h.sample.rows;
  j["last_told"] = o.last_told;
  j["told"] = o.told;
  saved_.insert_or_assign(rule_id, HeldText(dump(j)));
}

std::optional<std::string> HeldAlerts::restore(std::string_view rule_id, const HeldText& text) {
  const ordered_json j = ordered_json::parse(text.text(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  Outage o;
  Held& h = o.held;
  try {
    h.rule_name = j.at("rule_name").get<std::string>();
    h.host = j.at("host").get<std::string>();
    const int severity = j.at("severity").get<int>();
    if (severity < static_cast<int>(Severity::low) || severity > static_cast<int>(Severity::critical))
      return std::nullopt;
    h.severity = static_cast<Severity>(severity);
    h.tags = j.at("tags").get<std::vector<std::string>>();
    h.count = j.at("count").get<std::uint64_t>();
    h.first = j.at("first").get<std::int64_t>();
    h.last = j.at("last").get<std::int64_t>();
    h.min_event = j.at("min_event").get<std::int64_t>();
    h.max_event = j.at("max_event").get<std::int64_t>();
    for (auto& r : j.at("sample").get<std::vector<std::string>>()) {
      if (h.sample.rows.size() >= kSampleMax || h.sample.bytes >= kSampleMaxBytes) break;
      h.sample.bytes += r.size();
      h.sample.shapes.push_back(shape_of(r));
      h.sample.rows.push_back(std::move(r));
    }
    o.last_told = j.at("last_told").get<std::int64_t>();
    o.told = j.at("told").get<std::uint64_t>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a member missing or of another type
  }
  if (h.count == 0 || h.count < h.sample.rows.size()) return std::nullopt;
  const std::string rule(rule_id);
  std::string key = summary_key(rule, h.first, o.told);
  rules_[rule] = std::move(o);
  saved_[rule] = text;  // the same text: the agent's marks and the store's record hold it too
  return key;
}

void HeldAlerts::told(std::string_view rule_id, std::int64_t at) {
  const auto it = rules_.find(rule_id);
  if (it == rules_.end()) return;
  // As apply() leaves an outage its summary told.
  Outage& o = it->second;
  o.held = Held{};
  o.last_told = at;
  ++o.told;
  if (const auto s = saved_.find(rule_id); s != saved_.end()) saved_.erase(s);
}

}  // namespace airssys::daemoneye::detail
