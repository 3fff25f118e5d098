// A full collection (Collector::collect) against the peer, `ps -eo
// pid,ppid,uid,comm,args,lstart` with its output to /dev/null, over the same
// process set in the same run. Per iteration, in this order:
//   cold    a new Collector (empty hash cache, no earlier collection): its
//           first collect(), hashing every distinct executable (the files
//           themselves are in the page cache after the first iteration)
//   warm    one long-lived Collector with hashing, as procmond runs it (its
//           cache filled by an untimed first collection)
//   nohash  one long-lived Collector with hash = false
//   ps      posix_spawn + wait of ps (so it includes ps's fork/exec, ~1 ms)
//   floor   not a collector: list /proc and open+read+close /proc/PID/stat
//           of every pid (3 system calls a process), the least any /proc
//           poller does; it shows what this machine's system calls allow
//   pread   not a collector: the same stat files kept open from before the
//           loop and re-read with pread (1 system call a process), when
//           RLIMIT_NOFILE can be raised to hold them
// Interleaving keeps a change of machine load from favouring one side.

#include "children.hpp"
#include "host.hpp"
#include "scenarios.hpp"
#include "stats.hpp"

#include <airssys/daemoneye/collector.hpp>

#include <airssys/osl/proc.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace airssys::daemoneye::bench {

namespace {

std::expected<std::unique_ptr<Collector>, std::string> make_collector(bool hash) {
  auto c = Collector::create(CollectorOptions{.hash = hash});
  if (!c) return std::unexpected("Collector::create: " + c.error().to_string());
  return std::move(*c);
}

std::expected<CollectResult, std::string> timed_collect(Collector& c, std::vector<double>& ms) {
  const auto t0 = Clock::now();
  auto r = c.collect();
  ms.push_back(ms_since(t0));
  if (!r) return std::unexpected("collect: " + r.error().to_string());
  return std::move(*r);
}

std::string count_json(const CollectResult& r) {
  return "\"processes\":" + std::to_string(r.stats.total) + ",\"partial\":" + std::to_string(r.stats.partial) +
         ",\"vanished\":" + std::to_string(r.stats.vanished) + ",\"failed\":" + std::to_string(r.stats.failed);
}

// Processes whose stat was read.
std::size_t read_every_stat(osl::proc::Reader& reader, std::vector<pid_t>& pids) {
  if (!reader.list_pids(pids)) return 0;
  std::size_t n = 0;
  char path[64];
  char buf[1024];
  for (pid_t p : pids) {
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(p));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::read(fd, buf, sizeof buf) > 0) ++n;
    ::close(fd);
  }
  return n;
}

// /proc/PID/stat of every pid now, kept open; empty if the fd limit cannot
// hold them all. Closed by the caller (close_all).
std::vector<int> open_every_stat(osl::proc::Reader& reader) {
  std::vector<pid_t> pids;
  std::vector<int> fds;
  if (!reader.list_pids(pids)) return fds;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return fds;
  const rlim_t need = pids.size() + 256;
  if (rl.rlim_cur < need) {
    rl.rlim_cur = need;
    if (rl.rlim_max < need) rl.rlim_max = need;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return fds;
  }
  char path[64];
  for (pid_t p : pids) {
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(p));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) fds.push_back(fd);
  }
  return fds;
}

std::size_t pread_every(const std::vector<int>& fds) {
  std::size_t n = 0;
  char buf[1024];
  for (int fd : fds) n += ::pread(fd, buf, sizeof buf, 0) > 0;
  return n;
}

}  // namespace

std::expected<std::vector<ProcessRecord>, std::string> collect_records() {
  auto c = make_collector(true);
  if (!c) return std::unexpected(c.error());
  if (auto first = (*c)->collect(); !first) return std::unexpected("collect: " + first.error().to_string());
  auto r = (*c)->collect();  // the second has cpu_percent, as every later scan
  if (!r) return std::unexpected("collect: " + r.error().to_string());
  return std::move(r->processes);
}

std::expected<std::vector<ProcessRecord>, std::string> bench_collect(const Options& o) {
  auto warm = make_collector(true);
  if (!warm) return std::unexpected(warm.error());
  auto nohash = make_collector(false);
  if (!nohash) return std::unexpected(nohash.error());
  if (auto r = (*warm)->collect(); !r) return std::unexpected("collect: " + r.error().to_string());
  if (auto r = (*nohash)->collect(); !r) return std::unexpected("collect: " + r.error().to_string());

  const std::vector<std::string> ps = {o.ps, "-eo", "pid,ppid,uid,comm,args,lstart"};
  // How many lines ps prints for this process set (header excluded): the
  // peer must see what the collector sees.
  std::size_t ps_rows = 0;
  {
    const std::string out = o.work_dir + "/ps.txt";
    auto c = Child::spawn(ps, EndWith::sigkill, {.stdout_path = out});
    if (!c) return std::unexpected(c.error());
    if (const int st = c->wait(); !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      return std::unexpected(o.ps + " failed (wait status " + std::to_string(st) + ")");
    }
    if (auto text = read_text(out)) {
      for (char ch : *text) ps_rows += ch == '\n';
      ps_rows = ps_rows > 0 ? ps_rows - 1 : 0;
    }
  }

  auto reader = osl::proc::Reader::open();
  if (!reader) return std::unexpected("osl::proc::Reader::open: " + reader.error().to_string());
  std::vector<pid_t> pids;
  std::size_t floor_rows = 0;
  std::vector<double> cold_ms, warm_ms, nohash_ms, ps_ms, floor_ms, pread_ms;
  std::vector<int> stat_fds = open_every_stat(*reader);
  std::size_t pread_rows = 0;
  CollectResult cold_last, warm_last, nohash_last;
  HashStats cold_hash{};
  for (int i = 0; i < o.runs; ++i) {
    auto cold = make_collector(true);
    if (!cold) return std::unexpected(cold.error());
    auto c = timed_collect(**cold, cold_ms);
    if (!c) return std::unexpected(c.error());
    cold_last = std::move(*c);
    cold_hash = (*cold)->hash_stats();
    auto w = timed_collect(**warm, warm_ms);
    if (!w) return std::unexpected(w.error());
    warm_last = std::move(*w);
    auto n = timed_collect(**nohash, nohash_ms);
    if (!n) return std::unexpected(n.error());
    nohash_last = std::move(*n);
    const auto t0 = Clock::now();
    auto st = run_quiet(ps);
    ps_ms.push_back(ms_since(t0));
    if (!st) return std::unexpected(st.error());
    if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) return std::unexpected(o.ps + " failed (wait status " + std::to_string(*st) + ")");
    const auto f0 = Clock::now();
    floor_rows = read_every_stat(*reader, pids);
    floor_ms.push_back(ms_since(f0));
    if (!stat_fds.empty()) {
      const auto g0 = Clock::now();
      pread_rows = pread_every(stat_fds);
      pread_ms.push_back(ms_since(g0));
    }
  }
  for (int fd : stat_fds) ::close(fd);
  const Summary ps_s = summarize(ps_ms);
  const auto one = [&](const char* name, const std::vector<double>& ms, const CollectResult& last, const HashStats* hs) {
    const Summary s = summarize(ms);
    char ratio[128];
    std::snprintf(ratio, sizeof ratio, ",\"ps_over_collect_median\":%.2f", ps_s.median / s.median);
    std::string line = "\"bench\":\"collect_" + std::string(name) + "\"," + json_summary("ms", s) + "," + count_json(last) + ratio;
    if (hs) {
      line += ",\"hash_misses\":" + std::to_string(hs->misses) + ",\"hash_hits\":" + std::to_string(hs->hits) +
              ",\"hash_skipped\":" + std::to_string(hs->skipped);
    }
    emit(line);
  };
  one("cold", cold_ms, cold_last, &cold_hash);
  one("warm", warm_ms, warm_last, &(*warm)->hash_stats());
  one("nohash", nohash_ms, nohash_last, nullptr);
  emit("\"bench\":\"ps\",\"cmd\":" + json_string(o.ps + " -eo pid,ppid,uid,comm,args,lstart >/dev/null") + "," +
       json_summary("ms", ps_s) + ",\"ps_rows\":" + std::to_string(ps_rows));
  emit("\"bench\":\"floor_stat_only\"," + json_summary("ms", summarize(floor_ms)) +
       ",\"processes\":" + std::to_string(floor_rows));
  if (!pread_ms.empty()) {
    emit("\"bench\":\"floor_stat_pread_open_fds\"," + json_summary("ms", summarize(pread_ms)) +
         ",\"processes\":" + std::to_string(pread_rows));
  }
  return std::move(warm_last.processes);
}

}  // namespace airssys::daemoneye::bench
