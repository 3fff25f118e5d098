#pragma once
// ExceptionFilter — the agent's rule exceptions in force (rule_exception.hpp)
// and what they silenced (docs/daemoneye.md "Rule exceptions").
//
// apply() runs between the rules' queries and the alert pipeline: a
// candidate an exception in force matches is removed (no dedup entry, no
// rate limit share, no ledger entry, no alert) and counted for that
// exception: hits and the time of the last one, for status.json and
// `daemoneye-cli metrics` (daemoneye_alerts_excepted_total). The first hit
// of each (exception, dedup key) is logged at info with the key (what was
// silenced can always be found), the first kMaxLoggedKeys keys of each
// exception; an exception that expires is logged once, when a scan first
// sees it expired, and its matches raise again from then on.
//
// replace() takes a new set (start, SIGHUP): an exception whose id, rule and
// match are unchanged keeps its counters and the keys it logged.
//
// Thread safety: one thread (the agent's scan loop) for every call.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/rule_exception.hpp>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
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
  // First hits of a (exception, key) logged per exception; past it one line says the rest are not.
  static constexpr std::size_t kMaxLoggedKeys = 1000;
  using Log = std::function<void(std::string_view)>;
  explicit ExceptionFilter(Log info) : info_(std::move(info)) {}

  void replace(std::vector<RuleException> exceptions);
  // Removes from `candidates` what an exception in force at `now` matches;
  // returns how many.
  std::size_t apply(std::vector<Alert>& candidates, std::int64_t now);

  [[nodiscard]] const std::vector<RuleException>& exceptions() const noexcept { return exceptions_; }
  [[nodiscard]] std::vector<ExceptionStats> stats() const;

 private:
  struct State {
    std::uint64_t hits = 0;
    std::int64_t last_hit = 0;
    bool expired_told = false;
    bool cap_told = false;
    std::set<std::string> logged;  // dedup keys whose first hit was logged
  };
  Log info_;
  std::vector<RuleException> exceptions_;
  std::vector<State> state_;  // one per exception
  std::int64_t last_now_ = 0;
};

}  // namespace airssys::daemoneye
