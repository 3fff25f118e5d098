// daemoneye-agent + procmond as deployed (release binaries, a temporary
// config, the bundled rules, a JSON-lines file sink):
//
//  footprint  at a 10 s interval with ~`processes` processes on the host:
//             CPU of both (utime+stime of /proc/PID/stat, before and after a
//             `seconds` window that opens `warmup` s after procmond started)
//             as % of one core, and VmRSS of both, sampled every second.
//  latency    at a 1 s interval: a marker process (/bin/sleep with argv[0]
//             "daemoneye-bench-marker-<bench pid>-NNNN") is started at a
//             random phase of the interval, `markers` times; each time the
//             wall time from just before posix_spawn to the moment its alert
//             line is in the sink file (polled every millisecond).
//
// The agent's own `scans` rows of the window (collect/store/rules times, as it
// records them) are read back through a read-only QueryEngine.

#include "children.hpp"
#include "host.hpp"
#include "scenarios.hpp"
#include "stats.hpp"

#include <airssys/daemoneye/query_engine.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <thread>

extern char** environ;

namespace airssys::daemoneye::bench {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct AgentRun {
  std::string dir;  // config.yaml, agent.log, var/ (database, ledger, sink)
  std::string db, sink, log;
  Sleepers sleepers;
  Child agent;
  pid_t procmond = -1;
  Clock::time_point started;
};

std::string log_tail(const std::string& path) {
  auto t = read_text(path);
  if (!t) return "(no log: " + t.error() + ")";
  return t->size() > 2000 ? t->substr(t->size() - 2000) : *t;
}

// This process's environment without DAEMONEYE_* (the config file alone decides).
std::vector<std::string> clean_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (!std::string_view(*e).starts_with("DAEMONEYE_")) env.emplace_back(*e);
  }
  if (env.empty()) env.emplace_back("PATH=/usr/bin:/bin");
  return env;
}

std::expected<void, std::string> copy_rules(const std::string& from, const std::string& to) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(from, ec)) {
    const auto ext = e.path().extension();
    if (ext != ".yaml" && ext != ".yml") continue;
    auto text = read_text(e.path().string());
    if (!text) return std::unexpected(text.error());
    if (auto w = write_new_file(to + "/" + e.path().filename().string(), *text); !w) return w;
  }
  if (ec) return std::unexpected(from + ": " + ec.message());
  return {};
}

// Starts sleepers (so the host has ~o.processes processes), writes the config
// and starts the agent; returns once procmond runs under it.
std::expected<AgentRun, std::string> start_agent(const Options& o, const std::string& name, const std::string& interval,
                                                 const std::string& rules_dir) {
  if (o.agent.empty()) return std::unexpected(std::string("--agent BIN is required for ") + name);
  AgentRun run;
  run.dir = o.work_dir + "/" + name;
  if (::mkdir(run.dir.c_str(), 0700) != 0) return std::unexpected(run.dir + ": " + std::strerror(errno));
  const std::string var = run.dir + "/var";
  if (::mkdir(var.c_str(), 0700) != 0) return std::unexpected(var + ": " + std::strerror(errno));
  run.db = var + "/daemoneye.db";
  run.sink = var + "/alerts.jsonl";
  run.log = run.dir + "/agent.log";
  const std::string config = run.dir + "/config.yaml";
  const std::string yaml = "database: { path: " + run.db + " }\nscan: { interval: " + interval + " }\nrules: { dir: " +
                           rules_dir + " }\nalerts:\n  sinks:\n    - { type: file, path: " + run.sink +
                           ", format: json }\n" +
                           (o.hash_max_size.empty() ? "" : "procmond: { hash_max_size: " + o.hash_max_size + " }\n");
  if (auto w = write_new_file(config, yaml); !w) return std::unexpected(w.error());

  const std::size_t have = count_processes();
  const std::size_t want = o.processes > have + 2 ? o.processes - have - 2 : 0;  // +2: the agent and procmond
  auto sl = Sleepers::spawn(want);
  if (!sl) return std::unexpected(sl.error());
  run.sleepers = std::move(*sl);

  auto agent = Child::spawn({o.agent, "--config", config}, EndWith::sigterm,
                            {.stdout_path = run.log, .stderr_path = run.log, .env = clean_environment()});
  if (!agent) return std::unexpected(agent.error());
  run.agent = std::move(*agent);
  run.started = Clock::now();
  for (int i = 0; i < 400; ++i) {
    if (auto p = find_child(run.agent.pid(), "procmond")) {
      run.procmond = *p;
      return run;
    }
    int st = 0;
    if (::waitpid(run.agent.pid(), &st, WNOHANG) == run.agent.pid()) {
      return std::unexpected("daemoneye-agent exited (status " + std::to_string(st) + ") before starting procmond:\n" +
                             log_tail(run.log));
    }
    std::this_thread::sleep_for(50ms);
  }
  return std::unexpected("procmond did not appear under daemoneye-agent within 20 s:\n" + log_tail(run.log));
}

bool alive(pid_t pid) { return cpu_ticks(pid).has_value(); }

// Medians of the agent's own scan records since `since` (Unix s).
std::string scans_json(const std::string& db, std::int64_t since) {
  auto engine = QueryEngine::open(db, QueryLimits{.time = 5000ms, .max_rows = 100000});
  if (!engine) return "\"scans_error\":" + json_string(engine.error().message);
  auto r = (*engine)->run("SELECT processes, collect_us, store_us, rules_us, inserted, updated, deleted FROM scans "
                          "WHERE time >= " + std::to_string(since));
  if (!r) return "\"scans_error\":" + json_string(r.error().message);
  std::vector<std::vector<double>> cols(7);
  for (const auto& row : r->rows) {
    for (std::size_t c = 0; c < cols.size() && c < row.size(); ++c) {
      if (auto v = std::get_if<std::int64_t>(&row[c])) cols[c].push_back(static_cast<double>(*v));
    }
  }
  const char* names[] = {"processes", "collect_ms", "store_ms", "rules_ms", "inserted", "updated", "deleted"};
  std::string out = "\"scans\":" + std::to_string(r->rows.size());
  for (std::size_t c = 0; c < cols.size(); ++c) {
    double m = summarize(cols[c]).median;
    if (c >= 1 && c <= 3) m /= 1000.0;
    char buf[96];
    std::snprintf(buf, sizeof buf, ",\"scan_%s_median\":%.3f", names[c], m);
    out += buf;
  }
  return out;
}

// Appended text of the sink file since the last call (the file may not exist yet).
class SinkTail {
 public:
  explicit SinkTail(std::string path) : path_(std::move(path)) {}
  ~SinkTail() {
    if (fd_ >= 0) ::close(fd_);
  }
  SinkTail(const SinkTail&) = delete;
  SinkTail& operator=(const SinkTail&) = delete;

  // True once a complete line containing `needle` has been read.
  bool seen(const std::string& needle) {
    if (fd_ < 0) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd_ < 0) return false;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
    bool found = false;
    std::size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      if (std::string_view(pending_.data(), nl).find(needle) != std::string_view::npos) found = true;
      pending_.erase(0, nl + 1);
    }
    return found;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::string pending_;
};

}  // namespace

std::expected<void, std::string> bench_footprint(const Options& o) {
  auto started = start_agent(o, "footprint", "10s", fs::absolute(o.rules_dir).string());
  if (!started) return std::unexpected(started.error());
  AgentRun& run = *started;
  const pid_t agent = run.agent.pid();
  const pid_t pm = run.procmond;

  for (int i = 0; i < o.warmup; ++i) {
    std::this_thread::sleep_for(1s);
    if (!alive(agent) || !alive(pm)) return std::unexpected("agent or procmond ended in warm-up:\n" + log_tail(run.log));
  }
  const auto host_processes = count_processes();
  const auto since = static_cast<std::int64_t>(std::time(nullptr));
  const auto a0 = cpu_ticks(agent), p0 = cpu_ticks(pm);
  const auto t0 = Clock::now();
  std::uint64_t rss_max = 0, rss_agent = 0, rss_pm = 0;
  std::size_t procs_min = host_processes, procs_max = host_processes;
  for (int i = 0; i < o.seconds; ++i) {
    std::this_thread::sleep_for(1s);
    if (i % 10 == 9) {
      // Other work on the machine can change the process count under us.
      const std::size_t n = count_processes();
      procs_min = std::min(procs_min, n);
      procs_max = std::max(procs_max, n);
    }
    const auto ra = vm_rss_kib(agent), rp = vm_rss_kib(pm);
    if (!ra || !rp) return std::unexpected("agent or procmond ended in the window:\n" + log_tail(run.log));
    rss_agent = *ra;
    rss_pm = *rp;
    rss_max = std::max(rss_max, *ra + *rp);
  }
  const auto a1 = cpu_ticks(agent), p1 = cpu_ticks(pm);
  const double wall_s = ms_since(t0) / 1000.0;
  if (!a0 || !a1 || !p0 || !p1) return std::unexpected("agent or procmond ended in the window");
  if (find_child(agent, "procmond") != pm) return std::unexpected("procmond was restarted during the window:\n" + log_tail(run.log));
  const double hz = static_cast<double>(ticks_per_second());
  const double cpu_agent = static_cast<double>(*a1 - *a0) / hz / wall_s * 100.0;
  const double cpu_pm = static_cast<double>(*p1 - *p0) / hz / wall_s * 100.0;
  const double warm_s = static_cast<double>(*a0 + *p0) / hz;  // both, from their start to the window
  const std::string scans = scans_json(run.db, since);
  const int status = run.agent.stop();
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "\"bench\":\"footprint\",\"interval\":\"10s\",\"host_processes\":%zu,\"host_processes_min\":%zu,"
                "\"host_processes_max\":%zu,\"sleepers\":%zu,\"window_s\":%.1f,"
                "\"cpu_percent_agent\":%.3f,\"cpu_percent_procmond\":%.3f,\"cpu_percent_total\":%.3f,"
                "\"cpu_s_before_window\":%.2f,\"rss_kib_agent\":%llu,\"rss_kib_procmond\":%llu,\"rss_kib_total_max\":%llu,"
                "\"agent_exit\":%d,\"hash_max_size\":\"%s\",",
                host_processes, procs_min, procs_max, run.sleepers.size(), wall_s, cpu_agent, cpu_pm, cpu_agent + cpu_pm, warm_s,
                static_cast<unsigned long long>(rss_agent), static_cast<unsigned long long>(rss_pm),
                static_cast<unsigned long long>(rss_max), WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                o.hash_max_size.empty() ? "default" : o.hash_max_size.c_str());
  emit(buf + scans);
  return {};
}

std::expected<void, std::string> bench_latency(const Options& o) {
  const std::string rules = o.work_dir + "/latency-rules";
  if (::mkdir(rules.c_str(), 0700) != 0) return std::unexpected(rules + ": " + std::strerror(errno));
  if (auto c = copy_rules(o.rules_dir, rules); !c) return std::unexpected(c.error());
  const std::string prefix = "daemoneye-bench-marker-" + std::to_string(::getpid()) + "-";
  if (auto w = write_new_file(rules + "/bench-marker.yaml",
                              "id: bench-marker\nname: Benchmark marker process\nseverity: low\ntags: [bench]\n"
                              "query: \"SELECT pid, name, cmdline, start_time FROM processes WHERE cmdline LIKE '" +
                                  prefix + "%'\"\n");
      !w) {
    return std::unexpected(w.error());
  }
  auto started = start_agent(o, "latency", "1s", rules);
  if (!started) return std::unexpected(started.error());
  AgentRun& run = *started;
  SinkTail tail(run.sink);

  const auto marker = [&](int i) {
    char b[16];
    std::snprintf(b, sizeof b, "%04d", i);
    return prefix + b;
  };
  // True once the marker's alert line is in the sink; false after `limit` or
  // when the agent has gone.
  const auto wait_for = [&](const std::string& m, std::chrono::seconds limit) {
    const auto t0 = Clock::now();
    while (Clock::now() - t0 < limit) {
      if (tail.seen(m)) return true;
      if (!alive(run.agent.pid())) return false;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  };
  {
    // Marker 0 must arrive before timing starts: the whole pipeline is up.
    auto warm = Child::spawn({"/bin/sleep", "600"}, EndWith::sigkill, {}, marker(0));
    if (!warm) return std::unexpected(warm.error());
    if (!wait_for(marker(0), 60s)) {
      return std::unexpected("the warm-up marker's alert never reached " + run.sink + ":\n" + log_tail(run.log));
    }
  }

  const auto since = static_cast<std::int64_t>(std::time(nullptr));
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> phase_ms(0, 999);
  std::vector<double> latencies;
  int missed = 0;
  for (int i = 1; i <= o.markers; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(phase_ms(rng)));
    const auto t0 = Clock::now();
    auto m = Child::spawn({"/bin/sleep", "600"}, EndWith::sigkill, {}, marker(i));
    if (!m) return std::unexpected(m.error());
    if (wait_for(marker(i), 15s)) {
      latencies.push_back(ms_since(t0));
    } else {
      ++missed;
    }
    m->stop();
  }
  const std::size_t host_processes = count_processes();
  const std::string scans = scans_json(run.db, since);
  const int status = run.agent.stop();
  const Summary s = summarize(latencies);
  emit("\"bench\":\"latency\",\"interval\":\"1s\",\"host_processes\":" + std::to_string(host_processes) +
       ",\"markers\":" + std::to_string(o.markers) + ",\"missed\":" + std::to_string(missed) + "," +
       json_summary("ms", s) + ",\"agent_exit\":" + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
       "," + scans);
  if (missed > 0) return std::unexpected(std::to_string(missed) + " marker(s) never alerted within 15 s");
  return {};
}

}  // namespace airssys::daemoneye::bench
