// daemoneye-cli metrics: the status file's counters in the Prometheus text
// exposition format (version 0.0.4), e.g. for node_exporter's textfile
// collector: `daemoneye-cli metrics > /var/lib/node_exporter/daemoneye.prom`.

#include "commands.hpp"
#include "liveness.hpp"
#include "output.hpp"

#include <airssys/daemoneye/agent_status.hpp>

#include <fmt/format.h>

#include <ctime>

namespace airssys::daemoneye::cli {

namespace {

class Exposition {
 public:
  // One metric family: HELP and TYPE once, then its samples.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    name_ = name;
  }
  void sample(double value, std::string_view labels = {}) {
    text_ += labels.empty() ? fmt::format("{} {}\n", name_, value) : fmt::format("{}{{{}}} {}\n", name_, labels, value);
  }
  void sample(std::uint64_t value, std::string_view labels = {}) {
    text_ += labels.empty() ? fmt::format("{} {}\n", name_, value) : fmt::format("{}{{{}}} {}\n", name_, labels, value);
  }
  void sample(std::int64_t value, std::string_view labels = {}) {
    text_ += labels.empty() ? fmt::format("{} {}\n", name_, value) : fmt::format("{}{{{}}} {}\n", name_, labels, value);
  }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string name_;
};

// A label value as the exposition format quotes it (\\, \", \n escaped):
// the reasons are read from the status file.
std::string prometheus_label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

double seconds(std::uint64_t us) { return static_cast<double>(us) / 1e6; }

void agent_metrics(Exposition& m, const AgentStatus& s, const LivenessReport& l) {
  m.family("daemoneye_agent_status_age_seconds", "gauge", "Seconds since the agent last wrote its status file.");
  m.sample(l.age);
  m.family("daemoneye_agent_start_time_seconds", "gauge", "When the agent started, Unix seconds.");
  m.sample(s.started_at);
  m.family("daemoneye_scans_total", "counter", "Scans stored since the agent started.");
  m.sample(s.scans);
  if (s.last_scan) {
    m.family("daemoneye_last_scan_timestamp_seconds", "gauge", "Start of the last stored collection, Unix seconds.");
    m.sample(s.last_scan->time);
    m.family("daemoneye_last_scan_processes", "gauge", "Processes in the last stored collection.");
    m.sample(static_cast<std::uint64_t>(s.last_scan->processes));
    m.family("daemoneye_last_scan_unreadable_processes", "gauge",
             "Processes of the last collection that could not be fully read.");
    m.sample(static_cast<std::uint64_t>(s.last_scan->unreadable));
    m.family("daemoneye_last_scan_duration_seconds", "gauge", "Time the last scan took, by phase.");
    m.sample(seconds(s.last_scan->collect_us), "phase=\"collect\"");
    m.sample(seconds(s.last_scan->store_us), "phase=\"store\"");
    m.sample(seconds(s.last_scan->rules_us), "phase=\"rules\"");
  }
  m.family("daemoneye_rules", "gauge", "Rules by load state: loaded, enabled, rejected at load, failing at run time.");
  m.sample(s.rules.loaded, "state=\"loaded\"");
  m.sample(s.rules.enabled, "state=\"enabled\"");
  m.sample(s.rules.rejected_count, "state=\"rejected\"");
  m.sample(static_cast<std::uint64_t>(s.rules.failing.size()), "state=\"failing\"");
  if (s.reload) {
    const ReloadStatus& r = *s.reload;
    m.family("daemoneye_reloads_total", "counter",
             "Reloads (SIGHUP) since the agent started, by result: ok, partial (its rules run, something was "
             "refused), failed (the rules in use were kept).");
    m.sample(r.ok, "result=\"ok\"");
    m.sample(r.partial, "result=\"partial\"");
    m.sample(r.failed, "result=\"failed\"");
    m.family("daemoneye_last_reload_successful", "gauge",
             "1 if the last reload was ok or there was none since the start, 0 if it was partial or failed.");
    m.sample(static_cast<std::uint64_t>(!r.last || r.last->result == ReloadResult::ok ? 1 : 0));
    m.family("daemoneye_last_reload_success_timestamp_seconds", "gauge",
             "When the last reload with result ok was made, Unix seconds (0: none since the start).");
    m.sample(r.last_ok_at);
    m.family("daemoneye_rules_loaded_timestamp_seconds", "gauge",
             "When the rules in force were loaded (the start, or the last reload ok or partial), Unix seconds.");
    m.sample(r.rules_loaded_at);
  }
  m.family("daemoneye_alerts_total", "counter",
           "Candidate alerts by outcome: raised, dropped as duplicates, dropped by the rate limit.");
  m.sample(s.alerts.raised, "outcome=\"raised\"");
  m.sample(s.alerts.deduplicated, "outcome=\"deduplicated\"");
  m.sample(s.alerts.rate_limited, "outcome=\"rate_limited\"");
  if (!s.exceptions.empty()) {
    m.family("daemoneye_alerts_excepted_total", "counter",
             "Candidate alerts a rule exception silenced (rules.exceptions), by rule and exception, since the agent "
             "started.");
    for (const ExceptionStats& e : s.exceptions)
      m.sample(e.hits, fmt::format("rule=\"{}\",exception=\"{}\"", prometheus_label(e.rule), prometheus_label(e.id)));
    m.family("daemoneye_rule_exception_expired", "gauge", "1 for a rule exception past its expires (it applies no more), else 0.");
    for (const ExceptionStats& e : s.exceptions)
      m.sample(static_cast<std::uint64_t>(e.expired ? 1 : 0),
               fmt::format("rule=\"{}\",exception=\"{}\"", prometheus_label(e.rule), prometheus_label(e.id)));
  }
  if (!s.rules.cut.empty()) {
    m.family("daemoneye_rule_results_cut_total", "counter",
             "Rule runs whose result was cut (rules.max_rows, rules.max_bytes, or the rows read with exceptions): "
             "rows past the cut were not seen.");
    for (const auto& [id, n] : s.rules.cut) m.sample(n, fmt::format("rule=\"{}\"", prometheus_label(id)));
  }
  m.family("daemoneye_alert_sink_errors_total", "counter", "Failed alert writes or sends to sinks.");
  m.sample(s.alerts.sink_errors);
  if (s.nats) {
    m.family("daemoneye_nats_published_total", "counter", "JetStream publish attempts of alerts, retries included.");
    m.sample(s.nats->published);
    m.family("daemoneye_nats_acked_total", "counter", "Alerts JetStream acked.");
    m.sample(s.nats->acked);
    m.family("daemoneye_nats_spooled", "gauge", "Alerts waiting in the nats spool for JetStream's ack.");
    m.sample(s.nats->spooled);
    m.family("daemoneye_nats_dropped_total", "counter", "Alerts dropped from a full nats spool (spool.max_size).");
    m.sample(s.nats->dropped);
    m.family("daemoneye_nats_reconnects_total", "counter", "Reconnections to the NATS servers.");
    m.sample(s.nats->reconnects);
  }
  if (s.events_nats) {
    const auto& e = *s.events_nats;
    m.family("daemoneye_events_nats_published_total", "counter",
             "JetStream publish attempts of process events, retries included.");
    m.sample(e.published);
    m.family("daemoneye_events_nats_acked_total", "counter", "Process events JetStream acked.");
    m.sample(e.acked);
    m.family("daemoneye_events_nats_spooled", "gauge", "Process events waiting in the events spool for JetStream's ack.");
    m.sample(e.spooled);
    m.family("daemoneye_events_nats_dropped_total", "counter",
             "Process events dropped from a full events spool or refused for good by JetStream.");
    m.sample(e.dropped);
    m.family("daemoneye_events_nats_reconnects_total", "counter", "Reconnections of the events' NATS connection.");
    m.sample(e.reconnects);
  }
  if (s.live_query) {
    const auto& q = *s.live_query;
    // Disjoint outcomes, so the family's sum counts each request past the
    // checks once; the failures, by stage, are a family of their own.
    const std::uint64_t failed_query = q.failed >= q.failed_ledger ? q.failed - q.failed_ledger : 0;
    m.family("daemoneye_live_queries_total", "counter",
             "Live queries past the checks, each counted once: accepted (recorded in the ledger and run, whether or "
             "not the query failed), failed_ledger (the ledger could not record it: not run).");
    m.sample(q.accepted, "outcome=\"accepted\"");
    m.sample(q.failed_ledger, "outcome=\"failed_ledger\"");
    m.family("daemoneye_live_query_failed_total", "counter",
             "Live queries answered without rows, by stage: query (accepted, the SQL failed or hit a limit), ledger "
             "(not recorded, not run).");
    m.sample(failed_query, "stage=\"query\"");
    m.sample(q.failed_ledger, "stage=\"ledger\"");
    m.family("daemoneye_live_query_refused_total", "counter", "Live query requests refused, by reason.");
    for (const auto& [reason, n] : q.refused) m.sample(n, fmt::format("reason=\"{}\"", prometheus_label(reason)));
    m.family("daemoneye_live_query_replies_total", "counter", "Live query replies published (rows, failures, refusals).");
    m.sample(q.answered);
    m.family("daemoneye_live_query_rows_total", "counter", "Rows in the live query replies published.");
    m.sample(q.rows);
    m.family("daemoneye_live_query_dropped_total", "counter",
             "Refusals of signed live queries not answered: expired, their nonce was answered before (replayed), or "
             "the cache of answered nonces is full.");
    m.sample(q.dropped);
    m.family("daemoneye_live_query_audit_suppressed_total", "counter",
             "Live query refusals left out of the audit ledger by its rate limit (60 a minute).");
    m.sample(q.audit_suppressed);
  }
  m.family("daemoneye_store_failures_total", "counter", "Store writes that failed (full disk, I/O error), retries included.");
  m.sample(s.store.store_failures);
  m.family("daemoneye_store_batches_pending", "gauge", "Event batches and collections the store refused, waiting for a retry.");
  m.sample(s.store.batches_pending);
  m.family("daemoneye_store_events_pending", "gauge", "Process events waiting for a retry of the store.");
  m.sample(s.store.events_pending);
  m.family("daemoneye_store_events_dropped_total", "counter",
           "Process events given up: past the retry backlog's bound, or still unstored at a stop.");
  m.sample(s.store.events_dropped);
  m.family("daemoneye_store_failing", "gauge", "1 while every write to the store fails (full disk, I/O error), else 0.");
  m.sample(static_cast<std::uint64_t>(s.store_failing_since > 0 ? 1 : 0));
  m.family("daemoneye_procmond_up", "gauge", "1 if procmond is running under the agent.");
  m.sample(static_cast<std::uint64_t>(s.procmond.running ? 1 : 0));
  if (s.collections) {
    const CollectionHealth& c = *s.collections;
    m.family("daemoneye_collections_stale", "gauge",
             "1 while no process collection has arrived from procmond for 3 scan intervals + 2 s, else 0.");
    m.sample(static_cast<std::uint64_t>(c.stale ? 1 : 0));
    m.family("daemoneye_last_collection_timestamp_seconds", "gauge",
             "When the last process collection arrived from procmond, Unix seconds (0: none yet).");
    m.sample(c.last);
    m.family("daemoneye_procmond_stale_restarts_total", "counter",
             "Times the agent killed and restarted procmond because no collection arrived.");
    m.sample(c.restarts);
  }
  m.family("daemoneye_procmond_restarts_total", "counter",
           "Times procmond exited unasked (crashed) and was restarted since the agent started.");
  m.sample(s.procmond.crashes);
  m.family("daemoneye_procmond_spawns_refused_total", "counter",
           "Starts of procmond not made: procmond.path failed its check (owner/mode, existence) or the spawn failed "
           "(each tried again).");
  m.sample(s.procmond.spawns_refused);
  if (!s.procmond_status) return;
  const ProcmondStatus& p = *s.procmond_status;
  m.family("daemoneye_event_tier", "gauge",
           "The real-time event source procmond runs: 1 for the running tier, 0 for the others.");
  for (std::size_t i = 0; i < kEventSources; ++i) {
    const auto src = static_cast<EventSource>(i);
    m.sample(static_cast<std::uint64_t>(src == p.tier ? 1 : 0), fmt::format("tier=\"{}\"", to_string(src)));
  }
  const auto per_source = [&](std::string_view name, std::string_view help, auto field) {
    m.family(name, "counter", help);
    for (std::size_t i = 0; i < kEventSources; ++i)
      m.sample(p.sources[i].*field, fmt::format("source=\"{}\"", to_string(static_cast<EventSource>(i))));
  };
  per_source("daemoneye_events_total", "Process events procmond published, by source.", &SourceCounters::events);
  per_source("daemoneye_events_dropped_total", "Process events procmond dropped (over its budget or queue bound), by source.",
             &SourceCounters::dropped);
  per_source("daemoneye_events_lost_total", "Process events the kernel could not deliver (ring buffer full, ENOBUFS), by source.",
             &SourceCounters::lost);
  m.family("daemoneye_event_budget_per_second", "gauge", "Real-time events procmond publishes per second at most.");
  m.sample(p.budget_per_second);
  m.family("daemoneye_procmond_scans_total", "counter", "Collections procmond published (since procmond started).");
  m.sample(p.scans);
  if (!p.sockets) return;
  const SocketCounters& k = *p.sockets;
  m.family("daemoneye_sockets_rows", "gauge", "process_open_sockets rows in procmond's last collection.");
  m.sample(k.rows);
  m.family("daemoneye_sockets_missed", "gauge",
           "What procmond's last collection could not give rows for, by reason (processes, tables or fds).");
  m.sample(k.truncated, "reason=\"truncated\"");
  m.sample(k.unreadable, "reason=\"unreadable\"");
  m.sample(k.fds_capped, "reason=\"fds_capped\"");
  m.sample(k.tables_capped, "reason=\"tables_capped\"");
  m.sample(k.unmatched, "reason=\"unmatched\"");
  m.sample(k.ambiguous, "reason=\"ambiguous\"");
  m.family("daemoneye_sockets_other_namespace", "gauge",
           "Rows of procmond's last collection found in another network namespace than their process's.");
  m.sample(k.other_namespace);
  m.family("daemoneye_sockets_collect_seconds", "gauge", "Time procmond's last collection spent on sockets.");
  m.sample(static_cast<double>(k.us) / 1e6);
}

}  // namespace

int run_metrics(const Context& ctx) {
  auto read = read_status_file(ctx.status_file());
  if (!read) {
    return fail_with(read.error());
  }
  Exposition m;
  m.family("daemoneye_agent_up", "gauge", "1 if the agent is running and its status file is fresh, else 0.");
  if (!read->has_value()) {
    m.sample(std::uint64_t{0});
    write_stdout(m.text());
    return kExitOk;
  }
  const AgentStatus& s = **read;
  const LivenessReport l = assess(s, static_cast<std::int64_t>(::time(nullptr)));
  m.sample(static_cast<std::uint64_t>(l.state == Liveness::running ? 1 : 0));
  agent_metrics(m, s, l);
  write_stdout(m.text());
  return kExitOk;
}

}  // namespace airssys::daemoneye::cli
