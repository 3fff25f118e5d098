#pragma once
// detail::Core — the shared state behind a System and the one pipeline every
// operation goes through. Handles (Process, Listener) hold a shared_ptr to it,
// so they can keep auditing after the System object is gone.

#include <airssys/osl/system.hpp>

#include <atomic>
#include <cerrno>
#include <exception>
#include <new>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "activity/activity_log.hpp"
#include "core/op_metrics.hpp"
#include "core/slots.hpp"

namespace airssys::osl::detail {

// One policy question: may the principal do `kind` on these resources?
struct Check {
  OpKind kind;
  std::vector<std::string> names;    // canonical resource names
  std::vector<std::string> aliases;  // same length as names, or empty
};

struct Request {
  OpKind kind;                       // the operation, as recorded in `op`
  std::vector<Check> checks;         // all must be allowed; checks[0] is the operation's own
  std::optional<Error> invalid;      // a malformed request: refused before the policy is asked
  std::optional<Error> pre_error;    // a resolution failure, reported only if the policy allows
  std::string detail_json;           // extra fields for the start record
  // Run only once the start record is written by every sink, whatever their
  // write_through() (an External operation: osl cannot undo what it did).
  bool durable_start = false;

  // One check of one resource, built without the copies of a braced list
  // (`.checks = {Check{kind, {name}, {}}}` copies the name twice and the
  // vector once: a list's elements are const).
  [[nodiscard]] static Request one(OpKind kind, std::string name) {
    Request r{.kind = kind, .checks = {}};
    r.checks.emplace_back().kind = kind;
    r.checks.back().names.push_back(std::move(name));
    return r;
  }
};

// Operation ids come from one counter per process, shared by every System
// in it: two Systems writing the same file (a program's own and a library's)
// never give two operations one id.
[[nodiscard]] std::uint64_t next_op_id() noexcept;

class Core : public std::enable_shared_from_this<Core> {
 public:
  explicit Core(SystemOptions options);

  [[nodiscard]] Policy policy() const;
  void set_policy(Policy p);
  [[nodiscard]] const ResourceLimits& limits() const noexcept { return limits_; }
  [[nodiscard]] SlotPool& files() noexcept { return *files_; }
  [[nodiscard]] SlotPool& processes() noexcept { return *processes_; }
  [[nodiscard]] SlotPool& connections() noexcept { return *connections_; }
  [[nodiscard]] ActivityLog& log() noexcept { return log_; }
  [[nodiscard]] SystemStats stats() const;
  [[nodiscard]] MetricsSnapshot metrics() const { return metrics_.snapshot(); }

  // policy decision → activity record → execute(op_id) → activity record.
  // `execute` returns std::expected<T, Error>; its error gets the op id.
  template <class T, class Execute>
  std::expected<T, Error> pipeline(std::string_view principal, Request req, Execute&& execute);

  // The pipeline's fast road, for a request whose path the caller has not
  // resolved yet (it is canonical only if `prepare` can prove it). Once the
  // policy allowed, `prepare()` runs before anything is recorded and returns
  // std::optional<P>: std::nullopt declines. On a decline, and on a denial
  // (the answer about an unresolved path may differ from the answer about
  // the object it names), nothing is recorded or counted and the result is
  // std::nullopt: the caller then takes the full road (pipeline with a
  // resolved path). Otherwise as pipeline, with execute(op_id, P&).
  template <class T, class Prepare, class Execute>
  std::optional<std::expected<T, Error>> pipeline_prepared(std::string_view principal, const Request& req,
                                                           Prepare&& prepare, Execute&& execute);

  // An action the library takes on its own, implied by an operation the
  // policy already allowed (the SIGKILL of a child whose deadline passed or
  // whose handle was dropped). Recorded like the explicit operation (start,
  // then end with the outcome), with decision allow and no rule: the policy
  // is not asked, and the action runs even when the start record cannot be
  // queued in time (not killing would be worse); its end record is then
  // still queued (end records never wait).
  template <class T, class Execute>
  std::expected<T, Error> implied(std::string_view principal, Request req, Execute&& execute);

  // Builds a Process handle (Process's constructor is private to Core).
  static process::Process make_process(std::unique_ptr<process::Process::State> state);

 private:
  struct Verdict {
    bool allowed = false;
    DecisionKind decision = DecisionKind::deny;
    std::optional<std::string> rule;
    std::string reason;
  };
  Verdict decide(std::string_view principal, const Request& req) const;
  // When run() took the request: the monotonic clock (metrics, durations)
  // and, with an audit log, the wall clock read right after it. Start and
  // denied records carry `wall` as their ts; an end record carries the wall
  // clock read again when the executor returned (wall_now()), not `wall`
  // plus the monotonic time, which a suspend or a clock step in between
  // would put off. Its duration_ns is monotonic.
  struct Began {
    std::chrono::steady_clock::time_point steady;
    std::chrono::system_clock::time_point wall;
  };
  [[nodiscard]] Began began() const noexcept { return {std::chrono::steady_clock::now(), wall_now()}; }
  // The wall clock for a record's ts, read only with an audit log (without
  // one no record is written, and an operation pays for no extra read).
  [[nodiscard]] std::chrono::system_clock::time_point wall_now() const noexcept {
    return log_.enabled() ? std::chrono::system_clock::now() : std::chrono::system_clock::time_point{};
  }
  // What both roads share once the policy allowed: start record → execute
  // (exceptions caught) → end record → counters.
  template <class T, class Execute>
  std::expected<T, Error> run_allowed(std::string_view principal, const Request& req, const Verdict& v,
                                      const Began& began, Execute&& execute, std::uint64_t id);
  // Writes every field of `r` (a record the log reuses) but outcome, error,
  // duration_ns and detail_json, which the caller sets.
  static void fill_record(ActivityRecord& r, std::chrono::system_clock::time_point ts, std::uint64_t id,
                          ActivityEvent ev, std::string_view principal, const Request& req, const Verdict& v);
  // Records a refusal and returns the error to hand back.
  Error refuse(std::uint64_t id, std::string_view principal, const Request& req, const Verdict& v, Error e,
               std::chrono::system_clock::time_point ts);
  // Queues the start record; false if the audit log stayed stalled.
  bool record_start(std::uint64_t id, std::string_view principal, const Request& req, const Verdict& v,
                    std::chrono::system_clock::time_point ts);
  void record_end(std::uint64_t id, std::string_view principal, const Request& req, const Verdict& v,
                  const Error* error, std::int64_t duration_ns, std::chrono::system_clock::time_point ts);
  // Counts a refusal under the outcome its record carries ("denied" or "invalid").
  void count_refusal(OpKind kind, const Error& e, std::chrono::steady_clock::time_point start) noexcept {
    metrics_.record(kind, e.category == ErrorCategory::denied ? Outcome::denied : Outcome::invalid, since(start));
  }
  static std::int64_t since(std::chrono::steady_clock::time_point start) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
  }

  // The policy a decision reads, without the mutex and the reference count
  // of policy(): each thread keeps the last policy it used with its
  // generation, and takes the current one again (under the mutex) once the
  // generation moved on. Generations come from one process-wide counter, so
  // two Systems never share one: a thread alternating between them takes
  // each one's policy afresh. The thread's reference lasts until it takes
  // another policy or ends. Once the thread's snapshot is destroyed (thread
  // exit, a later thread_local's destructor runs an operation), the policy
  // is copied into `spare` under the mutex and that is returned.
  [[nodiscard]] const Policy& current_policy(std::optional<Policy>& spare) const;
  mutable std::mutex policy_mu_;
  Policy policy_;
  std::atomic<std::uint64_t> policy_generation_;
  ResourceLimits limits_;
  std::chrono::milliseconds stall_timeout_;
  std::shared_ptr<SlotPool> files_, processes_, connections_;
  std::atomic<std::uint64_t> operations_{0}, denied_{0}, failed_{0};
  OpMetrics metrics_;
  ActivityLog log_;  // last: destroyed first, draining while the rest is alive
};

template <class T, class Execute>
std::expected<T, Error> Core::pipeline(std::string_view principal, Request req, Execute&& execute) {
  // Metrics time the whole call: policy check, audit records and executor.
  const Began b = began();
  const auto start = b.steady;
  const std::uint64_t id = next_op_id();
  if (req.invalid) {
    Error e = *req.invalid;
    e.op_id = id;
    count_refusal(req.kind, e, start);
    return std::unexpected(refuse(id, principal, req, Verdict{}, std::move(e), b.wall));
  }
  const Verdict v = decide(principal, req);
  if (!v.allowed) {
    metrics_.record(req.kind, Outcome::denied, since(start));
    return std::unexpected(refuse(id, principal, req, v, Error{ErrorCategory::denied, 0, id, v.reason}, b.wall));
  }
  if (req.pre_error) {
    Error e = *req.pre_error;
    e.op_id = id;
    count_refusal(req.kind, e, start);
    return std::unexpected(refuse(id, principal, req, v, std::move(e), b.wall));
  }
  return run_allowed<T>(principal, req, v, b, [&](std::uint64_t op_id) { return execute(op_id); }, id);
}

template <class T, class Prepare, class Execute>
std::optional<std::expected<T, Error>> Core::pipeline_prepared(std::string_view principal, const Request& req,
                                                               Prepare&& prepare, Execute&& execute) {
  const Began b = began();
  const Verdict v = decide(principal, req);
  if (!v.allowed) return std::nullopt;
  auto prepared = prepare();
  if (!prepared) return std::nullopt;
  const std::uint64_t id = next_op_id();
  return run_allowed<T>(principal, req, v, b, [&](std::uint64_t op_id) { return execute(op_id, *prepared); }, id);
}

template <class T, class Execute>
std::expected<T, Error> Core::run_allowed(std::string_view principal, const Request& req, const Verdict& v,
                                          const Began& began, Execute&& execute, std::uint64_t id) {
  const auto start = began.steady;
  if (!record_start(id, principal, req, v, began.wall)) {
    denied_.fetch_add(1, std::memory_order_relaxed);
    metrics_.record(req.kind, Outcome::audit_stalled, since(start));
    return std::unexpected(Error{ErrorCategory::io, 0, id,
                                 "audit log stalled, operation not executed: " + log_.last_error()});
  }
  const auto t0 = std::chrono::steady_clock::now();
  // Executors report errors as values; an exception (e.g. bad_alloc) is
  // caught here so it neither crosses the API nor loses the end record.
  std::expected<T, Error> result = std::unexpected(Error{ErrorCategory::internal, 0, id, "executor failed"});
  try {
    result = execute(id);
  } catch (const std::bad_alloc&) {
    result = std::unexpected(Error{ErrorCategory::resource_exhausted, ENOMEM, id, "out of memory"});
  } catch (const std::exception& e) {
    result = std::unexpected(Error{ErrorCategory::internal, 0, id, std::string("executor threw: ") + e.what()});
  } catch (...) {
    result = std::unexpected(Error{ErrorCategory::internal, 0, id, "executor threw an unknown exception"});
  }
  const auto t1 = std::chrono::steady_clock::now();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  // The end record's time is read from the wall clock again: start + elapsed
  // would be off by a suspend or a clock step during a long operation.
  const auto end_ts = wall_now();
  operations_.fetch_add(1, std::memory_order_relaxed);
  if (!result) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    result.error().op_id = id;
    record_end(id, principal, req, v, &result.error(), ns, end_ts);
  } else {
    record_end(id, principal, req, v, nullptr, ns, end_ts);
  }
  // Timed to the executor's return: queuing the end record (it never waits)
  // is left out, and so is one more clock read.
  metrics_.record(req.kind, result ? Outcome::ok : Outcome::error,
                  std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - start).count());
  return result;
}

template <class T, class Execute>
std::expected<T, Error> Core::implied(std::string_view principal, Request req, Execute&& execute) {
  const std::uint64_t id = next_op_id();
  const Verdict v{.allowed = true, .decision = DecisionKind::allow, .rule = std::nullopt, .reason = {}};
  const Began b = began();
  const auto start = b.steady;
  (void)record_start(id, principal, req, v, b.wall);
  const auto t0 = std::chrono::steady_clock::now();
  std::expected<T, Error> result = execute(id);
  const auto t1 = std::chrono::steady_clock::now();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  operations_.fetch_add(1, std::memory_order_relaxed);
  if (!result) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    result.error().op_id = id;
  }
  record_end(id, principal, req, v, result ? nullptr : &result.error(), ns, wall_now());
  // Timed to the executor's return: queuing the end record (it never waits)
  // is left out, and so is one more clock read.
  metrics_.record(req.kind, result ? Outcome::ok : Outcome::error,
                  std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - start).count());
  return result;
}

}  // namespace airssys::osl::detail
