#include "status_reporter.hpp"

#include <airssys/daemoneye/events.hpp>
#include <airssys/osl/proc.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <ctime>

#ifndef AIRSSYS_VERSION
#define AIRSSYS_VERSION "0.1.0"
#endif

namespace airssys::daemoneye::agent {

using namespace std::chrono_literals;

namespace {

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

}  // namespace

std::chrono::milliseconds StatusReporter::write_interval(std::chrono::milliseconds scan_interval) noexcept {
  return std::clamp<std::chrono::milliseconds>(scan_interval, 1s, 5s);
}

StatusReporter::StatusReporter(StatusReporterOptions options, const ProcmondSupervision& procmond,
                               const AlertPipeline& alerts)
    : options_(std::move(options)), procmond_(procmond), alerts_(alerts) {
  AgentStatus& s = status_;
  s.state = AgentState::running;
  s.pid = ::getpid();
  if (auto st = osl::proc::read_stat(::getpid())) s.start_ticks = st->starttime;
  s.version = AIRSSYS_VERSION;
  s.host = options_.host;
  s.started_at = unix_now();
  s.database = options_.database.string();
  s.scan_interval_ms = options_.scan_interval.count();
  s.write_interval_ms = write_interval(options_.scan_interval).count();
  set_rules(s, options_.rules_loaded, options_.rules_enabled, options_.rules_rejected);
  s.reload = ReloadStatus{.rules_loaded_at = s.started_at};
  s.exceptions_rejected = std::move(options_.exceptions_rejected);
}

void StatusReporter::set_rules(AgentStatus& s, std::size_t loaded, std::size_t enabled,
                               const std::vector<RuleError>& rejected) {
  s.rules.loaded = loaded;
  s.rules.enabled = enabled;
  s.rules.rejected_count = rejected.size();
  s.rules.rejected.clear();
  for (std::size_t i = 0; i < rejected.size() && i < kAgentStatusMaxListed; ++i)
    s.rules.rejected.push_back({rejected[i].file.string(), rejected[i].message});
}

void StatusReporter::rules_loaded(std::size_t loaded, std::size_t enabled, const std::vector<RuleError>& rejected) {
  set_rules(status_, loaded, enabled, rejected);
  write();
}

void StatusReporter::reloaded(ReloadResult result, std::string error) {
  ReloadStatus& r = *status_.reload;
  const std::int64_t now = unix_now();
  if (error.size() > kReloadErrorMaxBytes) {
    // Cut on a UTF-8 character boundary, and say so.
    std::size_t at = kReloadErrorMaxBytes;
    while (at > 0 && (static_cast<unsigned char>(error[at]) & 0xC0) == 0x80) --at;
    error.resize(at);
    error += " …";
  }
  switch (result) {
    case ReloadResult::ok:
      ++r.ok;
      r.last_ok_at = now;
      r.rules_loaded_at = now;
      break;
    case ReloadResult::partial:
      ++r.partial;
      r.rules_loaded_at = now;
      break;
    case ReloadResult::failed:
      ++r.failed;
      break;
  }
  r.last = LastReload{.time = now, .result = result, .error = std::move(error)};
  write();
}

StatusReporter::~StatusReporter() { subscription_.unsubscribe(); }

Result<std::unique_ptr<StatusReporter>> StatusReporter::start(StatusReporterOptions options, bus::Client& client,
                                                              const ProcmondSupervision& procmond,
                                                              const AlertPipeline& alerts) {
  std::unique_ptr<StatusReporter> r(new StatusReporter(std::move(options), procmond, alerts));
  // One small report per interval: a short queue, the newest is what counts.
  auto sub = client.subscribe(
      kSubjectProcmondStatus, [self = r.get()](const bus::MessageView& m) { self->on_procmond_status(m.payload); },
      {.policy = bus::Policy::drop_oldest, .max_msgs = 16});
  if (!sub) {
    return fail(ErrorCategory::unavailable,
                "bus subscribe " + std::string(kSubjectProcmondStatus) + ": " + sub.error().to_string());
  }
  r->subscription_ = std::move(*sub);
  r->write();
  if (r->options_.log_info) r->options_.log_info(fmt::format("status file: {}", r->options_.path.string()));
  return r;
}

void StatusReporter::on_procmond_status(std::string_view payload) {
  auto decoded = decode_procmond_status(payload);
  std::lock_guard lock(mu_);
  if (!decoded) {
    if (bad_reports_++ < 10 && options_.log_warn) options_.log_warn(fmt::format("bad procmond status report: {}", decoded.error().message));
    return;
  }
  latest_ = std::move(*decoded);
  latest_received_ = unix_now();
}

void StatusReporter::scan_done(const ScanRecord& scan, const std::set<std::string>& failing_rules,
                               std::vector<UnreadableProcess> unreadable) {
  ++status_.scans;
  status_.last_scan = LastScan{.time = scan.time,
                               .scan_id = scan.scan_id,
                               .processes = scan.processes,
                               .unreadable = scan.unreadable,
                               .collect_us = scan.collect_us,
                               .store_us = scan.store_us,
                               .rules_us = scan.rules_us,
                               .alerts = scan.alerts,
                               .rule_errors = scan.rule_errors,
                               .unreadable_sample = std::move(unreadable)};
  status_.rules.failing.assign(failing_rules.begin(), failing_rules.end());
  write();
}

void StatusReporter::tick() {
  if (std::chrono::steady_clock::now() - last_write_ >= std::chrono::milliseconds(status_.write_interval_ms)) write();
}

void StatusReporter::stopped() {
  status_.state = AgentState::stopped;
  write();
}

void StatusReporter::write() {
  AgentStatus& s = status_;
  s.updated_at = unix_now();
  const auto st = alerts_.stats();
  s.alerts = {.raised = st.raised, .deduplicated = st.deduplicated, .rate_limited = st.rate_limited,
              .sink_errors = st.sink_errors};
  if (st.nats_sinks > 0) {
    s.nats = NatsSinkCounters{.published = st.nats_published, .acked = st.nats_acked, .spooled = st.nats_spooled,
                              .dropped = st.nats_dropped, .reconnects = st.nats_reconnects};
  }
  if (options_.events != nullptr) {
    const auto ev = options_.events->stats();
    s.events_nats = NatsSinkCounters{.published = ev.published, .acked = ev.acked, .spooled = ev.spooled,
                                     .dropped = ev.dropped, .reconnects = ev.reconnects};
  }
  if (options_.live_queries != nullptr) {
    const auto lq = options_.live_queries->stats();
    LiveQueryCounters c{.accepted = lq.accepted, .failed = lq.failed, .answered = lq.answered, .rows = lq.rows,
                        .dropped = lq.dropped, .audit_suppressed = lq.audit_suppressed, .refused = {},
                        .failed_ledger = lq.failed_ledger};
    for (std::size_t i = 0; i < kLiveQueryRefusals; ++i)
      c.refused[std::string(to_string(static_cast<LiveQueryRefusal>(i)))] = lq.refused_by[i];
    s.live_query = std::move(c);
  }
  if (options_.exceptions != nullptr) s.exceptions = options_.exceptions->stats();
  if (s.state == AgentState::running) {
    s.procmond.exits = procmond_.counters().exits.load(std::memory_order_relaxed);
    s.procmond.crashes = procmond_.counters().crashes.load(std::memory_order_relaxed);
    s.procmond.spawns_refused = procmond_.counters().spawns_refused.load(std::memory_order_relaxed);
    const auto pid = procmond_.procmond_pid();
    s.procmond.running = pid.has_value();
    s.procmond.pid = pid.value_or(-1);
  } else {
    // Stopped: procmond's supervision is gone (its counters with it); the
    // last figures read while running stay.
    s.procmond.running = false;
    s.procmond.pid = -1;
  }
  {
    std::lock_guard lock(mu_);
    s.procmond_status = latest_;
    s.procmond_status_received = latest_received_;
  }
  last_write_ = std::chrono::steady_clock::now();
  auto w = write_status_file(options_.path, s);
  if (!w && !write_failing_) {
    write_failing_ = true;
    if (options_.log_warn) options_.log_warn(fmt::format("cannot write the status file: {}", w.error().message));
  } else if (w && write_failing_) {
    write_failing_ = false;
    if (options_.log_info) options_.log_info(fmt::format("status file written again: {}", options_.path.string()));
  }
}

}  // namespace airssys::daemoneye::agent
