#pragma once
// ExceptionFilter — the agent's rule exceptions in force (rule_exception.hpp)
// and what they silenced (docs/daemoneye.md "Rule exceptions").
//
// apply() runs between the rules' queries and the alert pipeline: a
// candidate an exception in force matches is removed (no dedup entry, no
// rate limit share, no ledger entry, no alert) and counted for that
// exception: hits and the time of the last one, for status.json and
// `daemoneye-cli metrics` (daemoneye_alerts_excepted_total). The first hit
// of each (exception, dedup key) is logged at info with the key and the
// row's columns (control bytes escaped, each value capped at
// kMaxLoggedValueBytes), so what was silenced can be reconstructed; a key
// is logged again after kRelogAfterSeconds. At most kMaxLoggedPerWindow
// such lines per exception per kWindowSeconds: past it the rows are counted
// and, when the window ends, one warning says "exception X silenced N
// rows, M not logged" (a flood of matches cannot use the log up, and
// cannot hide later rows for the agent's lifetime). The keys remembered are
// pruned by age and capped (kMaxRememberedKeys, oldest dropped).
// An exception that expires is logged once, when a scan first sees it
// expired, and its matches raise again from then on; one seen in force
// again after that (the clock stepped back, or a reload extended it) is
// logged as re-enabled, and a second expiry is logged again.
//
// replace() takes a new set (start, SIGHUP): an exception whose id, rule and
// match are unchanged keeps its counters and the keys it logged.
//
// Thread safety: one thread (the agent's scan loop) for every call.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/rule_exception.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace airssys::daemoneye {

struct ExceptionStats {
  std::string id, rule, reason, owner, ticket, file;
  std::string weak;           // why any process could match it (rule_exception.hpp); empty: pinned
  std::int64_t expires = 0;   // Unix seconds; 0: never
  bool expired = false;       // as of the last apply()
  std::uint64_t hits = 0;     // candidates silenced since the agent started
  std::int64_t last_hit = 0;  // Unix seconds; 0: none
  friend bool operator==(const ExceptionStats&, const ExceptionStats&) = default;
};

class ExceptionFilter {
 public:
  static constexpr std::size_t kMaxLoggedPerWindow = 20;
  static constexpr std::int64_t kWindowSeconds = 60;
  static constexpr std::int64_t kRelogAfterSeconds = 3600;
  static constexpr std::size_t kMaxRememberedKeys = 10000;
  static constexpr std::size_t kMaxLoggedValueBytes = 256;
  using Log = std::function<void(std::string_view)>;
  // `warn` (the window summaries); the info log when empty.
  explicit ExceptionFilter(Log info, Log warn = {}) : info_(std::move(info)), warn_(std::move(warn)) {
    if (!warn_) warn_ = info_;
  }

  void replace(std::vector<RuleException> exceptions);
  // Removes from `candidates` what an exception in force at `now` matches;
  // returns how many. begin(now), then take() for each.
  std::size_t apply(std::vector<Alert>& candidates, std::int64_t now);
  // Once per run, before take(): expiries and the log windows.
  void begin(std::int64_t now);
  // Whether an exception in force at `now` matches `a` (counted and logged).
  bool take(const Alert& a, std::int64_t now);
  // The same for a row as it is read: `m` is a RowMatcher made of
  // exceptions() (begin() first); `alert` makes the row's alert, called only
  // for a row an exception matches (its dedup key and row are logged).
  bool take_row(const RowMatcher& m, std::span<const Value> values, std::int64_t now,
                const std::function<Alert()>& alert);
  // Whether an exception names rule `id`.
  [[nodiscard]] bool has_rule(std::string_view id) const noexcept;

  [[nodiscard]] const std::vector<RuleException>& exceptions() const noexcept { return exceptions_; }
  // The rows logged since the last call (what the agent stores in
  // excepted_alerts): the same bound as the log lines.
  struct Recorded {
    std::int64_t time = 0;
    std::string rule_id, exception_id, dedup_key, row_json;
  };
  [[nodiscard]] std::vector<Recorded> take_recorded() { return std::exchange(recorded_, {}); }
  [[nodiscard]] std::vector<ExceptionStats> stats() const;

 private:
  struct State {
    std::uint64_t hits = 0;
    std::int64_t last_hit = 0;
    bool expired_told = false;
    std::int64_t window_start = 0;
    std::uint64_t window_hits = 0, window_logged = 0, window_unlogged = 0;
    std::map<std::string, std::int64_t> logged;  // dedup key → when its hit was last logged
  };
  void log_hit(const RuleException& e, State& s, const Alert& a, std::int64_t now);
  void count(const RuleException& e, const Alert& a, std::int64_t now);
  void end_window(const RuleException& e, State& s, std::int64_t now);
  Log info_, warn_;
  std::vector<Recorded> recorded_;
  std::vector<RuleException> exceptions_;
  std::vector<State> state_;  // one per exception
  std::int64_t last_now_ = 0;
};

}  // namespace airssys::daemoneye
