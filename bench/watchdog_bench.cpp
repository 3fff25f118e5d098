// task-watchdog benchmark: start-up, `list` with 100 tasks, the 1,000-task
// registry load, peak RSS, and kill latency. Prints one JSON object per line.
//
//   scripts/build release task-watchdog watchdog_bench
//   build/release/bench/watchdog_bench build/release/watchdog/task-watchdog [RUNS]
//   build/release/bench/watchdog_bench --write-registry FILE N   (the registry
//     of N tasks the runs below use, to profile a command on it by hand)
//
// Wall times of the CLI are measured around posix_spawn + wait4 (so they
// include fork/exec); peak RSS is /usr/bin/time's %M over 5 more runs. The registry load
// is measured in-process (Registry::load: read + parse + validate).
// Registries are generated in a temp dir with finished tasks shaped like
// real records.

#include <airssys/watchdog/registry.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace wd = airssys::watchdog;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Run {
  double ms = 0;
  long max_rss_kib = 0;
  int status = -1;
};

Run spawn_wait(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  Run r;
  const auto t0 = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return r;
  }
  int st = 0;
  rusage ru{};
  while (::wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
  }
  r.ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  r.max_rss_kib = ru.ru_maxrss;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  posix_spawn_file_actions_destroy(&fa);
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

void write_registry(const fs::path& path, int n) {
  wd::RegistryData d;
  for (int i = 0; i < n; ++i) {
    wd::TaskRecord t;
    char id[32];
    std::snprintf(id, sizeof id, "task-%04d", i);
    t.id = id;
    t.argv = {"make", "-j2", "target" + std::to_string(i)};
    t.cwd = "/home/dev/project";
    t.env = {"CC=gcc"};
    t.created_ms = 1795000000000 + i;
    t.timeout_ms = 900000;
    t.deadline_ms = 1795000900000 + i;
    t.state = wd::TaskState::exited;
    t.pid = 4242 + i;
    t.pid_start_time = 579264 + static_cast<std::uint64_t>(i);
    t.monitor_pid = 4241 + i;
    t.monitor_start_time = 579263 + static_cast<std::uint64_t>(i);
    t.containment.kind = wd::ContainmentKind::cgroup2;
    t.containment.cgroup = "/sys/fs/cgroup/unified/task-watchdog/" + t.id + "-4241";
    t.stdout_log = "/home/dev/project/.task-watchdog/logs/" + t.id + ".stdout.log";
    t.stderr_log = "/home/dev/project/.task-watchdog/logs/" + t.id + ".stderr.log";
    t.exit_code = 0;
    t.ended_ms = 1795000100000 + i;
    t.leftover_processes = 0;
    d.tasks.emplace(t.id, std::move(t));
  }
  std::ofstream(path) << wd::serialize_registry(d);
}

struct Summary {
  double median_ms = 0, min_ms = 0;
  long max_rss_kib = 0;
};

// Peak RSS of a command, through /usr/bin/time: a child's ru_maxrss also
// counts the memory of the process that spawned it (up to its exec), and
// time(1) is far smaller than this benchmark.
long peak_rss_kib(const std::vector<std::string>& args, const fs::path& scratch) {
  std::vector<std::string> t{"/usr/bin/time", "-f", "%M", "-o", scratch.string()};
  t.insert(t.end(), args.begin(), args.end());
  if (spawn_wait(t).status < 0) return -1;
  std::ifstream in(scratch);
  long kib = -1;
  in >> kib;
  return kib;
}

Summary cli(const std::vector<std::string>& args, int runs) {
  std::vector<double> ms;
  Summary s;
  spawn_wait(args);  // warm the page cache
  for (int i = 0; i < runs; ++i) {
    auto r = spawn_wait(args);
    ms.push_back(r.ms);
  }
  const auto scratch = fs::temp_directory_path() / ("wd-bench-rss." + std::to_string(::getpid()));
  for (int i = 0; i < 5; ++i) s.max_rss_kib = std::max(s.max_rss_kib, peak_rss_kib(args, scratch));
  fs::remove(scratch);
  s.median_ms = median(ms);
  s.min_ms = *std::min_element(ms.begin(), ms.end());
  return s;
}

void print_cli(const char* name, const Summary& s, int runs, const char* extra = "") {
  std::printf("{\"bench\":\"%s\",\"runs\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,\"max_rss_kib\":%ld%s}\n", name, runs, s.median_ms,
              s.min_ms, s.max_rss_kib, extra);
  std::fflush(stdout);
}

// Issue 13's goal for `list` of 100 tasks: within 1.5x the wall time of
// /bin/true measured in the same run, and < 3 MB peak RSS. The two commands
// alternate run by run, so a change in the machine's load hits both.
void print_list_ratio(const std::string& bin, const fs::path& r100, int runs) {
  const std::vector<std::string> floor_cmd{"/bin/true"};
  const std::vector<std::string> list_cmd{bin, "list", "--registry", r100.string()};
  spawn_wait(floor_cmd);
  spawn_wait(list_cmd);
  std::vector<double> floor_ms, list_ms;
  for (int i = 0; i < runs; ++i) {
    floor_ms.push_back(spawn_wait(floor_cmd).ms);
    list_ms.push_back(spawn_wait(list_cmd).ms);
  }
  const auto scratch = fs::temp_directory_path() / ("wd-bench-rss." + std::to_string(::getpid()));
  long rss = 0;
  for (int i = 0; i < 5; ++i) rss = std::max(rss, peak_rss_kib(list_cmd, scratch));
  fs::remove(scratch);
  const double ratio = median(list_ms) / median(floor_ms);
  const bool met = ratio <= 1.5 && rss < 3 * 1024;
  std::printf("{\"bench\":\"list 100 tasks vs /bin/true (interleaved)\",\"runs\":%d,\"true_median_ms\":%.3f,"
              "\"list_median_ms\":%.3f,\"ratio\":%.2f,\"goal_ratio\":1.5,\"list_max_rss_kib\":%ld,\"goal_rss_kib\":3072,"
              "\"met\":%s}\n",
              runs, median(floor_ms), median(list_ms), ratio, rss, met ? "true" : "false");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == "--write-registry") {
    write_registry(argv[2], std::max(0, std::atoi(argv[3])));
    return 0;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH/TO/task-watchdog [RUNS] | --write-registry FILE N\n", argv[0]);
    return 2;
  }
  const std::string bin = fs::absolute(argv[1]).string();
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 30;
  std::string tmpl = (fs::temp_directory_path() / "wd-bench-XXXXXX").string();
  const fs::path dir = ::mkdtemp(tmpl.data());
  const auto empty = dir / "empty.json";
  const auto r100 = dir / "r100.json";
  const auto r1000 = dir / "r1000.json";
  write_registry(empty, 0);
  write_registry(r100, 100);
  write_registry(r1000, 1000);

  // The floor on this machine right now: a process that does nothing.
  print_cli("baseline /bin/true", cli({"/bin/true"}, runs), runs);
  print_cli("startup (--help)", cli({bin, "--help"}, runs), runs);
  print_cli("startup (list, empty registry)", cli({bin, "list", "--registry", empty.string()}, runs), runs);
  print_cli("list 100 tasks", cli({bin, "list", "--registry", r100.string()}, runs), runs);
  print_list_ratio(bin, r100, runs);
  print_cli("list --json 100 tasks", cli({bin, "list", "--json", "--registry", r100.string()}, runs), runs);
  print_cli("list 1000 tasks", cli({bin, "list", "--registry", r1000.string()}, runs), runs);

  {
    const wd::Registry reg(r1000);
    std::vector<double> ms;
    (void)reg.load();
    for (int i = 0; i < runs; ++i) {
      const auto t0 = Clock::now();
      auto d = reg.load();
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (!d || d->tasks.size() != 1000) {
        std::fprintf(stderr, "load failed\n");
        return 1;
      }
    }
    std::printf("{\"bench\":\"registry load 1000 tasks (in-process)\",\"runs\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,\"bytes\":%ju}\n", runs,
                median(ms), *std::min_element(ms.begin(), ms.end()), static_cast<std::uintmax_t>(fs::file_size(r1000)));
    std::fflush(stdout);
  }

  // Kill latency: a tree whose members ignore SIGTERM, so each run waits the
  // full grace; latency = wall - timeout - grace (includes start-up, the kill
  // sweeps, the reaping and the final registry write).
  {
    const int kill_runs = std::max(1, runs / 6);
    const auto reg = dir / "kill.json";
    const char* tree =
        "trap '' TERM; setsid sh -c 'trap \"\" TERM; sleep 1000' & sh -c 'sleep 1000 &' & "
        "sh -c 'trap \"\" TERM; while :; do sleep 1; done' & sleep 1000";
    std::vector<double> lat;
    for (int i = 0; i < kill_runs; ++i) {
      auto r = spawn_wait({bin, "start", "--wait", "--registry", reg.string(), "--id", "k" + std::to_string(i), "--timeout", "1s",
                           "--grace", "500ms", "--", "/bin/sh", "-c", tree});
      if (r.status != 124) std::fprintf(stderr, "kill run %d: status %d (expected 124)\n", i, r.status);
      lat.push_back(r.ms - 1500);
    }
    std::printf("{\"bench\":\"kill latency (deadline 1s, grace 500ms, 5-process tree ignoring SIGTERM)\",\"runs\":%d,"
                "\"median_ms_over_grace\":%.1f,\"max_ms_over_grace\":%.1f}\n",
                kill_runs, median(lat), *std::max_element(lat.begin(), lat.end()));
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
