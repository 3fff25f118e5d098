// AlertPipeline (alert_pipeline.hpp): dedup window → per-rule rate limit →
// audit ledger → sinks.
//
// Dedup, rate and held-back state change only for alerts that reached the
// ledger: a batch whose append failed leaves them as they were, so the same
// candidates raise on the next scan. Alerts the rate limit held back are not
// remembered by the dedup window either (a condition that persists raises
// once the rule is under its limit again); they are told in summary alerts
// (alert_held.hpp), which pass neither dedup nor the rate limit.
#include <airssys/daemoneye/alert_pipeline.hpp>
#include <airssys/daemoneye/component_errors.hpp>

#include <airssys/ledger/ledger.hpp>

#include <unistd.h>

#include <atomic>
#include <optional>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "alert_dedup.hpp"
#include "alert_held.hpp"
#include "alert_rate_limit.hpp"
#include "alert_sink.hpp"

namespace airssys::daemoneye {

struct AlertPipeline::Impl {
  Impl(const AlertsConfig& c, std::shared_ptr<ledger::Ledger> l)
      : dedup(c.dedup_window), rate(c.rate_limit, c.rate_period), held(c.rate_period), ledger(std::move(l)) {}

  struct SinkSlot {
    Severity min_severity;
    std::unique_ptr<detail::Sink> sink;
  };

  detail::DedupWindow dedup;
  detail::RateLimiter rate;
  detail::HeldAlerts held;  // what the rate limit held back, until told
  std::shared_ptr<ledger::Ledger> ledger;
  std::shared_ptr<detail::SinkCounters> counters = std::make_shared<detail::SinkCounters>();
  std::atomic<std::uint64_t> raised{0}, deduplicated{0}, rate_limited{0};
  std::vector<SinkSlot> sinks;  // destroyed before `counters` and the log they use
  std::uint32_t nats_sinks = 0;
};

AlertPipeline::AlertPipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void AlertPipeline::remember(const std::string& dedup_key, std::int64_t raised_at) {
  if (!dedup_key.empty()) impl_->dedup.raised(dedup_key, raised_at);
}
AlertPipeline::~AlertPipeline() = default;

Result<std::unique_ptr<AlertPipeline>> AlertPipeline::create(const AlertsConfig& config,
                                                             std::shared_ptr<ledger::Ledger> ledger, Log log) {
  auto impl = std::make_unique<Impl>(config, std::move(ledger));
  // Sinks log from the webhook thread as well as the caller's: one at a time.
  auto log_mutex = std::make_shared<std::mutex>();
  detail::SinkLog sink_log = [log = std::move(log), log_mutex](std::string_view message) {
    if (!log) return;
    const std::lock_guard lock(*log_mutex);
    log(message);
  };
  int index = 0;
  for (const SinkConfig& sc : config.sinks) {
    ++index;
    Result<std::unique_ptr<detail::Sink>> sink;
    switch (sc.type) {
      case SinkType::stdout_:
        sink = detail::make_stdout_sink(sc.format, STDOUT_FILENO, impl->counters, sink_log);
        break;
      case SinkType::file:
        sink = detail::make_file_sink(sc, impl->counters, sink_log);
        break;
      case SinkType::syslog:
        sink = detail::make_syslog_sink(sc, impl->counters, sink_log);
        break;
      case SinkType::webhook:
        sink = detail::make_webhook_sink(sc, impl->counters, sink_log);
        break;
      case SinkType::nats:
        sink = detail::make_nats_sink(sc, impl->counters, sink_log);
        break;
    }
    if (!sink) return std::unexpected(sink.error().prefixed(fmt::format("alerts.sinks #{}", index)));
    impl->sinks.push_back({sc.min_severity, std::move(*sink)});
    if (sc.type == SinkType::nats) ++impl->nats_sinks;
  }
  return std::unique_ptr<AlertPipeline>(new AlertPipeline(std::move(impl)));
}

bool AlertPipeline::holds_back() const noexcept { return impl_->held.pending(); }

const HeldTexts& AlertPipeline::held_state() const noexcept { return impl_->held.saved(); }

HeldRestore AlertPipeline::restore_held_back(const HeldTexts& saved, const SummaryRaised& raised) {
  HeldRestore out;
  for (const auto& [rule, text] : saved) {
    const std::optional<std::string> key = impl_->held.restore(rule, text);
    if (!key) {
      out.unreadable.push_back(rule);
    } else if (const std::optional<std::int64_t> at = raised ? raised(rule, *key) : std::nullopt) {
      // Its summary reached the ledger before the kill: told already.
      impl_->held.told(rule, *at);
      ++out.told_already;
    } else {
      ++out.restored;
    }
  }
  return out;
}

Result<AlertOutcome> AlertPipeline::tell_held_back(std::int64_t now) { return submit({}, now, /*all_held=*/true); }

Result<AlertOutcome> AlertPipeline::submit(std::vector<Alert> candidates, std::int64_t now) {
  return submit(std::move(candidates), now, /*all_held=*/false);
}

Result<AlertOutcome> AlertPipeline::submit(std::vector<Alert> candidates, std::int64_t now, bool all_held) {
  Impl& m = *impl_;
  AlertOutcome out;
  std::vector<Alert> held_back;
  // Decisions inside one batch see the batch's own earlier survivors.
  detail::BatchDedup dedup(m.dedup, now);
  std::unordered_map<std::string, std::uint64_t> allowance;  // rule id → alerts it may still raise at `now`
  for (Alert& a : candidates) {
    if (dedup.check(a.dedup_key) != detail::BatchDedup::Verdict::passes) {
      ++out.deduplicated;
      continue;
    }
    auto [it, fresh] = allowance.try_emplace(a.rule_id, 0);
    if (fresh) it->second = m.rate.remaining(a.rule_id, now);
    if (it->second == 0) {
      ++out.rate_limited;
      held_back.push_back(std::move(a));
      continue;
    }
    --it->second;
    dedup.passed(a.dedup_key);
    out.raised.push_back(std::move(a));
  }

  // The summaries due, prepared without touching the held-back state: it
  // changes only once they are in the ledger.
  std::optional<detail::HeldAlerts::Change> held;
  if (!held_back.empty() || m.held.pending()) held = m.held.prepare(held_back, now, all_held);
  const std::size_t plain = out.raised.size();
  if (held)
    for (Alert& a : held->summaries) out.raised.push_back(std::move(a));

  std::vector<std::string> json;
  json.reserve(out.raised.size());
  for (const Alert& a : out.raised) json.push_back(alert_to_json(a));

  if (m.ledger && !json.empty()) {
    std::vector<ledger::ByteView> entries;
    entries.reserve(json.size());
    for (const std::string& j : json) entries.emplace_back(reinterpret_cast<const std::uint8_t*>(j.data()), j.size());
    if (auto appended = m.ledger->append_batch(entries); !appended) {
      return std::unexpected(Error{category_of(appended.error()), appended.error().errno_value,
                                   fmt::format("audit ledger {}: {}; {} alerts not raised", m.ledger->dir().string(),
                                               appended.error().to_string(), out.raised.size())});
    }
  }

  if (held) m.held.apply(std::move(*held));
  std::unordered_map<std::string, std::uint64_t> per_rule;
  for (std::size_t i = 0; i < plain; ++i) {
    const Alert& a = out.raised[i];
    if (!a.dedup_key.empty()) m.dedup.raised(a.dedup_key, now);
    ++per_rule[a.rule_id];
  }
  out.summaries = out.raised.size() - plain;
  for (const auto& [rule, count] : per_rule) m.rate.raised(rule, now, count);
  m.raised.fetch_add(out.raised.size(), std::memory_order_relaxed);
  m.deduplicated.fetch_add(out.deduplicated, std::memory_order_relaxed);
  m.rate_limited.fetch_add(out.rate_limited, std::memory_order_relaxed);

  for (const auto& slot : m.sinks) {
    std::vector<detail::Delivery> batch;
    for (std::size_t i = 0; i < out.raised.size(); ++i) {
      if (out.raised[i].severity >= slot.min_severity) batch.push_back({&out.raised[i], &json[i]});
    }
    if (!batch.empty()) slot.sink->deliver(batch);
  }
  return out;
}

std::uint64_t AlertPipeline::publish_tree_head(std::int64_t now, const std::string& host) {
  Impl& m = *impl_;
  if (!m.ledger) return 0;
  // Size and root read together: an append by another thread (a live
  // query's audit record) between two reads would pair this size with a
  // later root, and a verifier would report tampering.
  const auto [size, root_hash] = m.ledger->head();
  std::string root;
  for (const std::uint8_t b : root_hash) root += fmt::format("{:02x}", b);
  Alert a;
  a.rule_id = std::string(kTreeHeadRule);
  a.rule_name = fmt::format("audit ledger tree head: {} entries", size);
  a.severity = Severity::low;
  a.tags = {std::string(kTreeHeadTag)};
  a.host = host;
  a.time = now;
  a.dedup_key = fmt::format("{}|ledger_size={}", kTreeHeadRule, size);
  a.row_json = nlohmann::json{{"ledger_size", size}, {"root", root}, {"ledger_dir", m.ledger->dir().string()}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string json = alert_to_json(a);
  const detail::Delivery d{&a, &json};
  // Like any alert, only to the sinks whose min_severity takes `low`.
  for (const auto& slot : m.sinks)
    if (a.severity >= slot.min_severity) slot.sink->deliver({&d, 1});
  return size;
}

AlertStats AlertPipeline::stats() const {
  const Impl& m = *impl_;
  AlertStats s;
  s.raised = m.raised.load(std::memory_order_relaxed);
  s.deduplicated = m.deduplicated.load(std::memory_order_relaxed);
  s.rate_limited = m.rate_limited.load(std::memory_order_relaxed);
  s.sink_errors = m.counters->errors.load(std::memory_order_relaxed);
  s.webhook_dropped = m.counters->webhook_dropped.load(std::memory_order_relaxed);
  s.webhook_delivered = m.counters->webhook_delivered.load(std::memory_order_relaxed);
  s.nats_published = m.counters->nats_published.load(std::memory_order_relaxed);
  s.nats_acked = m.counters->nats_acked.load(std::memory_order_acquire);  // before nats_spooled (NatsForwarder::run)
  s.nats_spooled = m.counters->nats_spooled.load(std::memory_order_relaxed);
  s.nats_dropped = m.counters->nats_dropped.load(std::memory_order_relaxed);
  s.nats_reconnects = m.counters->nats_reconnects.load(std::memory_order_relaxed);
  s.nats_sinks = m.nats_sinks;
  return s;
}

}  // namespace airssys::daemoneye
