// ExceptionFilter (exception_filter.hpp).

#include <airssys/daemoneye/exception_filter.hpp>
#include <airssys/osl/detail/shown_text.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "utc_time.hpp"

namespace airssys::daemoneye {

void ExceptionFilter::replace(std::vector<RuleException> exceptions) {
  std::vector<State> state(exceptions.size());
  for (std::size_t i = 0; i < exceptions.size(); ++i) {
    const RuleException& e = exceptions[i];
    for (std::size_t j = 0; j < exceptions_.size(); ++j) {
      const RuleException& old = exceptions_[j];
      if (old.id == e.id && old.rule == e.rule && old.match == e.match) {
        state[i] = std::move(state_[j]);
        // A new expiry (extended or set) is told again when it comes.
        if (old.expires != e.expires) state[i].expired_told = false;
        break;
      }
    }
  }
  exceptions_ = std::move(exceptions);
  state_ = std::move(state);
}

namespace {

// The row's columns as "name=value, ...": control bytes escaped, each value
// capped (a row is the process's text: a command line of megabytes, or
// escape sequences for the terminal that reads the log).
std::string shown_row(const std::string& row_json, std::size_t cap) {
  // ordered: the columns in the rule's order.
  const nlohmann::ordered_json row = nlohmann::ordered_json::parse(row_json, nullptr, /*allow_exceptions=*/false);
  if (!row.is_object()) return osl::detail::shown_text(row_json, cap);
  std::string out;
  for (const auto& [k, v] : row.items()) {
    if (!out.empty()) out += ", ";
    out += osl::detail::shown_text(k, 64);
    out += '=';
    out += osl::detail::shown_text(v.is_string() ? v.get_ref<const std::string&>() : v.dump(), cap);
  }
  return out;
}

}  // namespace

void ExceptionFilter::end_window(const RuleException& e, State& s, std::int64_t now) {
  if (s.window_unlogged > 0 && warn_)
    warn_(fmt::format("exception {} (rule {}) silenced {} rows since {}, {} not logged (at most {} logged a minute)",
                      e.id, e.rule, s.window_hits, detail::utc_timestamp(s.window_start), s.window_unlogged,
                      kMaxLoggedPerWindow));
  s.window_start = now;
  s.window_hits = s.window_logged = s.window_unlogged = 0;
  // Keys logged long ago are logged again at their next hit.
  std::erase_if(s.logged, [&](const auto& kv) { return kv.second + kRelogAfterSeconds <= now; });
}

void ExceptionFilter::log_hit(const RuleException& e, State& s, const Alert& a, std::int64_t now) {
  ++s.window_hits;
  if (s.logged.contains(a.dedup_key)) return;
  if (s.window_logged >= kMaxLoggedPerWindow) {
    ++s.window_unlogged;
    return;
  }
  ++s.window_logged;
  if (s.logged.size() >= kMaxRememberedKeys) {
    // The oldest logged key goes (it is logged again if it comes back).
    auto oldest = std::ranges::min_element(s.logged, {}, [](const auto& kv) { return kv.second; });
    s.logged.erase(oldest);
  }
  s.logged.emplace(a.dedup_key, now);
  recorded_.push_back({now, e.rule, e.id, a.dedup_key, a.row_json});
  info_(fmt::format("exception {} silenced an alert of rule {}: {} (first match of this key; reason: {}; row: {})",
                    e.id, e.rule, osl::detail::shown_text(a.dedup_key, 512), osl::detail::shown_text(e.reason, 256),
                    shown_row(a.row_json, kMaxLoggedValueBytes)));
}

void ExceptionFilter::begin(std::int64_t now) {
  last_now_ = now;
  for (std::size_t i = 0; i < exceptions_.size(); ++i) {
    const RuleException& e = exceptions_[i];
    State& s = state_[i];
    if (s.window_start == 0) s.window_start = now;
    // A window ended (or the clock stepped back past its start).
    if (now >= s.window_start + kWindowSeconds || now < s.window_start) end_window(e, s, now);
    const bool force = in_force(e, now);
    if (!force && !s.expired_told) {
      s.expired_told = true;
      if (info_) info_(fmt::format("exception {} (rule {}) expired at {}: the rows it matched raise alerts again ({})", e.id,
                        e.rule, detail::utc_timestamp(*e.expires), osl::detail::shown_path(e.file.native())));
    } else if (force && s.expired_told) {
      // The clock stepped back before its expiry: it silences again, said.
      s.expired_told = false;
      if (warn_) warn_(fmt::format("exception {} (rule {}) applies again: the time ({}) is before its expiry ({}) (the clock "
                        "stepped back?); its matches are silenced ({})",
                        e.id, e.rule, detail::utc_timestamp(now), detail::utc_timestamp(*e.expires),
                        osl::detail::shown_path(e.file.native())));
    }
  }
}

void ExceptionFilter::count(const RuleException& e, const Alert& a, std::int64_t now) {
  State& s = state_[static_cast<std::size_t>(&e - exceptions_.data())];
  ++s.hits;
  s.last_hit = now;
  if (info_) log_hit(e, s, a, now);
}

bool ExceptionFilter::take(const Alert& a, std::int64_t now) {
  const RuleException* e = exception_for(exceptions_, a, now);
  if (e == nullptr) return false;
  count(*e, a, now);
  return true;
}

bool ExceptionFilter::take_row(const RowMatcher& m, std::span<const Value> values, std::int64_t now,
                               const std::function<Alert()>& alert) {
  const RuleException* e = m.match(values);
  if (e == nullptr) return false;
  count(*e, alert(), now);
  return true;
}

bool ExceptionFilter::has_rule(std::string_view id) const noexcept {
  return std::ranges::any_of(exceptions_, [&](const RuleException& e) { return e.rule == id; });
}

std::size_t ExceptionFilter::apply(std::vector<Alert>& candidates, std::int64_t now) {
  begin(now);
  if (exceptions_.empty() || candidates.empty()) return 0;
  return std::erase_if(candidates, [&](const Alert& a) { return take(a, now); });
}

std::vector<ExceptionStats> ExceptionFilter::stats() const {
  std::vector<ExceptionStats> out;
  out.reserve(exceptions_.size());
  for (std::size_t i = 0; i < exceptions_.size(); ++i) {
    const RuleException& e = exceptions_[i];
    out.push_back({.id = e.id,
                   .rule = e.rule,
                   .reason = e.reason,
                   .owner = e.owner,
                   .ticket = e.ticket,
                   .file = e.file.string(),
                   .weak = e.weak,
                   .expires = e.expires.value_or(0),
                   .expired = last_now_ > 0 && !in_force(e, last_now_),
                   .hits = state_[i].hits,
                   .last_hit = state_[i].last_hit});
  }
  return out;
}

}  // namespace airssys::daemoneye
