#include "alert_rate_limit.hpp"

#include <limits>

namespace airssys::daemoneye::detail {

RateLimiter::RateLimiter(std::uint32_t limit, std::chrono::seconds period)
    : limit_(limit), period_(period.count() > 0 ? period.count() : 1) {}

void RateLimiter::expire(Window& w, std::int64_t now) const {
  while (!w.buckets.empty() && now - w.buckets.front().first >= period_) {
    w.total -= w.buckets.front().second;
    w.buckets.pop_front();
  }
}

std::uint64_t RateLimiter::remaining(const std::string& rule_id, std::int64_t now) {
  if (limit_ == 0) return std::numeric_limits<std::uint64_t>::max();
  const auto it = rules_.find(rule_id);
  if (it == rules_.end()) return limit_;
  expire(it->second, now);
  if (it->second.buckets.empty()) {
    rules_.erase(it);
    return limit_;
  }
  return it->second.total >= limit_ ? 0 : limit_ - it->second.total;
}

void RateLimiter::raised(const std::string& rule_id, std::int64_t now, std::uint64_t count) {
  if (limit_ == 0 || count == 0) return;
  Window& w = rules_[rule_id];
  expire(w, now);
  if (!w.buckets.empty() && w.buckets.back().first == now) w.buckets.back().second += count;
  else w.buckets.emplace_back(now, count);
  w.total += count;
}

}  // namespace airssys::daemoneye::detail
