#pragma once
// DedupWindow — which dedup keys were raised within the last `window`
// seconds.
//
// A key raised at time t suppresses the same key while 0 <= now - t < window
// (so a condition that persists raises again once per window). If the
// clock went back (now < t) the key is not suppressed: missing an alert is
// worse than a duplicate.
//
// Memory: keys older than the window are dropped as time passes (amortised
// O(1) per call, oldest first); at most `max_keys` are kept, and beyond that
// the oldest are forgotten early (their key may raise again before the
// window ends; counted in forgotten_early()).
//
// Time is the caller's `now` (Unix seconds), never the clock, so tests are
// deterministic. Not thread-safe (the pipeline's submit() thread only).

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace airssys::daemoneye::detail {

class DedupWindow {
 public:
  static constexpr std::size_t kDefaultMaxKeys = 100'000;

  explicit DedupWindow(std::chrono::seconds window, std::size_t max_keys = kDefaultMaxKeys);

  // Whether `key` was raised within the window before `now`.
  [[nodiscard]] bool suppressed(const std::string& key, std::int64_t now) { return raised_within(key, now).has_value(); }
  // When `key` was last raised, if that is within the window before `now`.
  [[nodiscard]] std::optional<std::int64_t> raised_within(const std::string& key, std::int64_t now);
  // Records that `key` was raised at `now`.
  void raised(const std::string& key, std::int64_t now);

  [[nodiscard]] std::size_t size() const noexcept { return last_raised_.size(); }
  [[nodiscard]] std::uint64_t forgotten_early() const noexcept { return forgotten_early_; }

 private:
  void expire(std::int64_t now);

  std::int64_t window_;
  std::size_t max_keys_;
  std::unordered_map<std::string, std::int64_t> last_raised_;
  // (time, key) in the order raised; an entry whose time no longer matches
  // last_raised_ is stale (the key was raised again) and is skipped.
  std::deque<std::pair<std::int64_t, std::string>> order_;
  std::uint64_t forgotten_early_ = 0;
};

// One batch's dedup as AlertPipeline::submit applies it: an alert is
// dropped when the window remembers its key, or when an alert earlier in
// the same batch with that key went on (passed()). An alert without a key
// is never dropped. `daemoneye-cli rules test` asks the same questions of
// a rule's rows without raising anything (dedup_check.hpp).
class BatchDedup {
 public:
  enum class Verdict : std::uint8_t { passes, in_window, in_batch };
  BatchDedup(DedupWindow& window, std::int64_t now) : window_(window), now_(now) {}
  [[nodiscard]] Verdict check(const std::string& key) {
    if (key.empty()) return Verdict::passes;
    if (passed_.contains(key)) return Verdict::in_batch;
    return window_.suppressed(key, now_) ? Verdict::in_window : Verdict::passes;
  }
  // The alert with `key` went on (past the rate limit too).
  void passed(const std::string& key) {
    if (!key.empty()) passed_.insert(key);
  }

 private:
  DedupWindow& window_;
  std::int64_t now_;
  std::unordered_set<std::string> passed_;
};

}  // namespace airssys::daemoneye::detail
