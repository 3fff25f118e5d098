// to_prometheus(): the Prometheus text exposition format, version 0.0.4.
// Label values are operation and outcome names from closed sets (no quotes,
// backslashes or newlines), so they need no escaping.

#include <airssys/osl/metrics.hpp>

#include <fmt/format.h>

namespace airssys::osl {

namespace {
// Bounds are exact decimal fractions of a second (1000·2^i ns); fmt's
// shortest round-trip form prints them without noise ("1e-06", "0.008192").
std::string seconds(std::uint64_t ns) { return fmt::format("{}", static_cast<double>(ns) / 1e9); }
}  // namespace

std::string to_prometheus(const MetricsSnapshot& snapshot) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "# HELP airssys_osl_operations_total Operations run through the osl pipeline, by kind and "
                 "outcome.\n"
                 "# TYPE airssys_osl_operations_total counter\n");
  for (const OperationMetrics& m : snapshot.operations) {
    fmt::format_to(it, "airssys_osl_operations_total{{op=\"{}\",outcome=\"{}\"}} {}\n", to_string(m.op),
                   to_string(m.outcome), m.count);
  }
  fmt::format_to(it,
                 "# HELP airssys_osl_operation_duration_seconds Time from the policy check to the result, "
                 "by kind and outcome.\n"
                 "# TYPE airssys_osl_operation_duration_seconds histogram\n");
  for (const OperationMetrics& m : snapshot.operations) {
    const std::string_view op = to_string(m.op);
    const std::string_view outcome = to_string(m.outcome);
    for (std::size_t b = 0; b < kLatencyBucketCount; ++b) {
      fmt::format_to(it, "airssys_osl_operation_duration_seconds_bucket{{op=\"{}\",outcome=\"{}\",le=\"{}\"}} {}\n",
                     op, outcome, seconds(latency_bucket_bound_ns(b)), m.cumulative_buckets[b]);
    }
    fmt::format_to(it, "airssys_osl_operation_duration_seconds_bucket{{op=\"{}\",outcome=\"{}\",le=\"+Inf\"}} {}\n",
                   op, outcome, m.cumulative_buckets[kLatencyBucketCount]);
    fmt::format_to(it, "airssys_osl_operation_duration_seconds_sum{{op=\"{}\",outcome=\"{}\"}} {}\n", op, outcome,
                   seconds(m.sum_ns));
    fmt::format_to(it, "airssys_osl_operation_duration_seconds_count{{op=\"{}\",outcome=\"{}\"}} {}\n", op,
                   outcome, m.count);
  }
  return out;
}

}  // namespace airssys::osl
