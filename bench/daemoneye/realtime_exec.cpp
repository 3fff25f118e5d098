// exec: what one exec costs with procmond's eBPF programs attached
// (realtime_scenarios.hpp). Each round measures, one after another so that
// the machine's load hits them alike:
//
//   none      nothing of ours attached
//   given     the eBPF source opened in this process without the exec
//             program's path walks (procmon_exec_given: the path given to
//             execve only), its ring buffer drained by a thread
//   walk      the same with the program procmond loads (procmon_exec: the
//             image's path and the working directory walked, bpf_loop)
//   procmond  the real daemoneye-agent with procmond on the ebpf tier
//
// and in each, for two working directories of the child (the walk is one
// bpf_loop step per path component): "/" and a directory `cwd_depth` levels
// deep, `execs` x posix_spawn(/usr/bin/true) + waitpid one after another,
// each timed. The kernel's own figure is the programs' run_time_ns /
// run_cnt (bpf_prog_info, with BPF_ENABLE_STATS on for the whole scenario,
// off again when the program exits: bpf_prog_stats.hpp), per program,
// counted over our programs only (ids that appeared when the block's source
// was opened); programs of another procmond already loaded on the host are
// reported as "foreign" (they run on our execs too and slow every mode
// alike).

#include "bpf_prog_stats.hpp"
#include "host.hpp"
#include "realtime_scenarios.hpp"
#include "stats.hpp"

#include <airssys/daemoneye/kernel_events.hpp>

#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>

namespace airssys::daemoneye::bench {

namespace {

constexpr const char* kPrefix = "procmon_";

struct Timed {
  std::vector<double> us;
  std::size_t failed = 0;
  double wall_s = 0;
};

// `n` x /usr/bin/true with `cwd` as its working directory, one after another.
Timed run_execs(int n, const std::string& cwd) {
  Timed t;
  t.us.reserve(static_cast<std::size_t>(n));
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  char* argv[] = {const_cast<char*>("/usr/bin/true"), nullptr};
  char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto s = Clock::now();
    pid_t pid = -1;
    int status = 0;
    if (::posix_spawn(&pid, argv[0], &fa, nullptr, argv, envp) != 0) {
      ++t.failed;
      continue;
    }
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++t.failed;
    t.us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count());
  }
  t.wall_s = ms_since(t0) / 1000;
  ::posix_spawn_file_actions_destroy(&fa);
  return t;
}

// The eBPF source opened in this process, drained by a thread until destroyed.
class InProcessSource {
 public:
  static std::expected<std::unique_ptr<InProcessSource>, std::string> open(bool walk) {
    auto s = open_ebpf_source({.test_reject_exe_walk = !walk});
    if (!s) return std::unexpected("open_ebpf_source: " + s.error().message);
    auto out = std::unique_ptr<InProcessSource>(new InProcessSource(std::move(*s)));
    out->thread_ = std::thread([p = out.get()] { p->loop(); });
    return out;
  }
  ~InProcessSource() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::uint64_t events() const { return events_; }
  [[nodiscard]] std::uint64_t lost() const { return source_->lost(); }
  [[nodiscard]] std::string limits() const { return source_->limits(); }

 private:
  explicit InProcessSource(std::unique_ptr<KernelEventSource> s) : source_(std::move(s)) {}
  void loop() {
    while (!stop_) {
      pollfd p{.fd = source_->fd(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      (void)source_->drain([&](KernelEvent&&) { ++events_; });
    }
  }
  std::unique_ptr<KernelEventSource> source_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> events_{0};
};

using Progs = std::map<std::uint32_t, BpfProgCounters>;

// `"progs":{"procmon_exec":{"programs":1,"runs":N,"ns_per_run":X},...}` of
// the programs in `after` that are in `ours`, minus their counts in `before`.
std::string progs_json(const char* key, const Progs& before, const Progs& after, const std::set<std::uint32_t>& ours) {
  struct Sum {
    int programs = 0;
    std::uint64_t runs = 0, ns = 0;
  };
  std::map<std::string, Sum> by_name;
  for (const auto& [id, a] : after) {
    if (!ours.contains(id)) continue;
    const auto b = before.find(id);
    Sum& s = by_name[a.name];
    ++s.programs;
    s.runs += a.run_cnt - (b == before.end() ? 0 : b->second.run_cnt);
    s.ns += a.run_time_ns - (b == before.end() ? 0 : b->second.run_time_ns);
  }
  std::string out = "\"" + std::string(key) + "\":{";
  bool first = true;
  for (const auto& [name, s] : by_name) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s\"%s\":{\"programs\":%d,\"runs\":%llu,\"ns_per_run\":%.1f}", first ? "" : ",",
                  name.c_str(), s.programs, static_cast<unsigned long long>(s.runs),
                  s.runs ? static_cast<double>(s.ns) / static_cast<double>(s.runs) : 0.0);
    out += buf;
    first = false;
  }
  return out + "}";
}

struct Dirs {
  std::string shallow = "/";
  std::string deep;
  int depth = 0;
};

std::expected<Dirs, std::string> make_dirs(const RealtimeOptions& o) {
  Dirs d;
  d.depth = o.cwd_depth;
  d.deep = o.work_dir + "/cwd";
  if (::mkdir(d.deep.c_str(), 0755) != 0) return std::unexpected(d.deep + ": " + std::strerror(errno));
  for (int i = 1; i < o.cwd_depth; ++i) {
    d.deep += "/d" + std::to_string(i);
    if (::mkdir(d.deep.c_str(), 0755) != 0) return std::unexpected(d.deep + ": " + std::strerror(errno));
  }
  // work_dir itself is /tmp/X/Y: count those components too.
  d.depth = 0;
  for (char c : d.deep) d.depth += c == '/' ? 1 : 0;
  return d;
}

// One block: both working directories, the figures of each on a line.
std::expected<void, std::string> block(const RealtimeOptions& o, int round, const std::string& mode, const Dirs& dirs,
                                       const std::set<std::uint32_t>& ours, const TierAgent* agent,
                                       const std::function<std::string()>& extra) {
  for (const auto& [cwd, depth] : {std::pair{dirs.shallow, 1}, std::pair{dirs.deep, dirs.depth}}) {
    auto before = bpf_programs(kPrefix);
    if (!before) return std::unexpected(before.error());
    const auto pm0 = agent ? cpu_ticks(agent->procmond) : std::nullopt;
    const auto ag0 = agent ? cpu_ticks(agent->agent.pid()) : std::nullopt;
    const Timed t = run_execs(o.execs, cwd);
    const auto pm1 = agent ? cpu_ticks(agent->procmond) : std::nullopt;
    const auto ag1 = agent ? cpu_ticks(agent->agent.pid()) : std::nullopt;
    auto after = bpf_programs(kPrefix);
    if (!after) return std::unexpected(after.error());
    std::set<std::uint32_t> foreign;
    for (const auto& [id, p] : *after) {
      if (!ours.contains(id)) foreign.insert(id);
    }
    const double tick_ms = 1000.0 / static_cast<double>(ticks_per_second());
    const auto ms = [&](auto a, auto b) { return a && b ? static_cast<double>(*b - *a) * tick_ms : -1.0; };
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "\"bench\":\"rt_exec\",\"round\":%d,\"mode\":\"%s\",\"cwd_depth\":%d,\"execs\":%d,\"failed\":%zu,"
                  "\"wall_s\":%.3f,\"execs_per_s\":%.1f,",
                  round, mode.c_str(), depth, o.execs, t.failed, t.wall_s,
                  t.wall_s > 0 ? static_cast<double>(o.execs) / t.wall_s : 0.0);
    std::string line = buf + json_summary("us", summarize(t.us)) + "," + progs_json("progs", *before, *after, ours) + "," +
                       progs_json("foreign_progs", *before, *after, foreign);
    std::snprintf(buf, sizeof buf, ",\"cpu_ms_procmond\":%.0f,\"cpu_ms_agent\":%.0f,\"load\":\"%s\"", ms(pm0, pm1),
                  ms(ag0, ag1), load_average().c_str());
    line += buf;
    if (extra) line += extra();
    emit(line);
  }
  return {};
}

std::set<std::uint32_t> new_ids(const Progs& before, const Progs& after) {
  std::set<std::uint32_t> out;
  for (const auto& [id, p] : after) {
    if (!before.contains(id)) out.insert(id);
  }
  return out;
}

}  // namespace

std::expected<void, std::string> bench_exec(const RealtimeOptions& o) {
  auto stats = BpfStatsOn::enable();
  if (!stats) return std::unexpected(stats.error());
  auto dirs = make_dirs(o);
  if (!dirs) return std::unexpected(dirs.error());
  // The modes in turn, each round starting one further (none, given, walk,
  // procmond; then given, walk, procmond, none; ...), so that none always
  // running first (after an agent stopped, say) cannot bias it.
  const auto in_process = [&](int round, bool walk) -> std::expected<void, std::string> {
    auto before = bpf_programs(kPrefix);
    if (!before) return std::unexpected(before.error());
    auto src = InProcessSource::open(walk);
    if (!src) return std::unexpected(src.error());
    auto after = bpf_programs(kPrefix);
    if (!after) return std::unexpected(after.error());
    const InProcessSource& s = **src;
    const auto extra = [&s] {
      return ",\"events\":" + std::to_string(s.events()) + ",\"lost\":" + std::to_string(s.lost()) +
             ",\"limits\":" + json_string(s.limits());
    };
    return block(o, round, walk ? "walk" : "given", *dirs, new_ids(*before, *after), nullptr, extra);
  };
  const auto with_procmond = [&](int round) -> std::expected<void, std::string> {
    auto before = bpf_programs(kPrefix);
    if (!before) return std::unexpected(before.error());
    // TierAgent::start makes only its tier's dir: the round's goes first.
    const std::string round_dir = o.work_dir + "/round" + std::to_string(round);
    if (::mkdir(round_dir.c_str(), 0700) != 0) return std::unexpected(round_dir + ": " + std::strerror(errno));
    auto agent = TierAgent::start(o.agent, round_dir, "ebpf");
    if (!agent) return std::unexpected("agent: " + agent.error());
    auto after = bpf_programs(kPrefix);
    if (!after) return std::unexpected(after.error());
    return block(o, round, "procmond", *dirs, new_ids(*before, *after), &*agent, {});
  };
  for (int round = 1; round <= o.exec_rounds; ++round) {
    for (int k = 0; k < 4; ++k) {
      const int mode = (round - 1 + k) % 4;
      std::expected<void, std::string> r;
      if (mode == 0) r = block(o, round, "none", *dirs, {}, nullptr, {});
      else if (mode == 1) r = in_process(round, false);
      else if (mode == 2) r = in_process(round, true);
      else r = with_procmond(round);
      if (!r) return r;
    }
  }
  return {};
}

}  // namespace airssys::daemoneye::bench
