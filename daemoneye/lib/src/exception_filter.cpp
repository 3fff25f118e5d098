// ExceptionFilter (exception_filter.hpp).

#include <airssys/daemoneye/exception_filter.hpp>
#include <airssys/osl/detail/shown_text.hpp>

#include <fmt/format.h>

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

std::size_t ExceptionFilter::apply(std::vector<Alert>& candidates, std::int64_t now) {
  last_now_ = now;
  for (std::size_t i = 0; i < exceptions_.size(); ++i) {
    const RuleException& e = exceptions_[i];
    if (in_force(e, now) || state_[i].expired_told) continue;
    state_[i].expired_told = true;
    if (info_)
      info_(fmt::format("exception {} (rule {}) expired at {}: the rows it matched raise alerts again ({})", e.id,
                        e.rule, detail::utc_timestamp(*e.expires), osl::detail::shown_path(e.file.native())));
  }
  if (exceptions_.empty() || candidates.empty()) return 0;
  std::size_t removed = 0;
  std::erase_if(candidates, [&](const Alert& a) {
    const RuleException* e = exception_for(exceptions_, a, now);
    if (e == nullptr) return false;
    State& s = state_[static_cast<std::size_t>(e - exceptions_.data())];
    ++s.hits;
    s.last_hit = now;
    ++removed;
    if (!info_ || s.logged.contains(a.dedup_key)) return true;
    if (s.logged.size() < kMaxLoggedKeys) {
      s.logged.insert(a.dedup_key);
      info_(fmt::format("exception {} silenced an alert of rule {}: {} (first match of this key; reason: {})", e->id,
                        e->rule, osl::detail::shown_text(a.dedup_key, 512), osl::detail::shown_text(e->reason, 256)));
    } else if (!s.cap_told) {
      s.cap_told = true;
      info_(fmt::format("exception {} (rule {}) has silenced {} different keys; further first matches are counted, "
                        "not logged",
                        e->id, e->rule, kMaxLoggedKeys));
    }
    return true;
  });
  return removed;
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
