#pragma once
// detail::OpMetrics — the counters behind System::metrics().
//
// One cell per (operation kind, outcome), all allocated up front: record() is
// a bucket index computation and two relaxed atomic increments, safe from any
// number of threads, no lock, no allocation. The count is not kept apart
// from the buckets: a snapshot derives it from them, so a series' count always
// equals its histogram count even while operations are being recorded.

#include <airssys/osl/metrics.hpp>

#include <atomic>
#include <bit>
#include <cstdint>

namespace airssys::osl::detail {

// Index into the buckets: the first bound ≥ ns, or kLatencyBucketCount for +Inf.
[[nodiscard]] constexpr std::size_t latency_bucket(std::int64_t ns) noexcept {
  if (ns <= 1000) return 0;
  // Whole microseconds, rounded up: ns ≤ 1000·2^i ⇔ ceil(ns/1000) ≤ 2^i.
  const auto us = (static_cast<std::uint64_t>(ns) + 999) / 1000;
  const auto i = static_cast<std::size_t>(std::bit_width(us - 1));
  return i < kLatencyBucketCount ? i : kLatencyBucketCount;
}

class OpMetrics {
 public:
  void record(OpKind op, Outcome outcome, std::int64_t duration_ns) noexcept;
  [[nodiscard]] MetricsSnapshot snapshot() const;

 private:
  struct Cell {
    std::array<std::atomic<std::uint64_t>, kLatencyBucketCount + 1> buckets{};  // not cumulative
    std::atomic<std::uint64_t> sum_ns{0};
  };
  std::array<std::array<Cell, kOutcomeCount>, kOpKindCount> cells_{};
};

}  // namespace airssys::osl::detail
