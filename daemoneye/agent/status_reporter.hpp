#pragma once
// Keeps daemoneye-agent's status file (<database dir>/status.json, format in
// docs/daemoneye.md "Status file") current for daemoneye-cli: written after
// start, after each scan, at least every write interval while the scan loop
// runs (tick()), and with state "stopped" at a clean stop. It also takes
// procmond's ProcmondStatus reports from status.procmond and keeps the latest.
//
// A failed write is logged once per outage and never stops the agent.
//
// Thread safety: scan_done(), tick() and stopped() from the scan loop's
// thread only; the status.procmond handler runs on the bus reader thread.

#include "procmond_supervision.hpp"

#include <airssys/bus/client.hpp>
#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/daemoneye/alert_pipeline.hpp>
#include <airssys/daemoneye/event_forwarder.hpp>
#include <airssys/daemoneye/exception_filter.hpp>
#include <airssys/daemoneye/live_query_service.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/store.hpp>
#include <airssys/daemoneye/store_backlog.hpp>

#include <chrono>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::agent {

struct StatusReporterOptions {
  std::filesystem::path path;  // status_file_for(database)
  std::filesystem::path database;
  std::string host;
  std::chrono::milliseconds scan_interval{10000};
  std::size_t rules_loaded = 0, rules_enabled = 0;
  std::vector<RuleError> rules_rejected;
  std::function<void(std::string_view)> log_warn, log_info;
  // When the agent forwards process events: must outlive the reporter.
  const EventForwarder* events = nullptr;
  // When the agent answers live queries: must outlive the reporter.
  const LiveQueryService* live_queries = nullptr;
  // The rule exceptions in force, read at each write: must outlive the reporter.
  const ExceptionFilter* exceptions = nullptr;
  std::vector<std::string> exceptions_rejected;  // what the start's load refused
};

class StatusReporter {
 public:
  // Subscribes to status.procmond on `client` and writes the first status.
  // `alerts` must outlive the reporter; `procmond` must live until
  // stopped() (which no longer reads it) or the reporter's end.
  [[nodiscard]] static Result<std::unique_ptr<StatusReporter>> start(StatusReporterOptions options,
                                                                     bus::Client& client,
                                                                     const ProcmondSupervision& procmond,
                                                                     const AlertPipeline& alerts);
  ~StatusReporter();
  StatusReporter(const StatusReporter&) = delete;
  StatusReporter& operator=(const StatusReporter&) = delete;

  // A scan was stored: counts it, remembers it as the last scan, writes.
  // `unreadable`: the first of its partly unreadable processes
  // (unreadable_sample.hpp), named in scans.last.unreadable_sample.
  void scan_done(const ScanRecord& scan, const std::set<std::string>& failing_rules,
                 std::vector<UnreadableProcess> unreadable = {});
  // A rule's result was cut (RuleCut): counted in rules.cut, written with the next write.
  void rule_cut(const std::string& rule_id) { ++status_.rules.cut[rule_id]; }
  // Writes when the last write is a write interval old (the heartbeat).
  void tick();
  // The store backlog's counters, written with the next write (at the
  // latest a write interval later).
  void store_counters(StoreBacklogCounters counters) { status_.store = std::move(counters); }
  // Whether collections arrive; written at once when `stale` changed, else
  // with the next write.
  void collections(const CollectionHealth& h) {
    const bool changed = !status_.collections || status_.collections->stale != h.stale;
    status_.collections = h;
    if (changed) write();
  }
  // Unix seconds since which the store fails (0: it takes writes again);
  // written at once when it changed.
  void store_failing_since(std::int64_t since) {
    if (status_.store_failing_since == since) return;
    status_.store_failing_since = since;
    write();
  }
  // The rules were loaded again (SIGHUP): their counts and rejected files; writes.
  void rules_loaded(std::size_t loaded, std::size_t enabled, const std::vector<RuleError>& rejected);
  // The rule exceptions were loaded again (SIGHUP): what that load refused
  // (empty: none); written with the next write.
  void exceptions_rejected(std::vector<std::string> rejected) { status_.exceptions_rejected = std::move(rejected); }
  // A reload (SIGHUP) ended with `result`; `error` says what was refused
  // (empty for ok; cut to kReloadErrorMaxBytes). Counts it, and for ok or
  // partial marks its rules as the ones in force; writes.
  void reloaded(ReloadResult result, std::string error);
  // The agent stops cleanly: state "stopped", procmond not running; writes.
  void stopped();

  // While running, the file is rewritten at least this often.
  [[nodiscard]] static std::chrono::milliseconds write_interval(std::chrono::milliseconds scan_interval) noexcept;

 private:
  StatusReporter(StatusReporterOptions options, const ProcmondSupervision& procmond, const AlertPipeline& alerts);
  void write();
  void on_procmond_status(std::string_view payload);
  static void set_rules(AgentStatus& s, std::size_t loaded, std::size_t enabled, const std::vector<RuleError>& rejected);

  StatusReporterOptions options_;
  const ProcmondSupervision& procmond_;
  const AlertPipeline& alerts_;
  AgentStatus status_;
  std::chrono::steady_clock::time_point last_write_{};
  bool write_failing_ = false;

  std::mutex mu_;  // guards the two below (written on the bus reader thread)
  std::optional<ProcmondStatus> latest_;
  std::int64_t latest_received_ = 0;
  std::uint64_t bad_reports_ = 0;

  bus::Subscription subscription_;  // last: unsubscribed first on destruction
};

}  // namespace airssys::daemoneye::agent
