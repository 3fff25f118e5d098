// The closing table of daemoneye_realtime_bench (the JSON lines above it
// carry every figure; this is what a person reads first).

#include "realtime_scenarios.hpp"

#include <cstdio>

namespace airssys::daemoneye::bench {

namespace {

std::string count(long found, std::size_t of) {
  if (found < 0) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%ld/%zu", found, of);
  return b;
}

std::string num(double v, int decimals = 1) {
  if (v < 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

}  // namespace

void print_table(const std::vector<TierSummary>& rows, std::size_t processes, std::FILE* to) {
  std::fprintf(to, "# %-15s %-11s %-11s %-22s %-10s %-19s %-19s %-9s %-9s %s\n", "tier", "exit-now", "~5ms",
               "latency p50/p99/max ms", "found", "cpu% procmond idle/load", "cpu% agent idle/load", "execs/s",
               "gen cpu%", "dropped/lost");
  for (const auto& r : rows) {
    const std::string lat = r.lat_found < 0 ? "-" : num(r.lat_p50) + "/" + num(r.lat_p99) + "/" + num(r.lat_max);
    const std::string found = r.lat_found < 0 ? "-" : count(r.lat_found, static_cast<std::size_t>(r.lat_markers));
    std::fprintf(to, "# %-15s %-11s %-11s %-22s %-10s %-19s %-19s %-9s %-9s %llu/%llu%s%s\n", r.tier.c_str(),
                 count(r.cov_exit, processes).c_str(), count(r.cov_short, processes).c_str(), lat.c_str(), found.c_str(),
                 (num(r.idle_procmond, 2) + "/" + num(r.cpu_procmond, 2)).c_str(),
                 (num(r.idle_agent, 2) + "/" + num(r.cpu_agent, 2)).c_str(), num(r.rate, 0).c_str(),
                 num(r.cpu_generator).c_str(), r.dropped, r.lost, r.error.empty() ? "" : "  ERROR: ", r.error.c_str());
  }
  std::fflush(to);
}

}  // namespace airssys::daemoneye::bench
