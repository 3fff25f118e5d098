#pragma once
// RateLimiter — at most `limit` alerts per rule in any `period` seconds
// (a sliding window, exact to the second).
//
// Per rule it keeps (second, count) buckets of the alerts raised inside the
// window and their running total, so memory per rule is at most
// min(limit, period) buckets whatever the alert volume. A limit of 0 means
// unlimited. Rules whose window emptied are forgotten.
//
// If the clock goes back, buckets "in the future" count until the window
// passes them (the limit errs on the side of fewer alerts, for at most
// `period` plus the jump).
//
// Time is the caller's `now` (Unix seconds). Not thread-safe.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

namespace airssys::daemoneye::detail {

class RateLimiter {
 public:
  RateLimiter(std::uint32_t limit, std::chrono::seconds period);

  // How many more alerts `rule_id` may raise at `now` (UINT64_MAX when unlimited).
  [[nodiscard]] std::uint64_t remaining(const std::string& rule_id, std::int64_t now);
  // Records `count` alerts of `rule_id` raised at `now`.
  void raised(const std::string& rule_id, std::int64_t now, std::uint64_t count = 1);

  [[nodiscard]] std::size_t rules_tracked() const noexcept { return rules_.size(); }

 private:
  struct Window {
    std::deque<std::pair<std::int64_t, std::uint64_t>> buckets;  // (second, alerts)
    std::uint64_t total = 0;
  };
  void expire(Window& w, std::int64_t now) const;

  std::uint64_t limit_;
  std::int64_t period_;
  std::unordered_map<std::string, Window> rules_;
};

}  // namespace airssys::daemoneye::detail
