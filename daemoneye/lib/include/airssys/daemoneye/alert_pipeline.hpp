#pragma once
// AlertPipeline — from candidate alerts to delivered ones.
//
// submit() applies, in order: the dedup window (a key seen within
// dedup_window is dropped), the per-rule rate limit, then appends every
// surviving alert to the audit ledger (durable before submit returns) and
// hands it to each sink. Sinks never block the caller: stdout and file write
// at once; syslog sends at once (a failed send is counted and logged);
// webhook alerts go to a bounded queue drained by a background thread with
// retries and exponential backoff; nats alerts go to an on-disk spool
// (durable before submit returns) drained by a background thread that
// publishes them to JetStream in order.
//
// Thread safety: submit() from one thread; stats() from any. `log` is
// called from the submitting thread and from the webhook thread, never two
// calls at once; it receives sink failures (the first of an outage and the
// recovery, not every one), never a webhook URL's credentials or query.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/event_marks.hpp>

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::ledger {
class Ledger;
}

namespace airssys::daemoneye {

// The tree head records publish_tree_head() hands to the sinks.
inline constexpr std::string_view kTreeHeadRule = "daemoneye.ledger";
inline constexpr std::string_view kTreeHeadTag = "daemoneye.ledger_tree_head";

struct AlertOutcome {
  // Passed dedup and rate limit, in the ledger, handed to sinks; the last
  // `summaries` of them tell what the rate limit held back (their tags hold
  // "daemoneye.rate_limited").
  std::vector<Alert> raised;
  std::size_t deduplicated = 0;
  std::size_t rate_limited = 0;
  std::size_t summaries = 0;
};

struct AlertStats {
  std::uint64_t raised = 0, deduplicated = 0, rate_limited = 0;
  std::uint64_t sink_errors = 0;       // failed writes/sends (after retries for webhooks)
  std::uint64_t webhook_dropped = 0;   // queue overflow
  std::uint64_t webhook_delivered = 0;
  // nats sinks, summed (docs/daemoneye.md "Forwarding to NATS JetStream"):
  std::uint64_t nats_published = 0;   // publish attempts (retries included)
  std::uint64_t nats_acked = 0;       // alerts JetStream acked
  std::uint64_t nats_spooled = 0;     // alerts waiting in the spool now
  std::uint64_t nats_dropped = 0;     // dropped from a full spool (spool.max_size)
  std::uint64_t nats_reconnects = 0;  // reconnections to the NATS servers
  std::uint32_t nats_sinks = 0;       // how many nats sinks there are (0: the nats_* figures mean nothing)
};

// What AlertPipeline::restore_held_back found.
struct HeldRestore {
  std::size_t restored = 0;      // rules whose held-back alerts tell_held_back() now tells
  std::size_t told_already = 0;  // rules whose summary was raised before the kill (their outage goes on)
  std::vector<std::string> unreadable;  // rules whose saved text could not be read (not told)
};

class AlertPipeline {
 public:
  using Log = std::function<void(std::string_view)>;
  // Opens every sink (a file sink's file is created 0600, appended to; a
  // syslog or webhook address is validated). `ledger` may be null (no ledger).
  // Errors are prefixed "alerts.sinks #N" (invalid_input for a bad address,
  // denied or io for a file that cannot be opened).
  [[nodiscard]] static Result<std::unique_ptr<AlertPipeline>> create(const AlertsConfig& config,
                                                                     std::shared_ptr<ledger::Ledger> ledger, Log log);
  ~AlertPipeline();  // stops the webhook thread; queued webhook alerts get one last attempt
  AlertPipeline(const AlertPipeline&) = delete;
  AlertPipeline& operator=(const AlertPipeline&) = delete;

  // `now` in Unix seconds (the dedup and rate windows use it). An error
  // means the ledger append failed: nothing of this batch was raised.
  // Alerts over a rule's rate limit are held back and told in summary
  // alerts raised with the batch: the first of an outage at once, then one
  // per rate_period with what was held back since (docs/daemoneye.md
  // "Alerts"). Call it also without candidates while holds_back().
  [[nodiscard]] Result<AlertOutcome> submit(std::vector<Alert> candidates, std::int64_t now);
  // Something held back is not told yet: submit() has a summary to raise
  // once it is due.
  [[nodiscard]] bool holds_back() const noexcept;
  // At a stop: a summary now for every rule holding something back.
  [[nodiscard]] Result<AlertOutcome> tell_held_back(std::int64_t now);
  // What the rate limit holds back and no summary has told yet: rule id ->
  // a JSON text (what its summary needs). Changes only with a submit that
  // succeeded, and then only the rules it changed get a new HeldText (the
  // others keep theirs: comparing and copying it costs a pointer per rule).
  // The agent stores it with the Sigma rules' marks (EventMarks::held) in
  // the transaction of the scan's alerts, so a kill loses none of it: the
  // marks say which events were read, this what of them is still owed a
  // summary.
  [[nodiscard]] const HeldTexts& held_state() const noexcept;
  // When a summary with this rule id and dedup key was raised, if it was.
  using SummaryRaised = std::function<std::optional<std::int64_t>(const std::string& rule_id, const std::string& key)>;
  // At start, before the first submit: `saved` is held_state() as the store
  // last took it. Each rule's summary carries a dedup key fixed by what it
  // tells; when `raised(rule_id, dedup_key)` gives the time an alert with
  // that key was raised (the summary reached the ledger before the kill),
  // nothing is owed, and the rule's outage goes on as after that summary
  // (told at that time: more held back within the period waits for the
  // next one, as without the kill). Then tell_held_back() tells the rest.
  // Nothing is sent or written here.
  HeldRestore restore_held_back(const HeldTexts& saved, const SummaryRaised& raised);
  [[nodiscard]] AlertStats stats() const;

  // Hands the audit ledger's tree head (its size and root) to every sink,
  // whatever its min_severity, so that a copy lives where the host's root
  // cannot rewrite it: a ledger rebuilt on the host is detected only against
  // a tree head kept elsewhere (docs/daemoneye.md "The audit ledger: what it
  // detects"). Unsigned. It is an alert-shaped record (rule_id
  // "daemoneye.ledger", tag "daemoneye.ledger_tree_head", severity low, row
  // {"ledger_size", "root", "ledger_dir"}) that goes neither to the ledger
  // it describes nor through dedup or the rate limit. Returns the size
  // handed over; nothing (0) without a ledger.
  std::uint64_t publish_tree_head(std::int64_t now, const std::string& host);

  // Tells the dedup window that `dedup_key` was raised at `raised_at` (Unix
  // seconds) before this pipeline existed — the agent reads its recent
  // alerts back from the store at start, so a restart does not raise again
  // what it raised a minute ago. Call in ascending `raised_at` order, before
  // the first submit(). Nothing is sent or written.
  void remember(const std::string& dedup_key, std::int64_t raised_at);

  struct Impl;

 private:
  explicit AlertPipeline(std::unique_ptr<Impl> impl);
  Result<AlertOutcome> submit(std::vector<Alert> candidates, std::int64_t now, bool all_held);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye
