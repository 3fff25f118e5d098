#include "core/core.hpp"

#include <array>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace airssys::osl::detail {

namespace {
std::size_t pick(std::size_t configured, const std::optional<std::size_t>& from_policy) {
  return configured != 0 ? configured : from_policy.value_or(0);
}

// Copy-assigns into a reused record's field, keeping the strings' capacity.
template <class T>
void assign(std::optional<T>& dst, const T& src) {
  if (dst) {
    *dst = src;
  } else {
    dst.emplace(src);
  }
}
template <class T>
void assign(std::optional<T>& dst, const std::optional<T>& src) {
  if (src) {
    assign(dst, *src);
  } else {
    dst.reset();
  }
}
}  // namespace

namespace {
std::uint64_t next_policy_generation() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// Set when the thread's snapshot is destroyed; a bool has no destructor, so
// it can be read until the thread ends (by an operation that a thread_local
// destroyed later runs).
thread_local bool t_policy_gone = false;

struct PolicySnapshot {
  PolicySnapshot() = default;
  PolicySnapshot(const PolicySnapshot&) = delete;
  PolicySnapshot& operator=(const PolicySnapshot&) = delete;
  ~PolicySnapshot() { t_policy_gone = true; }
  std::uint64_t generation = 0;  // 0: none taken yet
  Policy policy;
};
thread_local PolicySnapshot t_policy;
}  // namespace

std::uint64_t next_op_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

Core::Core(SystemOptions o)
    : policy_(std::move(o.policy)),
      policy_generation_(next_policy_generation()),
      limits_(o.limits),
      stall_timeout_(o.audit.stall_timeout),
      log_(std::move(o.audit.sinks), o.audit.queue_capacity, o.audit.stall_timeout) {
  const PolicyLimits pl = policy_.limits();
  limits_.max_open_files = pick(limits_.max_open_files, pl.max_open_files);
  limits_.max_processes = pick(limits_.max_processes, pl.max_processes);
  limits_.max_connections = pick(limits_.max_connections, pl.max_connections);
  files_ = std::make_shared<SlotPool>("open files", limits_.max_open_files);
  processes_ = std::make_shared<SlotPool>("child processes", limits_.max_processes);
  connections_ = std::make_shared<SlotPool>("connections", limits_.max_connections);
}

Policy Core::policy() const {
  std::lock_guard lock(policy_mu_);
  return policy_;
}

void Core::set_policy(Policy p) {
  std::lock_guard lock(policy_mu_);
  policy_ = std::move(p);
  policy_generation_.store(next_policy_generation(), std::memory_order_release);
}

SystemStats Core::stats() const {
  return SystemStats{operations_.load(), denied_.load(), failed_.load(), log_.written(), log_.sink_errors()};
}

const Policy& Core::current_policy(std::optional<Policy>& spare) const {
  if (t_policy_gone) [[unlikely]] {
    std::lock_guard lock(policy_mu_);
    return spare.emplace(policy_);
  }
  if (t_policy.generation != policy_generation_.load(std::memory_order_acquire)) {
    Policy taken = [&] {
      std::lock_guard lock(policy_mu_);
      t_policy.generation = policy_generation_.load(std::memory_order_relaxed);
      return policy_;
    }();
    // `taken` leaves with the policy the thread held before: if that was its
    // last reference, the compiled rules are freed here, after the unlock,
    // not while other threads wait for the mutex.
    std::swap(t_policy.policy, taken);
  }
  return t_policy.policy;
}

Core::Verdict Core::decide(std::string_view principal, const Request& req) const {
  std::optional<Policy> spare;
  const Policy& p = current_policy(spare);
  Verdict v;
  v.allowed = true;
  v.decision = DecisionKind::allow;
  std::array<ResourceRef, 4> inline_refs;  // the common case allocates nothing
  std::vector<ResourceRef> heap_refs;
  for (std::size_t c = 0; c < req.checks.size(); ++c) {
    const Check& check = req.checks[c];
    const std::size_t n = check.names.size();
    std::span<ResourceRef> refs(inline_refs.data(), std::min(n, inline_refs.size()));
    if (n > inline_refs.size()) {
      heap_refs.resize(n);
      refs = heap_refs;
    }
    for (std::size_t i = 0; i < n; ++i) {
      refs[i] = ResourceRef{check.names[i], i < check.aliases.size() ? std::string_view(check.aliases[i])
                                                                     : std::string_view()};
    }
    Decision d = p.decide(principal, check.kind, refs);
    if (!d.allowed) {
      v.allowed = false;
      v.decision = DecisionKind::deny;
      v.rule = std::move(d.rule);
      v.reason = std::move(d.reason);
      return v;
    }
    if (d.would_deny && v.decision != DecisionKind::audit_deny) {
      v.decision = DecisionKind::audit_deny;
      v.rule = std::move(d.rule);
      v.reason = std::move(d.reason);
    } else if (c == 0 && v.decision == DecisionKind::allow) {
      v.rule = std::move(d.rule);  // the operation's own allow rule (moved: a long id is not copied again)
    }
  }
  return v;
}

void Core::fill_record(ActivityRecord& r, std::chrono::system_clock::time_point ts, std::uint64_t id,
                       ActivityEvent ev, std::string_view principal, const Request& req, const Verdict& v) {
  r.ts = ts;
  r.op_id = id;
  r.event = ev;
  r.op = req.kind;
  r.principal.assign(principal);
  // Assigned string by string: the record's strings keep their capacity.
  std::size_t n = 0;
  for (const Check& c : req.checks) n += c.names.size();
  r.resources.resize(n);
  std::size_t i = 0;
  for (const Check& c : req.checks) {
    for (const std::string& name : c.names) r.resources[i++].assign(name);
  }
  r.decision = v.decision;
  assign(r.rule, v.rule);
  r.trace = TraceScope::current();
}

Error Core::refuse(std::uint64_t id, std::string_view principal, const Request& req, const Verdict& v, Error e,
                   std::chrono::system_clock::time_point ts) {
  denied_.fetch_add(1, std::memory_order_relaxed);
  if (log_.enabled()) {
    // A refusal changes nothing, but its record must not be lost: if the log
    // stays stalled the caller is told so instead of getting a quiet denial.
    const bool queued = log_.push(ActivityLog::Slot::single, stall_timeout_, [&](ActivityRecord& r) {
      fill_record(r, ts, id, ActivityEvent::denied, principal, req, v);
      r.outcome.assign(e.category == ErrorCategory::denied ? "denied" : "invalid");
      assign(r.error, e);
      r.duration_ns = 0;
      r.detail_json.clear();
    });
    if (!queued) {
      return Error{ErrorCategory::io, 0, id,
                   fmt::format("audit log stalled; the refusal ({}) could not be recorded: {}", e.message,
                               log_.last_error())};
    }
  }
  return e;
}

bool Core::record_start(std::uint64_t id, std::string_view principal, const Request& req, const Verdict& v,
                        std::chrono::system_clock::time_point ts) {
  if (!log_.enabled()) return true;
  const bool queued = log_.push(ActivityLog::Slot::start, stall_timeout_, [&](ActivityRecord& r) {
    fill_record(r, ts, id, ActivityEvent::start, principal, req, v);
    r.outcome.assign("started");
    r.error.reset();
    r.duration_ns = 0;
    r.detail_json.assign(req.detail_json);
  });
  if (!queued) return false;
  // A write-through sink: run only once the start record is written. (An
  // implied action runs anyway; its end record then needs no reserved room,
  // since end records never wait.)
  if ((req.durable_start || log_.write_through()) && !log_.flush(stall_timeout_)) {
    log_.release_end_slot();
    return false;
  }
  return true;
}

void Core::record_end(std::uint64_t id, std::string_view principal, const Request& req, const Verdict& v,
                      const Error* error, std::int64_t duration_ns, std::chrono::system_clock::time_point ts) {
  if (!log_.enabled()) return;
  // Room for it was reserved by the start record.
  (void)log_.push(ActivityLog::Slot::end, stall_timeout_, [&](ActivityRecord& r) {
    fill_record(r, ts, id, ActivityEvent::end, principal, req, v);
    r.outcome.assign(error ? "error" : "ok");
    if (error) {
      assign(r.error, *error);
    } else {
      r.error.reset();
    }
    r.duration_ns = duration_ns;
    r.detail_json.clear();
  });
}

}  // namespace airssys::osl::detail
