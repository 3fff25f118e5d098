// A full collection (Collector::collect) against the peer, `ps -eo
// pid,ppid,uid,comm,args,lstart` with its output to /dev/null, over the same
// process set in the same run. Each collector variant lives in a forked
// worker process of its own, as procmond's collector does: the /proc/PID
// directory fds a Collector keeps between collections come from a budget per
// process (half of RLIMIT_NOFILE), so two collectors in one process would
// share it. main() raised the soft fd limit to the hard one first, as
// procmond does. Per iteration, in this order:
//   cold    a new Collector for every collection (nothing known, empty hash
//           cache): every process and executable is new to it (the files
//           themselves are in the page cache after the first iteration)
//   warm    one long-lived Collector with hashing, as procmond runs it
//           (warmed by one untimed collection)
//   nohash  the same with hash = false
//   ps      posix_spawn + wait of ps (so it includes ps's fork/exec, ~1 ms)
//   floor   not a collector: list /proc and open+read+close /proc/PID/stat
//           of every pid (3 system calls a process), the least a poller that
//           opens files does; it shows what this machine's system calls allow
//   pread   not a collector: the same stat files kept open from before the
//           loop and re-read with pread (1 system call a process)
//   null    200,000 getppid() calls: the cost of entering the kernel here
// Interleaving keeps a change of machine load from favouring one side. The
// collection time is measured inside the worker around collect().

#include "children.hpp"
#include "host.hpp"
#include "scenarios.hpp"
#include "stats.hpp"

#include <airssys/daemoneye/collector.hpp>
#include <airssys/osl/proc.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <type_traits>

namespace airssys::daemoneye::bench {

namespace {

enum class Variant : char { cold, warm, nohash };

// What a worker sends back per collection (a plain struct over a pipe).
struct Sample {
  bool ok = false;
  double ms = 0;
  CollectStats stats;
  HashStats hash;
  char error[256] = {};
};
static_assert(std::is_trivially_copyable_v<Sample>);

bool read_all(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = ::read(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    b += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_all(int fd, const void* p, std::size_t n) {
  const auto* b = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t r = ::write(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    b += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = std::exchange(o.fd, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// The worker's loop: one collection per byte received, a Sample back each.
int worker_main(Variant v, int in, int out) {
  std::unique_ptr<Collector> kept;
  char cmd = 0;
  while (read_all(in, &cmd, 1)) {
    Sample s;
    std::unique_ptr<Collector> fresh;
    Collector* c = kept.get();
    if (v == Variant::cold || !kept) {
      auto made = Collector::create(CollectorOptions{.hash = v != Variant::nohash});
      if (!made) {
        std::snprintf(s.error, sizeof s.error, "Collector::create: %s", made.error().to_string().c_str());
        write_all(out, &s, sizeof s);
        continue;
      }
      (v == Variant::cold ? fresh : kept) = std::move(*made);
      c = v == Variant::cold ? fresh.get() : kept.get();
    }
    const auto t0 = Clock::now();
    auto r = c->collect();
    s.ms = ms_since(t0);
    if (r) {
      s.ok = true;
      s.stats = r->stats;
      s.hash = c->hash_stats();
    } else {
      std::snprintf(s.error, sizeof s.error, "collect: %s", r.error().to_string().c_str());
    }
    if (!write_all(out, &s, sizeof s)) return 1;
  }
  return 0;
}

class Worker {
 public:
  static std::expected<Worker, std::string> start(Variant v) {
    int to[2], from[2];
    if (::pipe2(to, O_CLOEXEC) != 0) return std::unexpected(std::string("pipe2: ") + std::strerror(errno));
    Fd to_r(to[0]), to_w(to[1]);
    if (::pipe2(from, O_CLOEXEC) != 0) return std::unexpected(std::string("pipe2: ") + std::strerror(errno));
    Fd from_r(from[0]), from_w(from[1]);
    auto child = Child::fork(
        [&] {
          to_w.reset();  // so that the parent closing its end is our EOF
          from_r.reset();
          return worker_main(v, to_r.fd, from_w.fd);
        },
        EndWith::sigkill);
    if (!child) return std::unexpected(child.error());
    Worker w;
    w.child_ = std::move(*child);
    w.to_ = std::move(to_w);
    w.from_ = std::move(from_r);
    return w;
  }

  std::expected<Sample, std::string> collect() {
    const char cmd = 'c';
    Sample s;
    if (!write_all(to_.fd, &cmd, 1) || !read_all(from_.fd, &s, sizeof s)) {
      return std::unexpected(std::string("collector worker died"));
    }
    if (!s.ok) return std::unexpected(std::string(s.error));
    return s;
  }

 private:
  // Declared first, destroyed last: the worker sees EOF on its input, then
  // is ended and reaped.
  Child child_;
  Fd to_, from_;
};

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

// /proc/PID/stat of every pid now, kept open (the caller closes them); the fd
// limit of this process (not the workers') is raised to hold them.
std::vector<int> open_every_stat(osl::proc::Reader& reader) {
  std::vector<pid_t> pids;
  std::vector<int> fds;
  if (!reader.list_pids(pids)) return fds;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return fds;
  const rlim_t need = pids.size() + 1024;
  if (rl.rlim_cur < need) {
    rl.rlim_cur = need;
    rl.rlim_max = std::max(rl.rlim_max, need);
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

// Mean cost of the cheapest system call (getppid), µs: what entering the
// kernel costs on this machine, before any /proc work.
double null_syscall_us() {
  constexpr int kCalls = 200000;
  const auto t0 = Clock::now();
  for (int i = 0; i < kCalls; ++i) (void)::syscall(SYS_getppid);
  return ms_since(t0) * 1000.0 / kCalls;
}

std::size_t pread_every(const std::vector<int>& fds) {
  std::size_t n = 0;
  char buf[1024];
  for (int fd : fds) n += ::pread(fd, buf, sizeof buf, 0) > 0;
  return n;
}

}  // namespace

std::expected<std::vector<ProcessRecord>, std::string> collect_records() {
  auto c = Collector::create(CollectorOptions{.hash = true});
  if (!c) return std::unexpected("Collector::create: " + c.error().to_string());
  if (auto first = (*c)->collect(); !first) return std::unexpected("collect: " + first.error().to_string());
  auto r = (*c)->collect();  // the second has cpu_percent, as every later scan
  if (!r) return std::unexpected("collect: " + r.error().to_string());
  return std::move(r->processes);
}

std::expected<std::vector<ProcessRecord>, std::string> bench_collect(const Options& o) {
  auto cold = Worker::start(Variant::cold);
  if (!cold) return std::unexpected(cold.error());
  auto warm = Worker::start(Variant::warm);
  if (!warm) return std::unexpected(warm.error());
  auto nohash = Worker::start(Variant::nohash);
  if (!nohash) return std::unexpected(nohash.error());
  if (auto r = warm->collect(); !r) return std::unexpected(r.error());
  if (auto r = nohash->collect(); !r) return std::unexpected(r.error());

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
  std::size_t floor_rows = 0, pread_rows = 0;
  std::vector<double> cold_ms, warm_ms, nohash_ms, ps_ms, floor_ms, pread_ms, null_us;
  std::vector<int> stat_fds = open_every_stat(*reader);
  Sample cold_last, warm_last, nohash_last;
  for (int i = 0; i < o.runs; ++i) {
    for (auto [w, ms, last] : {std::tuple{&*cold, &cold_ms, &cold_last}, std::tuple{&*warm, &warm_ms, &warm_last},
                               std::tuple{&*nohash, &nohash_ms, &nohash_last}}) {
      auto s = w->collect();
      if (!s) return std::unexpected(s.error());
      ms->push_back(s->ms);
      *last = *s;
    }
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
    null_us.push_back(null_syscall_us());
  }
  for (int fd : stat_fds) ::close(fd);

  const Summary ps_s = summarize(ps_ms);
  const auto one = [&](const char* name, const std::vector<double>& ms, const Sample& last, bool hashed) {
    const Summary s = summarize(ms);
    char tail[256];
    std::snprintf(tail, sizeof tail,
                  ",\"processes\":%u,\"partial\":%u,\"vanished\":%u,\"failed\":%u,\"ps_over_collect_median\":%.2f",
                  last.stats.total, last.stats.partial, last.stats.vanished, last.stats.failed, ps_s.median / s.median);
    std::string line = "\"bench\":\"collect_" + std::string(name) + "\"," + json_summary("ms", s) + tail;
    if (hashed) {
      line += ",\"hash_misses\":" + std::to_string(last.hash.misses) + ",\"hash_hits\":" + std::to_string(last.hash.hits) +
              ",\"hash_skipped\":" + std::to_string(last.hash.skipped);
    }
    emit(line);
  };
  one("cold", cold_ms, cold_last, true);
  one("warm", warm_ms, warm_last, true);
  one("nohash", nohash_ms, nohash_last, false);
  emit("\"bench\":\"ps\",\"cmd\":" + json_string(o.ps + " -eo pid,ppid,uid,comm,args,lstart >/dev/null") + "," +
       json_summary("ms", ps_s) + ",\"ps_rows\":" + std::to_string(ps_rows));
  emit("\"bench\":\"floor_stat_open_read_close\"," + json_summary("ms", summarize(floor_ms)) +
       ",\"processes\":" + std::to_string(floor_rows));
  emit("\"bench\":\"null_syscall_getppid\"," + json_summary("us", summarize(null_us)));
  if (!pread_ms.empty()) {
    emit("\"bench\":\"floor_stat_pread_open_fds\"," + json_summary("ms", summarize(pread_ms)) +
         ",\"processes\":" + std::to_string(pread_rows));
  }
  return collect_records();
}

}  // namespace airssys::daemoneye::bench
