#pragma once
// The AlertPipeline's sinks (stdout, file, syslog, webhook, nats) behind one small
// interface, and what they share: counters and failure reporting.
//
// Contract for every sink: deliver() is called from the submitting thread
// only, with the alerts of one submit() that reached the sink's
// min_severity; it returns within a short, bounded time (the webhook only
// queues); a failure is counted in SinkCounters::errors and reported through
// the log, never thrown and never returned — the alert is already in the
// ledger by then.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/error.hpp>

#include <atomic>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::detail {

// Shared by the pipeline and its sinks; read by AlertPipeline::stats() from any thread.
struct SinkCounters {
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> webhook_dropped{0};
  std::atomic<std::uint64_t> webhook_delivered{0};
  // nats sinks (summed over all of them): publish attempts, alerts JetStream
  // acked, alerts waiting in the spools now (a gauge), alerts dropped from a
  // full spool, reconnections libnats made.
  std::atomic<std::uint64_t> nats_published{0};
  std::atomic<std::uint64_t> nats_acked{0};
  std::atomic<std::uint64_t> nats_spooled{0};
  std::atomic<std::uint64_t> nats_dropped{0};
  std::atomic<std::uint64_t> nats_reconnects{0};
};

// Thread-safe: the pipeline serialises calls to the user's log function.
using SinkLog = std::function<void(std::string_view)>;

struct Delivery {
  const Alert* alert;
  const std::string* json;  // alert_to_json(*alert), computed once for the ledger and every sink
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void deliver(std::span<const Delivery> batch) = 0;
};

// Logs the first failure of a run of failures and the recovery after it, so
// a sink that is down does not flood the log; every failure is counted.
// A caller that names each failure's cause (`cause`, a stable text without
// counts) also gets a line the first time each cause appears within the
// run: a NATS server that comes back without the stream says "no JetStream
// stream" instead of staying silent under the first line's "not connected".
// A cause already logged in the run is not logged again (an endpoint
// flapping between two causes logs two lines, not one per change), and
// past kMaxLoggedCauses causes in one run new ones are only counted.
// Used by one thread at a time (the sink's own).
class FailureReporter {
 public:
  FailureReporter(std::string name, std::shared_ptr<SinkCounters> counters, SinkLog log)
      : name_(std::move(name)), counters_(std::move(counters)), log_(std::move(log)) {}
  static constexpr std::size_t kMaxLoggedCauses = 8;
  void failed(std::string_view why, std::uint64_t count = 1, std::string_view cause = {});
  void succeeded();
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void log(std::string_view message) const;

 private:
  std::string name_;
  std::shared_ptr<SinkCounters> counters_;
  SinkLog log_;
  std::uint64_t failures_in_a_row_ = 0;
  std::vector<std::string> logged_causes_;  // the run's logged causes, at most kMaxLoggedCauses
};

// write(2) until all of `data` is written (short writes and EINTR
// continue). Returns 0 or the errno of the failed write; `written` says how
// far it got.
[[nodiscard]] int write_fully(int fd, std::string_view data, std::size_t& written) noexcept;

// The line a stdout, file or syslog sink writes for `d` (no newline).
[[nodiscard]] std::string render(const Delivery& d, SinkFormat format);

// `fd` is not owned (normally 1). Lines are written at once with write(2).
[[nodiscard]] std::unique_ptr<Sink> make_stdout_sink(SinkFormat format, int fd, std::shared_ptr<SinkCounters> counters,
                                                     SinkLog log);
// Opens (creates 0600) the file now: a symlink, a non-regular file or a
// file with other hard links is refused.
[[nodiscard]] Result<std::unique_ptr<Sink>> make_file_sink(const SinkConfig& config,
                                                           std::shared_ptr<SinkCounters> counters, SinkLog log);
// Resolves a network address now; connects (TCP) when it first sends.
// invalid_input for a bad address or facility; a name that does not
// resolve has osl's category for it.
[[nodiscard]] Result<std::unique_ptr<Sink>> make_syslog_sink(const SinkConfig& config,
                                                             std::shared_ptr<SinkCounters> counters, SinkLog log);
// Starts the sender thread.
[[nodiscard]] Result<std::unique_ptr<Sink>> make_webhook_sink(const SinkConfig& config,
                                                              std::shared_ptr<SinkCounters> counters, SinkLog log);

// Opens the spool (spool_dir), loads what it holds and starts the sender
// thread; an unreachable server is not an error (alerts wait in the spool),
// an unsafe spool directory or an unreadable TLS file is.
[[nodiscard]] Result<std::unique_ptr<Sink>> make_nats_sink(const SinkConfig& config,
                                                           std::shared_ptr<SinkCounters> counters, SinkLog log);

}  // namespace airssys::daemoneye::detail
