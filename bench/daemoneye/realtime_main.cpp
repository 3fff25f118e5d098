// daemoneye_realtime_bench — DaemonEye's real-time process events (issue 11,
// "Performance"; figures in docs/BENCHMARKS.md): coverage of short-lived
// processes, exec → process_events latency and procmond's CPU under an exec
// load, for each event tier (polling at 1 s, proc connector, eBPF), with
// the real daemoneye-agent and procmond. One JSON object per line on
// stdout, a table on stderr at the end. Root only (the kernel tiers need it).
//
//   scripts/build release daemoneye_realtime_bench procmond daemoneye-agent
//   build/release/bench/daemoneye_realtime_bench --agent build/release/daemoneye/daemoneye-agent [coverage] [latency] [cost]
//
// See bench/daemoneye/realtime.sh for the run the docs record.
//
// Every process it starts is ended by pid on every path; SIGINT/SIGTERM/
// SIGHUP end the agent (and so procmond) and the load generators through
// children.hpp's handler, which then re-raises the signal, so the temp dir
// is left to the caller: realtime.sh runs it with TMPDIR in a dir it removes.

#include "args.hpp"
#include "children.hpp"
#include "host.hpp"
#include "realtime_agent.hpp"
#include "realtime_scenarios.hpp"
#include "stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <climits>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>
#include <string_view>
#include <thread>

namespace bench = airssys::daemoneye::bench;

namespace {

constexpr const char* kUsage =
    "usage: daemoneye_realtime_bench --agent BIN [options] [coverage] [latency] [cost] [exec]   (root only)\n"
    "  --tiers LIST          comma-separated, of poll,proc_connector,ebpf (default all three)\n"
    "  --latency-tiers LIST  tiers the latency scenario runs on (default proc_connector,ebpf)\n"
    "  --processes N         coverage: processes per group (default 1000)\n"
    "  --short-ms N          coverage: life of the short processes (default 5)\n"
    "  --markers N           latency: markers (default 300)\n"
    "  --spacing-ms N        latency: between markers (default 20)\n"
    "  --rate N              cost: execs per second asked for (default 2000)\n"
    "  --seconds N           cost: load window (default 10)\n"
    "  --generators N        cost: load processes sharing the rate (default 1)\n"
    "  --idle-seconds N      cost: idle window before the load (default 5)\n"
    "  --execs N             exec: execs per mode and working directory (default 2000)\n"
    "  --exec-rounds N       exec: rounds of every mode (default 3)\n"
    "  --cwd-depth N         exec: levels of the deep working directory (default 32)\n"
    "  --child-sleep-ms N MARKER   (internal) sleep N ms and exit 0: a short process with a marker argv\n";

bool parse_tiers(std::string_view s, std::vector<std::string>& out) {
  out.clear();
  while (!s.empty()) {
    const auto comma = s.find(',');
    const std::string t(s.substr(0, comma));
    if (t != "poll" && t != "proc_connector" && t != "ebpf") return false;
    out.push_back(t);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  return !out.empty();
}

int child_sleep(std::string_view ms) {
  int n = 0;
  if (!bench::parse_number(ms, n)) return 2;
  std::this_thread::sleep_for(std::chrono::milliseconds(n));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == "--child-sleep-ms") return child_sleep(argv[2]);
  bench::RealtimeOptions o;
  std::vector<std::string> scenarios;
  using bench::parse_number;
  constexpr std::string_view kScenarios[] = {"coverage", "latency", "cost", "exec"};
  const auto flag = [&](std::string_view a, const bench::NextArg& value) -> std::optional<bool> {
    if (a == "--agent") return !(o.agent = value()).empty();
    if (a == "--tiers") return parse_tiers(value(), o.tiers);
    if (a == "--latency-tiers") return parse_tiers(value(), o.latency_tiers);
    if (a == "--processes") return parse_number(value(), o.processes) && o.processes > 0 && o.processes <= 10000;
    if (a == "--short-ms") return parse_number(value(), o.short_ms);
    if (a == "--markers") return parse_number(value(), o.markers) && o.markers > 0 && o.markers <= 10000;
    if (a == "--spacing-ms") return parse_number(value(), o.spacing_ms) && o.spacing_ms > 0;
    if (a == "--rate") return parse_number(value(), o.rate) && o.rate >= 1;
    if (a == "--seconds") return parse_number(value(), o.seconds) && o.seconds > 0;
    if (a == "--generators") return parse_number(value(), o.generators) && o.generators > 0 && o.generators <= 16;
    if (a == "--idle-seconds") return parse_number(value(), o.idle_seconds);
    if (a == "--execs") return parse_number(value(), o.execs) && o.execs > 0;
    if (a == "--exec-rounds") return parse_number(value(), o.exec_rounds) && o.exec_rounds > 0;
    if (a == "--cwd-depth") return parse_number(value(), o.cwd_depth) && o.cwd_depth > 0 && o.cwd_depth <= 200;
    return std::nullopt;
  };
  if (auto stop = bench::parse_args(argc, argv, "daemoneye_realtime_bench", kUsage, kScenarios, scenarios, flag))
    return *stop;
  if (::geteuid() != 0) {
    std::fputs("daemoneye_realtime_bench: run it as root (the eBPF and proc connector tiers need it)\n", stderr);
    return 2;
  }
  if (o.agent.empty()) {
    std::fprintf(stderr, "daemoneye_realtime_bench: --agent BIN is required\n%s", kUsage);
    return 2;
  }
  std::error_code ec;
  o.self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) {
    std::fprintf(stderr, "daemoneye_realtime_bench: /proc/self/exe: %s\n", ec.message().c_str());
    return 1;
  }
  if (scenarios.empty()) scenarios = {"coverage", "latency", "cost"};
  const std::set<std::string> chosen(scenarios.begin(), scenarios.end());
  bench::install_cleanup_handler();

  auto dir = bench::make_temp_dir("daemoneye-rt-bench");
  if (!dir) {
    std::fprintf(stderr, "daemoneye_realtime_bench: %s\n", dir.error().c_str());
    return 1;
  }
  bench::WorkDir work{*dir};
  o.work_dir = *dir;
  {
    // Private copies of the agent and its procmond (static release binaries):
    // another engineer's build relinking them mid-run must not swap or remove
    // what the next tier starts.
    namespace fs = std::filesystem;
    const fs::path bin = fs::path(o.work_dir) / "bin";
    const fs::path from = fs::path(o.agent).parent_path();
    fs::create_directory(bin, ec);
    for (const char* name : {"daemoneye-agent", "procmond"}) {
      if (!ec) fs::copy_file(from / name, bin / name, ec);
      if (!ec) fs::permissions(bin / name, fs::perms::owner_all, ec);
    }
    if (ec) {
      std::fprintf(stderr, "daemoneye_realtime_bench: copying %s and procmond beside it: %s\n", o.agent.c_str(),
                   ec.message().c_str());
      return 1;
    }
    o.agent = (bin / "daemoneye-agent").string();
  }
  int failures = 0;
  std::vector<bench::TierSummary> table;
  const auto fail = [&](bench::TierSummary& row, const char* what, const std::string& error) {
    std::fprintf(stderr, "daemoneye_realtime_bench %s %s: %s\n", row.tier.c_str(), what, error.c_str());
    row.error += (row.error.empty() ? "" : "; ") + std::string(what) + " failed";
    ++failures;
  };

  if (chosen.contains("exec")) {
    if (auto r = bench::bench_exec(o); !r) {
      std::fprintf(stderr, "daemoneye_realtime_bench exec: %s\n", r.error().c_str());
      ++failures;
    }
    // exec alone: no tier to run the other scenarios on.
    if (chosen.size() == 1) return failures == 0 ? 0 : 1;
  }
  if (chosen.contains("cost")) {
    bench::TierSummary row{.tier = "none"};
    if (auto r = bench::bench_cost(o, nullptr, row); !r) fail(row, "cost", r.error());
    table.push_back(row);
  }
  for (const auto& tier : o.tiers) {
    bench::TierSummary row{.tier = tier};
    auto agent = bench::TierAgent::start(o.agent, o.work_dir, tier);
    if (!agent) {
      fail(row, "start", agent.error());
      table.push_back(row);
      continue;
    }
    bench::emit("\"bench\":\"rt_tier\",\"tier\":\"" + tier + "\",\"agent\":" + std::to_string(agent->agent.pid()) +
                ",\"procmond\":" + std::to_string(agent->procmond) + ",\"load\":\"" + bench::load_average() + "\"");
    auto first = agent->procmond_status();
    if (chosen.contains("coverage")) {
      if (auto r = bench::bench_coverage(o, *agent, row); !r) fail(row, "coverage", r.error());
    }
    const bool latency_here =
        std::find(o.latency_tiers.begin(), o.latency_tiers.end(), tier) != o.latency_tiers.end();
    if (chosen.contains("latency") && latency_here) {
      if (auto r = bench::bench_rt_latency(o, *agent, row); !r) fail(row, "latency", r.error());
    }
    if (chosen.contains("cost")) {
      if (auto r = bench::bench_cost(o, &*agent, row); !r) fail(row, "cost", r.error());
    }
    auto last = agent->procmond_status_after(static_cast<std::int64_t>(std::time(nullptr)));
    if (first && last) {
      const auto d = bench::counters_delta(*first, *last);
      for (const auto& s : d.sources) {
        row.dropped += s.dropped;
        row.lost += s.lost;
      }
      bench::emit("\"bench\":\"rt_tier_counters\",\"tier\":\"" + tier + "\",\"procmond_tier\":\"" +
                  std::string(airssys::daemoneye::to_string(last->tier)) + "\",\"tier_reason\":" +
                  bench::json_string(last->tier_reason) + ",\"budget_per_second\":" +
                  std::to_string(last->budget_per_second) + "," + bench::sources_json(d));
    }
    if (!agent->alive()) fail(row, "agent", "daemoneye-agent ended during the run:\n" + agent->log_tail());
    table.push_back(row);
  }
  bench::print_table(table, o.processes, stderr);
  return failures == 0 ? 0 : 1;
}
