#pragma once
// Dedup as the agent applies it, asked without raising anything.
//
// The agent drops an alert whose dedup key (make_dedup_key) was raised
// within alerts.dedup_window, or that an earlier row of the same scan
// already raised (AlertPipeline::submit). Across a restart it knows what
// was raised from the store: recent_alert_keys() is what it reads back at
// start (AlertPipeline::remember). `daemoneye-cli rules test` reads the same
// keys and asks the same question of a rule's rows (dedup_verdicts), so
// "new" and "already raised" there are the agent's answers, not a copy of
// its logic. The rate limit is not asked: it depends on what the agent
// raised in memory this period, which the store does not say.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

class QueryEngine;

struct RaisedKey {
  std::string dedup_key;
  std::int64_t time = 0;  // Unix seconds: the newest alert stored with that key
};

// The dedup keys of the alerts stored with a time within the last `window`
// seconds before `now`, each with its newest time, oldest first (the order
// AlertPipeline::remember wants). `rule_id` non-empty: that rule's only
// (a valid rule id, rule.hpp). Nothing (and no query) for a window <= 0.
// At most the engine's max_rows keys: the newest, `*cut` set when there
// were more (what the agent reads back at start).
[[nodiscard]] Result<std::vector<RaisedKey>> recent_alert_keys(QueryEngine& engine, std::chrono::seconds window,
                                                               std::int64_t now, std::string_view rule_id = {},
                                                               bool* cut = nullptr);

// The same for the dedup keys of `candidates` only, looked up key by key
// (in groups), so that however many other keys the window holds, none of
// these is missed: what dedup_verdicts needs to judge them
// (`daemoneye-cli rules test`, under the rules' max_rows). An answer cut by
// the engine's limits is an error (resource_exhausted), never a key left out.
[[nodiscard]] Result<std::vector<RaisedKey>> raised_keys_of(QueryEngine& engine, std::chrono::seconds window,
                                                            std::int64_t now, const std::vector<Alert>& candidates);

// The process_events id after which a Sigma rule deployed now is read by
// the agent's next scan: a rule without a mark starts at the first event
// stored since the last scan (at least the last 2 minutes; sigma_window.hpp),
// never earlier. A row of an event at or below it would never be raised by
// the newly deployed rule, whatever dedup says. (A rule the agent already
// runs has read up to its mark, past this.)
[[nodiscard]] Result<std::int64_t> sigma_first_scan_after(QueryEngine& engine, std::int64_t now);

struct DedupVerdict {
  enum class Kind : std::uint8_t {
    raise,    // no alert with its key within the window: the agent raises it (rate limit permitting)
    raised,   // its key was raised at `raised_at`, within the window: dropped as a duplicate
    repeat,   // an earlier candidate (`first`) has its key and is raised: dropped with it
  };
  Kind kind = Kind::raise;
  std::int64_t raised_at = 0;  // raised: when
  std::size_t first = 0;       // repeat: the index of the candidate raised for its key
};

// What AlertPipeline::submit's dedup does with `candidates` at `now` when
// its window (`window` long) remembers `recent`, as at a fresh start: one
// verdict per candidate, in order. Nothing is raised or written.
[[nodiscard]] std::vector<DedupVerdict> dedup_verdicts(const std::vector<Alert>& candidates,
                                                       const std::vector<RaisedKey>& recent,
                                                       std::chrono::seconds window, std::int64_t now);

}  // namespace airssys::daemoneye
