// cost: CPU of procmond and the agent under a sustained exec load, beside
// the same load with no monitor (realtime_scenarios.hpp).

#include "host.hpp"
#include "realtime_scenarios.hpp"
#include "realtime_store.hpp"
#include "stats.hpp"

#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <sstream>
#include <thread>

extern char** environ;

namespace airssys::daemoneye::bench {

using namespace std::chrono_literals;

namespace {

struct LoadResult {
  std::uint64_t spawned = 0, failed = 0;
  double wall_s = 0, self_cpu_s = 0, children_cpu_s = 0;
};

double seconds_of(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

std::int64_t mono_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// One load generator (a forked copy of this program: its only children are
// the /bin/true it starts, so waitpid(-1) reaps just those). Spawns at
// `rate` per second on a fixed schedule (behind schedule it spawns back to
// back until it catches up) for `seconds`, then reaps them all and writes a
// LoadResult to `fd`.
int generate(double rate, int seconds, const std::string& marker, int fd) {
  char* argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>(marker.c_str()), nullptr};
  const auto interval = static_cast<std::int64_t>(1e9 / rate);
  const std::int64_t t0 = mono_ns(), end = t0 + static_cast<std::int64_t>(seconds) * 1'000'000'000;
  std::int64_t next = t0;
  LoadResult r;
  for (;;) {
    const std::int64_t now = mono_ns();
    if (now >= end) break;
    if (now < next) {
      const timespec ts{.tv_sec = static_cast<time_t>(next / 1'000'000'000),
                        .tv_nsec = static_cast<long>(next % 1'000'000'000)};
      ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      continue;
    }
    pid_t pid = 0;
    if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) == 0) ++r.spawned;
    else ++r.failed;
    next += interval;
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  r.wall_s = static_cast<double>(mono_ns() - t0) / 1e9;
  while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
  rusage self{}, kids{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &kids);
  r.self_cpu_s = seconds_of(self.ru_utime) + seconds_of(self.ru_stime);
  r.children_cpu_s = seconds_of(kids.ru_utime) + seconds_of(kids.ru_stime);
  return ::write(fd, &r, sizeof r) == static_cast<ssize_t>(sizeof r) ? 0 : 1;
}

// Busy and total jiffies of all CPUs (/proc/stat "cpu" line).
struct HostCpu {
  std::uint64_t busy = 0, total = 0;
};
HostCpu host_cpu() {
  HostCpu h;
  auto t = read_text("/proc/stat");
  if (!t) return h;
  std::istringstream in(t->substr(0, t->find('\n')));
  std::string cpu;
  in >> cpu;
  std::uint64_t v[8] = {};
  for (auto& x : v) in >> x;
  for (auto x : v) h.total += x;
  h.busy = h.total - v[3] - v[4];  // minus idle and iowait
  return h;
}

// Runs the generators; their results summed (wall: the longest).
std::expected<LoadResult, std::string> run_load(const RealtimeOptions& o, const std::string& marker) {
  std::vector<std::pair<Child, osl::UniqueFd>> gens;
  for (int g = 0; g < o.generators; ++g) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return std::unexpected(std::string("pipe2: ") + std::strerror(errno));
    osl::UniqueFd rd(p[0]), wr(p[1]);
    const double rate = o.rate / o.generators;
    auto c = Child::fork([&, fd = wr.get()] { return generate(rate, o.seconds, marker, fd); }, EndWith::sigkill);
    if (!c) return std::unexpected(c.error());
    gens.emplace_back(std::move(*c), std::move(rd));
  }
  LoadResult sum;
  for (auto& [child, rd] : gens) {
    const int st = child.wait();
    LoadResult r;
    ssize_t n;
    while ((n = ::read(rd.get(), &r, sizeof r)) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof r) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      return std::unexpected("a load generator failed (wait status " + std::to_string(st) + ")");
    }
    sum.spawned += r.spawned;
    sum.failed += r.failed;
    sum.wall_s = std::max(sum.wall_s, r.wall_s);
    sum.self_cpu_s += r.self_cpu_s;
    sum.children_cpu_s += r.children_cpu_s;
  }
  return sum;
}

double percent(std::optional<std::uint64_t> t0, std::optional<std::uint64_t> t1, double wall_s) {
  if (!t0 || !t1 || wall_s <= 0) return -1;
  return static_cast<double>(*t1 - *t0) / static_cast<double>(ticks_per_second()) / wall_s * 100.0;
}

}  // namespace

std::expected<void, std::string> bench_cost(const RealtimeOptions& o, const TierAgent* a, TierSummary& out) {
  const std::string tier = a ? a->tier : "none";
  const pid_t pm = a ? a->procmond : -1, agent = a ? a->agent.pid() : -1;
  if (a) {
    // The idle cost first, for scale: the same window with no load.
    const auto p0 = cpu_ticks(pm), a0 = cpu_ticks(agent);
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(o.idle_seconds));
    const double w = ms_since(t0) / 1000.0;
    out.idle_procmond = percent(p0, cpu_ticks(pm), w);
    out.idle_agent = percent(a0, cpu_ticks(agent), w);
  }
  std::optional<ProcmondStatus> before;
  if (a) {
    auto s = a->procmond_status();
    if (!s) return std::unexpected(s.error());
    before = *s;
  }
  const std::string marker = "rtb" + std::to_string(::getpid()) + "-" + tier + "-load";
  const HostCpu h0 = host_cpu();
  const auto p0 = a ? cpu_ticks(pm) : std::nullopt, a0 = a ? cpu_ticks(agent) : std::nullopt;
  const auto t0 = Clock::now();
  auto load = run_load(o, marker);
  const double wall = ms_since(t0) / 1000.0;
  const auto p1 = a ? cpu_ticks(pm) : std::nullopt, a1 = a ? cpu_ticks(agent) : std::nullopt;
  const HostCpu h1 = host_cpu();
  if (!load) return std::unexpected(load.error());
  const std::string load_at_end = load_average();

  out.rate = static_cast<double>(load->spawned) / load->wall_s;
  out.load_spawned = static_cast<long>(load->spawned);
  out.cpu_procmond = percent(p0, p1, wall);
  out.cpu_agent = percent(a0, a1, wall);
  out.cpu_generator = load->self_cpu_s / wall * 100.0;
  out.cpu_children = load->children_cpu_s / wall * 100.0;
  out.host_busy = h1.total > h0.total ? static_cast<double>(h1.busy - h0.busy) / static_cast<double>(h1.total - h0.total) *
                                            100.0 * static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN))
                                      : -1;
  // After the window: what the agent still had to do (its CPU while the
  // store catches up), and how many of the load's execs reached the store.
  std::string tail;
  if (a) {
    const auto t2 = Clock::now();
    std::this_thread::sleep_for(3s);
    const double drain_agent = percent(a1, cpu_ticks(agent), ms_since(t2) / 1000.0);
    auto after = a->procmond_status_after(static_cast<std::int64_t>(std::time(nullptr)));
    if (!after) return std::unexpected(after.error());
    auto reader = StoreReader::open(a->db);
    if (!reader) return std::unexpected(reader.error());
    long rows = 0;
    const std::string full = "/bin/true " + marker;
    if (auto c = reader->rows_containing(marker, "exec", [&](const EventRow& r) { rows += r.cmdline == full; }); !c) {
      return std::unexpected(c.error());
    }
    out.load_exec_rows = rows;
    // CPU ms per 1,000 execs above the idle cost, and that scaled linearly to
    // the asked rate: an estimate for when the host cannot reach the rate
    // (the docs say which figures are measured and which are scaled).
    const double pm_per_k = (out.cpu_procmond - out.idle_procmond) * 10.0 / out.rate * 1000.0;
    const double ag_per_k = (out.cpu_agent - out.idle_agent) * 10.0 / out.rate * 1000.0;
    char buf[512];
    std::snprintf(buf, sizeof buf, ",\"idle_cpu_percent_procmond\":%.2f,\"idle_cpu_percent_agent\":%.2f,"
                  "\"after_window_cpu_percent_agent\":%.2f,\"exec_rows_full_argv\":%ld,"
                  "\"procmond_cpu_ms_per_1000_execs_over_idle\":%.1f,\"agent_cpu_ms_per_1000_execs_over_idle\":%.1f,"
                  "\"procmond_cpu_percent_scaled_to_rate_asked\":%.2f,\"agent_cpu_percent_scaled_to_rate_asked\":%.2f,",
                  out.idle_procmond, out.idle_agent, drain_agent, rows, pm_per_k, ag_per_k,
                  out.idle_procmond + pm_per_k * o.rate / 1000.0 / 10.0, out.idle_agent + ag_per_k * o.rate / 1000.0 / 10.0);
    tail = buf + sources_json(counters_delta(*before, *after));
  }
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "\"bench\":\"rt_cost\",\"tier\":\"%s\",\"rate_asked\":%.0f,\"generators\":%d,\"spawned\":%llu,"
                "\"spawn_failures\":%llu,\"window_s\":%.2f,\"rate\":%.1f,\"cpu_percent_procmond\":%.2f,"
                "\"cpu_percent_agent\":%.2f,\"cpu_percent_generators\":%.2f,\"cpu_percent_true_children\":%.2f,"
                "\"host_busy_percent_of_one_core\":%.1f,\"load\":\"%s\"",
                tier.c_str(), o.rate, o.generators, static_cast<unsigned long long>(load->spawned),
                static_cast<unsigned long long>(load->failed), wall, out.rate, out.cpu_procmond, out.cpu_agent,
                out.cpu_generator, out.cpu_children, out.host_busy, load_at_end.c_str());
  emit(buf + tail);
  return {};
}

}  // namespace airssys::daemoneye::bench
