// coverage: how many of N processes (exiting at once, or living ~5 ms) the
// tier records with their full argv (realtime_scenarios.hpp).

#include "host.hpp"
#include "realtime_scenarios.hpp"
#include "realtime_spawn.hpp"
#include "realtime_store.hpp"
#include "stats.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <set>
#include <thread>
#include <unordered_map>

namespace airssys::daemoneye::bench {

using namespace std::chrono_literals;

namespace {

struct Group {
  std::string name;    // "exit" | "short"
  std::string prefix;  // marker prefix of this group
  std::vector<std::vector<std::string>> argvs;
};

std::string marker(const std::string& prefix, std::size_t i) {
  char b[16];
  std::snprintf(b, sizeof b, "%04zu", i);
  return prefix + b;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Rows holding `needle`, counted until the count has not changed for 2 s
// (and at least 3 s after the last process ended: two 1 s scans), at most 40 s.
std::expected<std::size_t, std::string> settle(StoreReader& r, const std::string& needle) {
  std::this_thread::sleep_for(3s);
  std::size_t last = static_cast<std::size_t>(-1);
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < 40s) {
    std::size_t n = 0;
    if (auto c = r.rows_containing(needle, "", [&](const EventRow&) { ++n; }); !c) return std::unexpected(c.error());
    if (n == last) return n;
    last = n;
    std::this_thread::sleep_for(2s);
  }
  return last;
}

}  // namespace

std::expected<void, std::string> bench_coverage(const RealtimeOptions& o, const TierAgent& a, TierSummary& out) {
  const std::string base = "rtb" + std::to_string(::getpid()) + "-" + a.tier + "-";
  std::vector<Group> groups{{"exit", base + "x", {}}, {"short", base + "s", {}}};
  for (std::size_t i = 0; i < o.processes; ++i) {
    groups[0].argvs.push_back({"/bin/true", marker(groups[0].prefix, i)});
    groups[1].argvs.push_back({o.self, "--child-sleep-ms", std::to_string(o.short_ms), marker(groups[1].prefix, i)});
  }
  auto before = a.procmond_status();
  if (!before) return std::unexpected(before.error());
  auto reader = StoreReader::open(a.db);
  if (!reader) return std::unexpected(reader.error());

  for (auto& g : groups) {
    std::int64_t start_id = 0;
    if (auto l = reader->rows_after(0, [](const EventRow&) {}); l) start_id = *l;
    else return std::unexpected(l.error());
    ShortChildren kids;
    const auto t0 = Clock::now();
    for (const auto& argv : g.argvs) {
      if (auto p = kids.spawn(argv); !p) return std::unexpected(p.error());
      kids.reap();
    }
    const double spawn_s = ms_since(t0) / 1000.0;
    kids.reap_all();
    const double all_ended_s = ms_since(t0) / 1000.0;
    auto settled = settle(*reader, g.prefix);
    if (!settled) return std::unexpected(settled.error());

    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < g.argvs.size(); ++i) index.emplace(joined(g.argvs[i]), i);
    std::set<std::size_t> exec_full, any_full;
    std::size_t rows = 0, exec_rows = 0, exec_other = 0;
    std::unordered_map<std::string, std::size_t> by_event_source;
    auto c = reader->rows_containing(g.prefix, "", [&](const EventRow& r) {
      ++rows;
      ++by_event_source[r.event + "/" + r.source];
      const auto it = index.find(r.cmdline);
      if (r.event == "exec") ++exec_rows;
      if (it == index.end()) {
        if (r.event == "exec") ++exec_other;
        return;
      }
      any_full.insert(it->second);
      if (r.event == "exec") exec_full.insert(it->second);
    });
    if (!c) return std::unexpected(c.error());
    // Exec rows of the window without this group's marker, by what they
    // hold: a marker whose exec row is there with another cmdline (argv not
    // read before the process ended) shows up as "empty" or "bench" (the
    // parent's argv, inherited at fork). "other" is the rest of the host.
    std::unordered_map<std::string, std::size_t> unmarked;
    const std::string self_name = o.self.substr(o.self.rfind('/') + 1);
    auto u = reader->rows_after(start_id, [&](const EventRow& r) {
      if (r.event != "exec" || r.cmdline.find(g.prefix) != std::string::npos) return;
      if (r.cmdline.empty()) ++unmarked["empty"];
      else if (r.cmdline.find(self_name) != std::string::npos) ++unmarked["bench"];
      else if (r.cmdline.starts_with("/bin/true") || r.cmdline == "true") ++unmarked["true"];
      else ++unmarked["other"];
    });
    if (!u) return std::unexpected(u.error());
    std::string samples;
    for (const auto& [k, n] : unmarked) samples += (samples.empty() ? "" : ",") + json_string(k) + ":" + std::to_string(n);
    std::string kinds;
    for (const auto& [k, n] : by_event_source) kinds += (kinds.empty() ? "" : ",") + json_string(k) + ":" + std::to_string(n);
    char buf[768];
    std::snprintf(buf, sizeof buf,
                  "\"bench\":\"rt_coverage\",\"tier\":\"%s\",\"group\":\"%s\",\"processes\":%zu,\"child_failures\":%zu,"
                  "\"spawn_s\":%.2f,\"all_ended_s\":%.2f,\"recorded_exec_full_argv\":%zu,\"recorded_any_full_argv\":%zu,"
                  "\"rows\":%zu,\"exec_rows\":%zu,\"exec_rows_other_cmdline\":%zu,\"load\":\"%s\",",
                  a.tier.c_str(), g.name.c_str(), g.argvs.size(), kids.failed(), spawn_s, all_ended_s, exec_full.size(),
                  any_full.size(), rows, exec_rows, exec_other, load_average().c_str());
    emit(buf + std::string("\"rows_by_event_source\":{") + kinds + "},\"exec_rows_without_marker\":{" + samples + "}");
    (g.name == "exit" ? out.cov_exit : out.cov_short) = static_cast<long>(exec_full.size());
    (g.name == "exit" ? out.cov_exit_any : out.cov_short_any) = static_cast<long>(any_full.size());
  }
  auto after = a.procmond_status_after(static_cast<std::int64_t>(std::time(nullptr)));
  if (!after) return std::unexpected(after.error());
  emit("\"bench\":\"rt_coverage_counters\",\"tier\":\"" + a.tier + "\"," + sources_json(counters_delta(*before, *after)));
  return {};
}

}  // namespace airssys::daemoneye::bench
