#pragma once
// osl metrics — per-operation counters and latency histograms.
//
// Every operation a System runs (policy check, audit records and executor,
// refusals included) is counted once, by operation kind and outcome, and its
// latency goes into a fixed histogram. System::metrics() returns a snapshot
// as plain values; to_prometheus() prints one in the Prometheus text format.
//
// Cost and threads: recording is a few relaxed atomic increments on
// counters preallocated inside the System — no lock, no allocation per
// operation. A snapshot may be taken from any thread at any time; it reads
// each counter once, so a snapshot taken while operations run can be a few
// operations behind in one series compared with another, but every series is
// internally consistent: its count is the sum of its buckets.

#include <airssys/osl/operation_kind.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl {

// How an operation ended, in the words of its activity records.
enum class Outcome : std::uint8_t {
  ok,             // executed, succeeded (end record outcome "ok")
  error,          // executed, the executor failed (end record outcome "error")
  denied,         // refused by the policy (denied record outcome "denied")
  invalid,        // refused before executing: malformed, or its resource could not be resolved ("invalid")
  audit_stalled,  // allowed, but not executed because its start record could not be queued
};
inline constexpr std::size_t kOutcomeCount = 5;

// "ok", "error", "denied", "invalid", "audit_stalled"
[[nodiscard]] std::string_view to_string(Outcome o) noexcept;

// Histogram buckets: upper bounds 1 µs, 2 µs, 4 µs, … 2^24 µs (≈16.8 s),
// then +Inf. An operation of d lands in the first bucket whose bound is ≥ d.
inline constexpr std::size_t kLatencyBucketCount = 25;  // finite bounds; +Inf comes after
[[nodiscard]] constexpr std::uint64_t latency_bucket_bound_ns(std::size_t i) noexcept {
  return std::uint64_t{1000} << i;
}

struct OperationMetrics {
  OpKind op;
  Outcome outcome;
  std::uint64_t count = 0;   // operations; equals cumulative_buckets.back()
  std::uint64_t sum_ns = 0;  // total latency
  // cumulative_buckets[i] = operations with latency ≤ latency_bucket_bound_ns(i);
  // the last entry is +Inf (= count). Non-decreasing, as Prometheus expects.
  std::array<std::uint64_t, kLatencyBucketCount + 1> cumulative_buckets{};
};

struct MetricsSnapshot {
  // One entry per (op, outcome) that has counted at least one operation,
  // ordered by OpKind, then Outcome.
  std::vector<OperationMetrics> operations;

  [[nodiscard]] const OperationMetrics* find(OpKind op, Outcome outcome) const noexcept;
};

// The snapshot in the Prometheus text exposition format (version 0.0.4):
//   airssys_osl_operations_total{op="fs.read",outcome="ok"} 3
//   airssys_osl_operation_duration_seconds_bucket{op="fs.read",outcome="ok",le="1e-06"} 0
//   … _bucket{…,le="+Inf"}, _sum (seconds), _count
// Each metric family has its HELP and TYPE lines, even when empty.
[[nodiscard]] std::string to_prometheus(const MetricsSnapshot& snapshot);

}  // namespace airssys::osl
