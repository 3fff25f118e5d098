#include "core/op_metrics.hpp"

#include <algorithm>

namespace airssys::osl {

std::string_view to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::ok: return "ok";
    case Outcome::error: return "error";
    case Outcome::denied: return "denied";
    case Outcome::invalid: return "invalid";
    case Outcome::audit_stalled: return "audit_stalled";
  }
  return "unknown";
}

const OperationMetrics* MetricsSnapshot::find(OpKind op, Outcome outcome) const noexcept {
  auto it = std::find_if(operations.begin(), operations.end(),
                         [&](const OperationMetrics& m) { return m.op == op && m.outcome == outcome; });
  return it == operations.end() ? nullptr : &*it;
}

}  // namespace airssys::osl

namespace airssys::osl::detail {

void OpMetrics::record(OpKind op, Outcome outcome, std::int64_t duration_ns) noexcept {
  const std::int64_t ns = std::max<std::int64_t>(duration_ns, 0);
  Cell& c = cells_[static_cast<std::size_t>(op)][static_cast<std::size_t>(outcome)];
  c.buckets[latency_bucket(ns)].fetch_add(1, std::memory_order_relaxed);
  c.sum_ns.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

MetricsSnapshot OpMetrics::snapshot() const {
  MetricsSnapshot s;
  for (std::size_t k = 0; k < kOpKindCount; ++k) {
    for (std::size_t o = 0; o < kOutcomeCount; ++o) {
      const Cell& c = cells_[k][o];
      OperationMetrics m{.op = static_cast<OpKind>(k), .outcome = static_cast<Outcome>(o)};
      std::uint64_t running = 0;
      for (std::size_t b = 0; b < c.buckets.size(); ++b) {
        running += c.buckets[b].load(std::memory_order_relaxed);
        m.cumulative_buckets[b] = running;
      }
      if (running == 0) continue;
      m.count = running;
      m.sum_ns = c.sum_ns.load(std::memory_order_relaxed);
      s.operations.push_back(m);
    }
  }
  return s;
}

}  // namespace airssys::osl::detail
