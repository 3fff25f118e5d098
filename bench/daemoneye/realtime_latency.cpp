// latency: exec → the marker's exec row in process_events, as a reader of
// the store sees it (realtime_scenarios.hpp).

#include "host.hpp"
#include "realtime_scenarios.hpp"
#include "realtime_spawn.hpp"
#include "realtime_store.hpp"
#include "stats.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <unordered_map>

namespace airssys::daemoneye::bench {

namespace {

// Nearest rank: the smallest value with at least p % of the values at or below it.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::max<std::size_t>(rank, 1) - 1];
}

std::string pct_json(const std::string& prefix, const std::vector<double>& v) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "\"%s_n\":%zu,\"%s_p50\":%.3f,\"%s_p99\":%.3f,\"%s_max\":%.3f", prefix.c_str(),
                v.size(), prefix.c_str(), percentile(v, 50), prefix.c_str(), percentile(v, 99), prefix.c_str(),
                percentile(v, 100));
  return buf;
}

void sleep_ns(std::int64_t ns) {
  if (ns <= 0) return;
  timespec ts{.tv_sec = static_cast<time_t>(ns / 1'000'000'000), .tv_nsec = static_cast<long>(ns % 1'000'000'000)};
  ::nanosleep(&ts, nullptr);
}

}  // namespace

std::expected<void, std::string> bench_rt_latency(const RealtimeOptions& o, const TierAgent& a, TierSummary& out) {
  const std::string prefix = "rtb" + std::to_string(::getpid()) + "-" + a.tier + "-l";
  std::unordered_map<std::string, std::size_t> index;  // the exec row's cmdline → marker
  std::vector<std::vector<std::string>> argvs;
  for (int i = 0; i < o.markers; ++i) {
    char b[16];
    std::snprintf(b, sizeof b, "%04d", i);
    argvs.push_back({"/bin/true", prefix + b});
    index.emplace("/bin/true " + prefix + b, static_cast<std::size_t>(i));
  }
  auto reader = StoreReader::open(a.db);
  if (!reader) return std::unexpected(reader.error());
  auto last = reader->rows_after(0, [](const EventRow&) {});
  if (!last) return std::unexpected(last.error());
  auto before = a.procmond_status();
  if (!before) return std::unexpected(before.error());

  const auto n = static_cast<std::size_t>(o.markers);
  std::vector<std::int64_t> spawned(n, 0), seen(n, 0), kernel(n, 0);
  std::size_t found = 0, next = 0;
  const std::int64_t spacing = static_cast<std::int64_t>(o.spacing_ms) * 1'000'000;
  std::int64_t next_at = realtime_ns();
  std::int64_t give_up = 0;  // set after the last spawn
  ShortChildren kids;
  std::size_t polls = 0;
  for (;;) {
    if (next < n && realtime_ns() >= next_at) {
      spawned[next] = realtime_ns();
      if (auto p = kids.spawn(argvs[next]); !p) return std::unexpected(p.error());
      ++next;
      next_at += spacing;
      if (next == n) give_up = realtime_ns() + 10'000'000'000;
    }
    ++polls;
    auto l = reader->rows_after(*last, [&](const EventRow& r) {
      if (r.event != "exec") return;
      const auto it = index.find(r.cmdline);
      if (it == index.end() || seen[it->second] != 0) return;
      seen[it->second] = realtime_ns();
      kernel[it->second] = r.time_ns;
      ++found;
    });
    if (!l) return std::unexpected(l.error());
    *last = *l;
    kids.reap();
    if (found == n || (give_up != 0 && realtime_ns() > give_up)) break;
    sleep_ns(next < n ? std::min<std::int64_t>(1'000'000, next_at - realtime_ns()) : 1'000'000);
  }
  kids.reap_all();
  std::vector<double> total, to_kernel, kernel_to_row;
  for (std::size_t i = 0; i < n; ++i) {
    if (seen[i] == 0) continue;
    total.push_back(static_cast<double>(seen[i] - spawned[i]) / 1e6);
    if (kernel[i] > 0) {
      to_kernel.push_back(static_cast<double>(kernel[i] - spawned[i]) / 1e6);
      kernel_to_row.push_back(static_cast<double>(seen[i] - kernel[i]) / 1e6);
    }
  }
  auto after = a.procmond_status_after(static_cast<std::int64_t>(std::time(nullptr)));
  if (!after) return std::unexpected(after.error());
  emit("\"bench\":\"rt_latency\",\"tier\":\"" + a.tier + "\",\"markers\":" + std::to_string(n) +
       ",\"spacing_ms\":" + std::to_string(o.spacing_ms) + ",\"found\":" + std::to_string(found) +
       ",\"polls\":" + std::to_string(polls) + "," + pct_json("spawn_to_row_ms", total) + "," +
       pct_json("spawn_to_kernel_ms", to_kernel) + "," + pct_json("kernel_to_row_ms", kernel_to_row) +
       ",\"load\":\"" + load_average() + "\"," + sources_json(counters_delta(*before, *after)));
  out.lat_markers = o.markers;
  out.lat_found = static_cast<int>(found);
  out.lat_p50 = percentile(total, 50);
  out.lat_p99 = percentile(total, 99);
  out.lat_max = percentile(total, 100);
  return {};
}

}  // namespace airssys::daemoneye::bench
