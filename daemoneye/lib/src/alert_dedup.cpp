#include "alert_dedup.hpp"

namespace airssys::daemoneye::detail {

DedupWindow::DedupWindow(std::chrono::seconds window, std::size_t max_keys)
    : window_(window.count()), max_keys_(max_keys == 0 ? 1 : max_keys) {}

void DedupWindow::expire(std::int64_t now) {
  // Entries are in raise order; with a clock that only moves forward that is
  // time order, so the loop stops at the first one still inside the window.
  while (!order_.empty() && now - order_.front().first >= window_) {
    auto& [t, key] = order_.front();
    if (const auto it = last_raised_.find(key); it != last_raised_.end() && it->second == t) last_raised_.erase(it);
    order_.pop_front();
  }
}

std::optional<std::int64_t> DedupWindow::raised_within(const std::string& key, std::int64_t now) {
  if (window_ <= 0) return std::nullopt;
  expire(now);
  const auto it = last_raised_.find(key);
  if (it == last_raised_.end()) return std::nullopt;
  const std::int64_t age = now - it->second;
  if (age >= 0 && age < window_) return it->second;
  return std::nullopt;
}

void DedupWindow::raised(const std::string& key, std::int64_t now) {
  if (window_ <= 0) return;
  last_raised_[key] = now;
  order_.emplace_back(now, key);
  while (last_raised_.size() > max_keys_ && !order_.empty()) {
    auto& [t, old] = order_.front();
    if (const auto it = last_raised_.find(old); it != last_raised_.end() && it->second == t) {
      last_raised_.erase(it);
      ++forgotten_early_;
    }
    order_.pop_front();
  }
  // Stale entries (keys raised again) would otherwise pile up behind a live head.
  if (order_.size() > 2 * last_raised_.size() + 1024) {
    std::deque<std::pair<std::int64_t, std::string>> live;
    for (auto& entry : order_) {
      if (const auto it = last_raised_.find(entry.second); it != last_raised_.end() && it->second == entry.first) {
        live.push_back(std::move(entry));
      }
    }
    order_ = std::move(live);
  }
}

}  // namespace airssys::daemoneye::detail
