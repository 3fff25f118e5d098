// daemoneye_bench — DaemonEye's benchmarks (issue 10, "Performance"; figures
// in docs/BENCHMARKS.md). Prints one JSON object per line.
//
//   scripts/build release daemoneye_bench procmond daemoneye-agent
//   build/release/bench/daemoneye_bench [options] [collect] [store] [rules] [footprint] [latency]
//
// Default scenarios: collect store rules. Run it from the source tree (the
// bundled rules are read from daemoneye/rules) or pass --rules. See
// bench/daemoneye/run.sh for the run the docs record.

#include "children.hpp"
#include "host.hpp"
#include "scenarios.hpp"
#include "stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string_view>
#include <utility>

namespace bench = airssys::daemoneye::bench;

namespace {

constexpr const char* kUsage =
    "usage: daemoneye_bench [options] [collect] [store] [rules] [footprint] [latency] | hold\n"
    "  --sleepers N     extra processes for collect/store/rules (default 10000)\n"
    "  --runs N         collections and ps runs (default 10)\n"
    "  --store-rounds N fresh databases for store (default 5)\n"
    "  --rule-runs N    runs per rule (default 30)\n"
    "  --rules DIR      bundled rules (default daemoneye/rules)\n"
    "  --agent BIN      daemoneye-agent (footprint, latency; procmond beside it)\n"
    "  --ps BIN         the peer (default /bin/ps)\n"
    "  --seconds N      footprint window (default 120)\n"
    "  --warmup N       footprint: seconds before the window (default 30)\n"
    "  --processes N    footprint/latency: processes on the host (default 1000)\n"
    "  --markers N      latency: marker processes (default 20)\n"
    "  --hash-max-size S  footprint/latency: procmond.hash_max_size (0: hash nothing)\n"
    "  hold             only start the sleepers and wait for SIGINT/SIGTERM\n"
    "                   (to profile procmond --once or ps against them)\n";

template <class T>
bool parse_number(std::string_view s, T& out) {
  return std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc{} && out >= 0;
}

// Removes the work directory and everything in it on every return path.
struct WorkDir {
  std::string path;
  ~WorkDir() {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

int main(int argc, char** argv) {
  bench::Options o;
  std::vector<std::string> scenarios;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) return {};
      return argv[++i];
    };
    bool ok = true;
    if (a == "--sleepers") ok = parse_number(value(), o.sleepers);
    else if (a == "--runs") ok = parse_number(value(), o.runs) && o.runs > 0;
    else if (a == "--store-rounds") ok = parse_number(value(), o.store_rounds) && o.store_rounds > 0;
    else if (a == "--rule-runs") ok = parse_number(value(), o.rule_runs) && o.rule_runs > 0;
    else if (a == "--rules") ok = !(o.rules_dir = value()).empty();
    else if (a == "--agent") ok = !(o.agent = value()).empty();
    else if (a == "--ps") ok = !(o.ps = value()).empty();
    else if (a == "--seconds") ok = parse_number(value(), o.seconds) && o.seconds > 0;
    else if (a == "--warmup") ok = parse_number(value(), o.warmup);
    else if (a == "--processes") ok = parse_number(value(), o.processes);
    else if (a == "--markers") ok = parse_number(value(), o.markers) && o.markers > 0;
    else if (a == "--hash-max-size") ok = !(o.hash_max_size = value()).empty();
    else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "collect" || a == "store" || a == "rules" || a == "footprint" || a == "latency" ||
               a == "hold") {
      scenarios.emplace_back(a);
    } else {
      std::fprintf(stderr, "daemoneye_bench: unknown argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "daemoneye_bench: %s needs a valid value\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (scenarios.empty()) scenarios = {"collect", "store", "rules"};
  const std::set<std::string> chosen(scenarios.begin(), scenarios.end());
  bench::install_cleanup_handler();
  // As procmond does: its Collector keeps /proc/PID fds within half the soft
  // limit.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &nofile);
  }

  auto dir = bench::make_temp_dir("daemoneye-bench");
  if (!dir) {
    std::fprintf(stderr, "daemoneye_bench: %s\n", dir.error().c_str());
    return 1;
  }
  WorkDir work{*dir};
  o.work_dir = *dir;
  int failures = 0;
  const auto fail = [&](const char* what, const std::string& error) {
    std::fprintf(stderr, "daemoneye_bench %s: %s\n", what, error.c_str());
    ++failures;
  };

  if (chosen.contains("collect") || chosen.contains("store") || chosen.contains("rules") || chosen.contains("hold")) {
    const std::size_t before = bench::count_processes();
    const std::uint64_t mem_before = bench::mem_available_kib();
    const auto t0 = bench::Clock::now();
    auto sleepers = bench::Sleepers::spawn(o.sleepers);
    if (!sleepers) {
      std::fprintf(stderr, "daemoneye_bench: %s\n", sleepers.error().c_str());
      return 1;
    }
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "\"bench\":\"sleepers\",\"spawned\":%zu,\"spawn_s\":%.2f,\"host_processes_before\":%zu,"
                  "\"host_processes\":%zu,\"mem_available_kib_before\":%llu,\"mem_available_kib\":%llu,\"load\":\"%s\","
                  "\"nofile\":%llu",
                  sleepers->size(), bench::ms_since(t0) / 1000, before, bench::count_processes(),
                  static_cast<unsigned long long>(mem_before),
                  static_cast<unsigned long long>(bench::mem_available_kib()), bench::load_average().c_str(),
                  static_cast<unsigned long long>(nofile.rlim_cur));
    bench::emit(buf);
    if (chosen.contains("hold")) {
      // The cleanup handler ends the sleepers and then this process (no
      // destructor runs, so the empty work dir goes now).
      std::error_code ec;
      std::filesystem::remove_all(std::exchange(work.path, {}), ec);
      for (;;) ::pause();
    }
    std::vector<airssys::daemoneye::ProcessRecord> records;
    if (chosen.contains("collect")) {
      auto r = bench::bench_collect(o);
      if (r) records = std::move(*r);
      else fail("collect", r.error());
    }
    if (records.empty() && (chosen.contains("store") || chosen.contains("rules"))) {
      auto r = bench::collect_records();
      if (r) records = std::move(*r);
      else fail("collect (for store/rules)", r.error());
    }
    if (!records.empty() && chosen.contains("store")) {
      if (auto r = bench::bench_store(o, records); !r) fail("store", r.error());
    }
    if (!records.empty() && chosen.contains("rules")) {
      if (auto r = bench::bench_rules(o, records); !r) fail("rules", r.error());
    }
  }
  if (chosen.contains("footprint")) {
    if (auto r = bench::bench_footprint(o); !r) fail("footprint", r.error());
  }
  if (chosen.contains("latency")) {
    if (auto r = bench::bench_latency(o); !r) fail("latency", r.error());
  }
  return failures == 0 ? 0 : 1;
}
