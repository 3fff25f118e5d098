#pragma once
// The real-time event benchmark (issue 11, "Performance"), per event tier:
//
//  coverage  `processes` x /bin/true MARKER (exits at once) and `processes`
//            x this program re-run as `--child-sleep-ms 5 MARKER` (lives
//            ~5 ms), each spawned back to back; then, once the store is
//            quiet, how many markers have an `exec` row in process_events
//            whose cmdline is exactly the argv started (marker included).
//  latency   `markers` x /bin/true MARKER, one every `spacing_ms`: the wall
//            time (CLOCK_REALTIME) from just before posix_spawn to the
//            moment a read-only connection polling process_events (id > last,
//            every ~1 ms) first returns the marker's exec row.
//  cost      /bin/true at `rate` per second for `seconds` from `generators`
//            forked load generators; CPU of procmond and of the agent
//            (utime+stime of /proc/PID/stat over the window, % of one core),
//            beside the same load with no monitor ("none"), with the rate
//            reached and the generators' own CPU.
//  exec      (not per tier; not in the default set) `execs` x
//            /usr/bin/true one after another, each timed, with nothing of
//            ours attached, with the eBPF source opened in this program
//            without and with the exec program's path walks, and under the
//            real agent + procmond on ebpf; per mode the programs' own
//            run_time_ns / run_cnt (realtime_exec.cpp), `exec_rounds` times.
//
// Each prints JSON lines (stats.hpp) and fills a TierSummary for the table.

#include "realtime_agent.hpp"

#include <cstdio>
#include <expected>
#include <string>
#include <vector>

namespace airssys::daemoneye::bench {

struct RealtimeOptions {
  std::string agent;                 // daemoneye-agent (procmond beside it)
  std::string self;                  // this program, re-run for the ~5 ms children
  std::vector<std::string> tiers{"poll", "proc_connector", "ebpf"};
  std::vector<std::string> latency_tiers{"proc_connector", "ebpf"};
  std::size_t processes = 1000;      // coverage: per group
  int short_ms = 5;                  // coverage: life of the short children
  int markers = 300;                 // latency
  int spacing_ms = 20;               // latency
  double rate = 2000;                // cost: execs per second asked for
  int seconds = 10;                  // cost: load window
  int generators = 1;                // cost: load processes sharing the rate
  int idle_seconds = 5;              // cost: idle window before the load
  int execs = 2000;                  // exec: per mode and working directory
  int exec_rounds = 3;               // exec: rounds of every mode
  int cwd_depth = 32;                // exec: levels of the deep working directory
  std::string work_dir;
};

struct TierSummary {
  std::string tier;
  std::string error;                 // why the tier was not (fully) measured
  long cov_exit = -1, cov_short = -1;        // markers with a full-argv exec row
  long cov_exit_any = -1, cov_short_any = -1;  // ... with any row with the full argv
  double lat_p50 = -1, lat_p99 = -1, lat_max = -1;
  int lat_found = -1, lat_markers = 0;
  double idle_procmond = -1, idle_agent = -1;
  double rate = -1, cpu_procmond = -1, cpu_agent = -1, cpu_generator = -1, cpu_children = -1, host_busy = -1;
  long load_exec_rows = -1, load_spawned = -1;
  unsigned long long dropped = 0, lost = 0;  // procmond's counters over this tier's whole run
};

[[nodiscard]] std::expected<void, std::string> bench_coverage(const RealtimeOptions& o, const TierAgent& a,
                                                              TierSummary& out);
[[nodiscard]] std::expected<void, std::string> bench_rt_latency(const RealtimeOptions& o, const TierAgent& a,
                                                                TierSummary& out);
// `a` null: the baseline with no monitor.
[[nodiscard]] std::expected<void, std::string> bench_cost(const RealtimeOptions& o, const TierAgent* a,
                                                          TierSummary& out);

// Root only; the agent started for it uses procmond on ebpf.
[[nodiscard]] std::expected<void, std::string> bench_exec(const RealtimeOptions& o);

// The table of every tier's figures (for the run's log; JSON lines carry all).
void print_table(const std::vector<TierSummary>& rows, std::size_t processes, std::FILE* to);

}  // namespace airssys::daemoneye::bench
