#pragma once
// AgentStatus — what daemoneye-agent reports about itself, and the status
// file it keeps beside its database for `daemoneye-cli status` / `metrics`
// (format in docs/daemoneye.md "Status file").
//
// The agent rewrites `<database dir>/status.json` after start, after each
// scan, at least every `write_interval_ms` while it runs (a heartbeat), and
// once more at a clean stop with state "stopped". Each write replaces the
// file atomically (temp file in the same directory, then rename), so a reader
// never sees half a file. A reader tells a live agent from a dead one by
// `pid` + `start_ticks` (a recycled pid has other start ticks) and a hung
// one by `updated_at`.
//
// Thread safety: pure functions; the file functions touch only their path.

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/exception_filter.hpp>
#include <airssys/daemoneye/store_backlog.hpp>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

// The status file's format version; a reader refuses a newer one.
inline constexpr int kAgentStatusFormat = 1;
// At most this many rejected rules are listed (the count is always exact).
inline constexpr std::size_t kAgentStatusMaxListed = 100;
// A status file larger than this is refused when read.
inline constexpr std::size_t kAgentStatusMaxBytes = 1024 * 1024;

enum class AgentState : std::uint8_t { running, stopped };
[[nodiscard]] std::string_view to_string(AgentState s) noexcept;

struct RejectedRule {
  std::string file;
  std::string message;  // "FILE:LINE: reason", as the agent logs it
};

// At most this many partly unreadable processes are named (the count,
// LastScan::unreadable, is always exact).
inline constexpr std::size_t kUnreadableSampleMax = 5;

// A process the collection could read only in part, and what of it could
// not be read ("/proc/1/io", unreadable_sample.hpp).
struct UnreadableProcess {
  std::int64_t pid = -1;
  std::string name;
  std::vector<std::string> missing;
  friend bool operator==(const UnreadableProcess&, const UnreadableProcess&) = default;
};

struct LastScan {
  std::int64_t time = 0;  // collection start, Unix seconds
  std::uint64_t scan_id = 0;
  std::uint32_t processes = 0, unreadable = 0;
  std::uint64_t collect_us = 0, store_us = 0, rules_us = 0;
  std::uint32_t alerts = 0, rule_errors = 0;
  // The first kUnreadableSampleMax of the `unreadable` ones ("unreadable_sample";
  // absent from an older agent's file: empty).
  std::vector<UnreadableProcess> unreadable_sample;
  friend bool operator==(const LastScan&, const LastScan&) = default;
};

// The nats alert sinks' figures, summed (docs/daemoneye.md "Forwarding to
// NATS JetStream"); spooled is a gauge, the others count since start.
struct NatsSinkCounters {
  std::uint64_t published = 0, acked = 0, spooled = 0, dropped = 0, reconnects = 0;
  friend bool operator==(const NatsSinkCounters&, const NatsSinkCounters&) = default;
};

// The live query service's counters since the agent started
// (docs/daemoneye.md "Live queries", Counters); refused by reason
// (to_string(LiveQueryRefusal): malformed, unauthenticated, ...).
struct LiveQueryCounters {
  std::uint64_t accepted = 0, failed = 0, answered = 0, rows = 0, dropped = 0, audit_suppressed = 0;
  std::map<std::string, std::uint64_t> refused;
  // Of `failed`, the requests the ledger could not record (not run, never
  // accepted): accepted + failed_ledger counts each request past the checks once.
  std::uint64_t failed_ledger = 0;
  friend bool operator==(const LiveQueryCounters&, const LiveQueryCounters&) = default;
};

// Whether procmond's process collections arrive (docs/daemoneye.md "The
// agent", When collections stop). Without them no rule over `processes`
// runs; the Sigma rules run over the stored events on the agent's own timer.
struct CollectionHealth {
  std::int64_t last = 0;            // Unix seconds the last collection arrived; 0: none yet
  bool stale = false;               // none for stale_after_ms
  std::int64_t stale_since = 0;     // Unix seconds it became stale; 0 while not
  std::int64_t stale_after_ms = 0;  // 3 scan intervals + 2 s
  std::uint64_t restarts = 0;       // procmond restarts because none arrived, since start
  friend bool operator==(const CollectionHealth&, const CollectionHealth&) = default;
};

// How a reload (SIGHUP) went (docs/daemoneye.md "Status file", reload):
//  ok       the configuration was read, every rule file and trusted key loaded;
//  partial  its rules were taken, but something was refused: a rule file
//           rejected (that rule no longer runs), a trusted key file dropped,
//           a rule exception refused (the old version of what was refused kept),
//           or a secret of the configuration the next start would refuse;
//  failed   the rules in use were kept: the configuration cannot be read, or
//           rules.dir was refused as a whole.
enum class ReloadResult : std::uint8_t { ok, partial, failed };
[[nodiscard]] std::string_view to_string(ReloadResult r) noexcept;

// At most this many bytes of a reload's error are kept (the log has it all).
inline constexpr std::size_t kReloadErrorMaxBytes = 2000;

struct LastReload {
  std::int64_t time = 0;  // Unix seconds the SIGHUP was handled
  ReloadResult result = ReloadResult::ok;
  // Empty for ok; else what was refused, as the agent logs it (keys, paths
  // and lines, never a secret's value), at most kReloadErrorMaxBytes.
  std::string error;
  friend bool operator==(const LastReload&, const LastReload&) = default;
};

// "reload" in the file; absent from older agents.
struct ReloadStatus {
  // Unix seconds the rules in force were loaded: the start, or the last
  // reload whose rules were taken (ok or partial).
  std::int64_t rules_loaded_at = 0;
  // Unix seconds of the last reload with result ok; 0: none since the start.
  std::int64_t last_ok_at = 0;
  std::uint64_t ok = 0, partial = 0, failed = 0;  // reloads since the start, by result
  std::optional<LastReload> last;                 // absent until the first SIGHUP
  friend bool operator==(const ReloadStatus&, const ReloadStatus&) = default;
};

struct AgentStatus {
  AgentState state = AgentState::running;
  std::int64_t pid = -1;
  std::uint64_t start_ticks = 0;  // /proc/PID/stat field 22 of the agent: (pid, start_ticks) is the process
  std::string version;
  std::string host;
  std::int64_t started_at = 0;  // Unix seconds
  std::int64_t updated_at = 0;  // Unix seconds of this write
  std::string database;         // the store's path, as configured
  std::int64_t scan_interval_ms = 0;
  std::int64_t write_interval_ms = 0;  // while running, the file is rewritten at least this often

  struct {
    std::uint64_t loaded = 0, enabled = 0;
    std::uint64_t rejected_count = 0;      // may exceed rejected.size()
    std::vector<RejectedRule> rejected;    // at most kAgentStatusMaxListed
    std::vector<std::string> failing;      // ids of rules whose last run failed (time limit ...)
    // Rule id → how many of its runs since the start had their result cut
    // (rules.max_rows, the bytes limit, or the rows read with exceptions):
    // rows past the cut were not seen. "cut" in the file, absent when none
    // (and from older agents).
    std::map<std::string, std::uint64_t> cut;
  } rules;

  // How the last reload went; see ReloadStatus.
  std::optional<ReloadStatus> reload;

  std::uint64_t scans = 0;          // scans stored since start
  std::optional<LastScan> last_scan;

  struct {
    std::uint64_t raised = 0, deduplicated = 0, rate_limited = 0, sink_errors = 0;
  } alerts;

  struct {
    bool running = false;
    std::int64_t pid = -1;            // -1 when not running
    std::uint64_t exits = 0;          // every exit, requested or not
    std::uint64_t crashes = 0;        // exits nobody asked for; each is followed by a restart
    // Spawns refused because procmond.path no longer passed the owner/mode
    // rule (each tried again after the backoff); absent from older agents.
    std::uint64_t spawns_refused = 0;
  } procmond;
  // Writes the store refused and what waits for a retry (store_backlog.hpp).
  // Absent from files written before it existed: read as all zero.
  StoreBacklogCounters store;
  // Unix seconds since which every write to the store fails (0 while it
  // takes them): "store.failing_since" in the file, absent from older agents.
  std::int64_t store_failing_since = 0;
  // "collections" in the file; absent from older agents.
  std::optional<CollectionHealth> collections;
  // Present when the agent has a nats sink ("alerts.nats" in the file).
  std::optional<NatsSinkCounters> nats;
  // Present when the agent forwards process events to NATS ("events.nats" in
  // the file; the same figures, counting events).
  std::optional<NatsSinkCounters> events_nats;
  // Present when live_query.enabled ("live_query" in the file).
  std::optional<LiveQueryCounters> live_query;
  // The rule exceptions in force (rules.exceptions) and what each silenced
  // since the start ("exceptions" in the file; absent from older agents:
  // empty), and the messages of the entries or files the last load refused
  // ("exceptions_rejected": at start they are not in force; at a reload the
  // old version of an entry refused by id, or of a file refused whole, was kept). At most kAgentStatusMaxListed rejections.
  std::vector<ExceptionStats> exceptions;
  std::vector<std::string> exceptions_rejected;
  // procmond's latest report on status.procmond (event tier, per-source
  // counters); absent until the first one arrives.
  std::optional<ProcmondStatus> procmond_status;
  std::int64_t procmond_status_received = 0;  // Unix seconds it arrived; 0 when absent
};

// `<database dir>/status.json` ("./status.json" for a bare file name).
[[nodiscard]] std::filesystem::path status_file_for(const std::filesystem::path& database);

[[nodiscard]] std::string encode(const AgentStatus& s);
// Every field is required and checked; errors name it ("agent_status.procmond.pid: not an integer").
[[nodiscard]] Result<AgentStatus> decode_agent_status(std::string_view json);

// Writes `s` to `path` atomically: a new temp file in the same directory
// (O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode 0640 less the umask), then
// rename over `path`. A symbolic link at `path` is replaced, never followed.
// The JSON is followed by 1 KiB of spaces: when the file system is full
// (ENOSPC, EDQUOT) and no new file can be made, the status is written over
// the existing file's bytes instead (not atomic), so that it can still say
// why (the store fails for the same reason).
[[nodiscard]] Result<void> write_status_file(const std::filesystem::path& path,
                                                                 const AgentStatus& s);
// Reads it back (O_NOFOLLOW, regular files only, at most kAgentStatusMaxBytes).
// nullopt: there is no file at `path`.
[[nodiscard]] Result<std::optional<AgentStatus>> read_status_file(
    const std::filesystem::path& path);

}  // namespace airssys::daemoneye
