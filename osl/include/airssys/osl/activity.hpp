#pragma once
// Activity records and the sinks that store them.
//
// Every operation produces a `start` record before it runs and an `end`
// record after; a refused operation produces one `denied` record. Records are
// serialised as one JSON object per line (see docs/osl.md for the fields).
//
// Sinks are called from the activity log's single writer thread, never
// concurrently, always with records in op order of enqueueing. A sink that
// returns an error keeps the batch: the writer retries the same batch until it
// succeeds — records are never dropped (see ActivityLog in system.hpp).

#include <airssys/osl/activity_trace.hpp>
#include <airssys/osl/error.hpp>
#include <airssys/osl/operation_kind.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace airssys::osl {

enum class ActivityEvent : std::uint8_t { start, end, denied };
[[nodiscard]] std::string_view to_string(ActivityEvent e) noexcept;

enum class DecisionKind : std::uint8_t {
  allow,
  deny,
  audit_deny,  // audit-only mode: the policy would deny, the operation ran anyway
};
[[nodiscard]] std::string_view to_string(DecisionKind d) noexcept;

struct ActivityRecord {
  std::chrono::system_clock::time_point ts;  // nanosecond resolution
  std::uint64_t op_id = 0;
  ActivityEvent event = ActivityEvent::start;
  OpKind op = OpKind::fs_read;
  std::string principal;
  std::vector<std::string> resources;
  DecisionKind decision = DecisionKind::deny;
  std::optional<std::string> rule;       // id of the deciding rule; nullopt when none matched
  std::string outcome;                   // "started" | "ok" | "error" | "denied"
  std::optional<Error> error;            // on outcome "error"/"denied"
  std::int64_t duration_ns = 0;          // end records: time spent in the executor
  std::string detail_json;               // optional extra fields as a JSON object text ("" = none)
  std::optional<TraceContext> trace;     // the caller's W3C trace (TraceScope), if one was in force
};

// One line, no trailing newline: {"ts":"2026-11-22T04:53:31.123456789Z","op_id":…}
[[nodiscard]] std::string to_json_line(const ActivityRecord& r);

class ActivitySink {
 public:
  virtual ~ActivitySink() = default;
  // Stores the batch durably enough for this sink's promise. On error the
  // caller retries the same batch later; a sink must tolerate a retry of a
  // batch it partly wrote (duplicates are acceptable, loss is not).
  [[nodiscard]] virtual std::expected<void, Error> write(std::span<const ActivityRecord> batch) = 0;
  [[nodiscard]] virtual std::string name() const = 0;
  // True: an operation runs only after its start record has been written by
  // every sink (write() returned), not merely queued. If that does not happen
  // within AuditOptions::stall_timeout the operation is not executed and fails
  // with category io ("audit log stalled"); its start record stays queued and
  // may still be written later, with no end record after it. Costs one round
  // trip to the writer thread per operation. One such sink makes it so for all.
  [[nodiscard]] virtual bool write_through() const { return false; }
};

// Wraps `sink` so that write_through() is true (see ActivitySink).
[[nodiscard]] std::shared_ptr<ActivitySink> make_write_through(std::shared_ptr<ActivitySink> sink);

// Appends JSON lines to a file created 0600; rotates when the file would
// exceed `max_bytes` (PATH → PATH.1 → … → PATH.<keep>). max_bytes 0 = never.
struct FileSinkOptions {
  std::filesystem::path path{};
  std::uint64_t max_bytes = 64ull << 20;
  unsigned keep = 5;
  bool fsync_each_batch = false;
};
[[nodiscard]] std::expected<std::unique_ptr<ActivitySink>, Error> make_file_sink(FileSinkOptions options);

// Sends each record as one RFC 5424 message to a syslog daemon or collector
// (format: docs/osl.md "Syslog"). `address` as in audit_syslog.hpp:
// "/dev/log" (a unix datagram socket), "udp://HOST:PORT", "tcp://HOST:PORT".
// A record counts as written once the kernel accepted its message (see
// syslog::Sender for what that means per transport; a UDP datagram can
// still be lost silently). A message that cannot be sent within
// send_timeout fails the write: the log retries the batch (the records sent
// before the failure are not sent again) and, write-through, the operation
// does not run. A message too large for one datagram (EMSGSIZE: a long
// argv or principal) is sent once more cut short: SD values to 256 bytes,
// the JSON MSG to 8 KiB (no longer valid JSON; the file and ledger sinks
// keep the record whole). Errors: invalid_argument (address, facility), not_found
// (host does not resolve), io (socket).
struct SyslogSinkOptions {
  std::string address{};
  std::string facility = "authpriv";  // audit records name users and paths: auth.log, not messages
  std::string app_name = "airssys-osl";
  std::string hostname{};                        // "" = gethostname()
  std::chrono::milliseconds send_timeout{2000};  // per batch
};
[[nodiscard]] std::expected<std::unique_ptr<ActivitySink>, Error> make_syslog_sink(SyslogSinkOptions options);

// For a program that takes an audit log path from a person: the path must
// name a regular file or nothing yet. A FIFO would block the sink's open, a
// device such as /dev/full would swallow the records, a symlink could point
// anywhere. invalid_argument, e.g. "not a regular file (a FIFO); the audit
// log must be a regular file". Other errors (EACCES...) are left to the sink.
[[nodiscard]] std::expected<void, Error> check_audit_log_path(const std::filesystem::path& path);

// Writes JSON lines to standard error.
[[nodiscard]] std::unique_ptr<ActivitySink> make_stderr_sink();

}  // namespace airssys::osl
