#pragma once
// The DaemonEye benchmark scenarios (issue 10, "Performance"). Each prints
// JSON lines (stats.hpp) and returns an error only when it could not measure.
//
//   collect    Collector::collect() vs `ps -eo pid,ppid,uid,comm,args,lstart`
//   store      Store::apply_snapshot: fresh insert, idle re-apply, ~10 % changed
//   rules      each bundled rule over a store of the collected processes
//   footprint  daemoneye-agent + procmond: CPU and RSS at a 10 s interval
//   latency    process start → alert line in the file sink at a 1 s interval
//   exceptions a rule cycle with 0, 10 and 100 rule exceptions per rule
//              (exceptions_bench.cpp), over synthetic rows, no sleepers
//   accounts   procmond's passwd/group reading per collection
//              (accounts_bench.cpp), no sleepers
//
// collect, store and rules run with `sleepers` extra processes that main()
// starts once for all three; footprint and latency start their own sleepers
// (up to `processes` on the host).

#include <airssys/daemoneye/process_record.hpp>

#include <cstddef>
#include <expected>
#include <string>
#include <vector>

namespace airssys::daemoneye::bench {

struct Options {
  std::size_t sleepers = 10000;
  int runs = 10;          // collections, and ps runs, per variant
  int store_rounds = 5;   // fresh databases for the store scenario
  int rule_runs = 30;     // runs of each rule
  std::string rules_dir = "daemoneye/rules";
  std::string agent;      // the daemoneye-agent executable (footprint, latency)
  std::string ps = "/bin/ps";
  int seconds = 120;      // footprint: measured window
  int warmup = 30;        // footprint: seconds before the window opens
  std::size_t processes = 1000;  // footprint, latency: processes on the host
  int markers = 20;       // latency: marker processes
  std::string hash_max_size;  // footprint/latency: procmond.hash_max_size in the config ("" = default; "0" = hash nothing)
  std::size_t exc_processes = 5000;  // exceptions: synthetic processes
  std::size_t exc_events = 50000;    // exceptions: synthetic exec events
  std::size_t acc_entries = 5000;    // accounts: users and groups in the synthetic files
  std::size_t acc_processes = 1000;  // accounts: processes in the snapshot the rows ride with
  std::string work_dir;   // temp dir (databases, configs, logs); removed by main
};

// One collection, untimed (for store and rules when collect is not run).
[[nodiscard]] std::expected<std::vector<ProcessRecord>, std::string> collect_records();

// Returns the records of its last collection.
[[nodiscard]] std::expected<std::vector<ProcessRecord>, std::string> bench_collect(const Options& o);
[[nodiscard]] std::expected<void, std::string> bench_store(const Options& o, const std::vector<ProcessRecord>& records);
[[nodiscard]] std::expected<void, std::string> bench_rules(const Options& o, const std::vector<ProcessRecord>& records);
[[nodiscard]] std::expected<void, std::string> bench_footprint(const Options& o);
[[nodiscard]] std::expected<void, std::string> bench_latency(const Options& o);
[[nodiscard]] std::expected<void, std::string> bench_exceptions(const Options& o);
[[nodiscard]] std::expected<void, std::string> bench_accounts(const Options& o);

}  // namespace airssys::daemoneye::bench
