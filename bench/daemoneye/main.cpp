// daemoneye_bench — DaemonEye's benchmarks (issue 10, "Performance"; figures
// in docs/BENCHMARKS.md). Prints one JSON object per line.
//
//   scripts/build release daemoneye_bench procmond daemoneye-agent
//   build/release/bench/daemoneye_bench [options] [collect] [store] [rules] [footprint] [latency] [exceptions] [accounts]
//
// Default scenarios: collect store rules. Run it from the source tree (the
// bundled rules are read from daemoneye/rules) or pass --rules. See
// bench/daemoneye/run.sh for the run the docs record.

#include "args.hpp"
#include "children.hpp"
#include "host.hpp"
#include "scenarios.hpp"
#include "stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <optional>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string_view>
#include <utility>

namespace bench = airssys::daemoneye::bench;

namespace {

constexpr const char* kUsage =
    "usage: daemoneye_bench [options] [collect] [store] [rules] [footprint] [latency] [exceptions] [accounts] | hold\n"
    "  --sleepers N     extra processes for collect/store/rules (default 10000)\n"
    "  --runs N         collections and ps runs (default 10)\n"
    "  --store-rounds N fresh databases for store (default 5)\n"
    "  --rule-runs N    runs per rule; exceptions: runs per variant (default 30)\n"
    "  --exc-processes N  exceptions: synthetic processes (default 5000)\n"
    "  --exc-events N   exceptions: synthetic exec events (default 50000)\n"
    "  --acc-entries N  accounts: users and groups in the synthetic files (default 5000)\n"
    "  --acc-processes N  accounts: processes in the snapshot (default 1000)\n"
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

}  // namespace

int main(int argc, char** argv) {
  bench::Options o;
  std::vector<std::string> scenarios;
  using bench::parse_number;
  constexpr std::string_view kScenarios[] = {"collect", "store", "rules", "footprint", "latency", "exceptions", "accounts", "hold"};
  const auto flag = [&](std::string_view a, const bench::NextArg& value) -> std::optional<bool> {
    if (a == "--sleepers") return parse_number(value(), o.sleepers);
    if (a == "--runs") return parse_number(value(), o.runs) && o.runs > 0;
    if (a == "--store-rounds") return parse_number(value(), o.store_rounds) && o.store_rounds > 0;
    if (a == "--rule-runs") return parse_number(value(), o.rule_runs) && o.rule_runs > 0;
    if (a == "--rules") return !(o.rules_dir = value()).empty();
    if (a == "--agent") return !(o.agent = value()).empty();
    if (a == "--ps") return !(o.ps = value()).empty();
    if (a == "--seconds") return parse_number(value(), o.seconds) && o.seconds > 0;
    if (a == "--warmup") return parse_number(value(), o.warmup);
    if (a == "--processes") return parse_number(value(), o.processes);
    if (a == "--markers") return parse_number(value(), o.markers) && o.markers > 0;
    if (a == "--hash-max-size") return !(o.hash_max_size = value()).empty();
    if (a == "--exc-processes") return parse_number(value(), o.exc_processes) && o.exc_processes > 0;
    if (a == "--exc-events") return parse_number(value(), o.exc_events);
    if (a == "--acc-entries") return parse_number(value(), o.acc_entries) && o.acc_entries > 0;
    if (a == "--acc-processes") return parse_number(value(), o.acc_processes);
    return std::nullopt;
  };
  if (auto stop = bench::parse_args(argc, argv, "daemoneye_bench", kUsage, kScenarios, scenarios, flag)) return *stop;
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
  bench::WorkDir work{*dir};
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
  if (chosen.contains("exceptions")) {
    if (auto r = bench::bench_exceptions(o); !r) fail("exceptions", r.error());
  }
  if (chosen.contains("accounts")) {
    if (auto r = bench::bench_accounts(o); !r) fail("accounts", r.error());
  }
  return failures == 0 ? 0 : 1;
}
