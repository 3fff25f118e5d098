// osl_bench — what the airssys-osl pipeline adds to an operation.
//
// For fs.stat and fs.read (4 KiB file) it measures, one call at a time, the
// raw system calls and the same operation through System::run with a
// 100-rule policy and a file audit sink, and prints the medians and the
// difference. For process.spawn it measures spawn+wait of /bin/true through
// the pipeline next to posix_spawn+waitpid. One JSON line per scenario.
//
// fs.stat and fs.read are measured twice: first the raw calls, then the
// pipeline (the figures compared since 2026-11-22), then the two alternated
// in blocks of 100 calls ("fs.stat_interleaved", "fs.read_4k_interleaved").
// On a VM whose kernel calls cost half as much again for seconds at a time,
// the phases of the first way can land in different states; interleaved,
// both sides see the same state and the difference of the medians is what
// the pipeline adds.
//
// usage: osl_bench [--iterations N] [--spawn-iterations N] [--no-audit]
// (--no-audit: no sink, to separate the audit log's share of the cost)

#include <airssys/osl/system.hpp>

#include <fcntl.h>
#include <linux/openat2.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace osl = airssys::osl;

struct Stats {
  double median_ns;
  double p99_ns;
};

Stats stats_of(std::vector<double>& ns) {
  std::sort(ns.begin(), ns.end());
  const std::size_t n = ns.size();
  return {ns[n / 2], ns[std::min(n - 1, n * 99 / 100)]};
}

template <class F>
double time_one(F& f) {
  const auto t0 = Clock::now();
  f();
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
}

template <class F>
Stats measure(std::size_t n, F&& f) {
  std::vector<double> ns(n);
  for (std::size_t i = 0; i < n; ++i) ns[i] = time_one(f);
  return stats_of(ns);
}

// n calls of each, alternated in blocks of 100: {a's stats, b's stats}.
template <class A, class B>
std::pair<Stats, Stats> measure_interleaved(std::size_t n, A&& a, B&& b) {
  constexpr std::size_t kBlock = 100;
  std::vector<double> ta, tb;
  ta.reserve(n);
  tb.reserve(n);
  while (ta.size() < n) {
    for (std::size_t k = 0; k < kBlock && ta.size() < n; ++k) ta.push_back(time_one(a));
    for (std::size_t k = 0; k < kBlock && tb.size() < n; ++k) tb.push_back(time_one(b));
  }
  return {stats_of(ta), stats_of(tb)};
}

std::string policy_with_100_rules(const std::string& dir) {
  // 99 rules that do not match the benchmark's path (other principals,
  // operations and trees) and, last, the one that allows it: the worst case
  // for a linear scan.
  std::string y = "version: 1\nrules:\n";
  for (int i = 0; i < 99; ++i) {
    y += fmt::format(
        "  - id: filler-{0}\n    effect: {1}\n    principals: [\"user{0}\", \"role:none\"]\n"
        "    operations: [\"fs.read\", \"fs.stat\", \"fs.write\"]\n    resources: [\"/srv/tree{0}/**\", \"/data/{0}/*.log\"]\n",
        i, i % 3 == 0 ? "deny" : "allow");
  }
  y += fmt::format(
      "  - id: bench\n    effect: allow\n    principals: [\"bench\"]\n    operations: [\"fs.*\", \"process.spawn\"]\n"
      "    resources: [\"{}/**\", \"/usr/bin/**\"]\n",
      dir);
  y = "version: 1\nroles:\n  none: {}\n" + y.substr(std::string("version: 1\n").size());
  return y;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t iters = 200000, spawn_iters = 2000;
  bool audit = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-audit") == 0) audit = false;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--iterations") == 0) iters = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--spawn-iterations") == 0) spawn_iters = std::strtoull(argv[i + 1], nullptr, 10);
  }
  char tmpl[] = "/tmp/osl-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  const std::string dir = std::filesystem::canonical(tmpl).string();
  const std::string file = dir + "/data.bin";
  {
    std::string data(4096, 'x');
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, data.data(), data.size()) != 4096) return 1;
    ::close(fd);
  }
  auto policy = osl::Policy::parse(policy_with_100_rules(dir), "bench-policy");
  if (!policy) {
    std::fprintf(stderr, "%s\n", policy.error().to_string().c_str());
    return 1;
  }
  osl::SystemOptions o;
  o.policy = *policy;
  if (audit) {
    auto sink = osl::make_file_sink({.path = dir + "/audit.jsonl", .max_bytes = 256ull << 20});
    if (!sink) return 1;
    o.audit.sinks.push_back(std::move(*sink));
  }
  osl::System sys(std::move(o));

  // Warm up caches and the writer thread.
  for (int i = 0; i < 1000; ++i) (void)sys.run("bench", osl::fs::Stat{file});

  struct stat st {};
  const auto raw_stat_call = [&] { ::stat(file.c_str(), &st); };
  const auto osl_stat_call = [&] {
    auto r = sys.run("bench", osl::fs::Stat{file});
    if (!r) std::abort();
  };
  const Stats raw_stat = measure(iters, raw_stat_call);
  const Stats osl_stat = measure(iters, osl_stat_call);
  (void)sys.flush_audit(std::chrono::seconds(60));
  const auto raw_read_call = [&] {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat s {};
    ::fstat(fd, &s);
    std::string out(static_cast<std::size_t>(s.st_size), '\0');
    if (::read(fd, out.data(), out.size()) != 4096) std::abort();
    ::close(fd);
  };
  const auto osl_read_call = [&] {
    auto r = sys.run("bench", osl::fs::Read{file});
    if (!r || r->size() != 4096) std::abort();
  };
  const Stats raw_read = measure(iters, raw_read_call);
  const Stats osl_read = measure(iters, osl_read_call);
  (void)sys.flush_audit(std::chrono::seconds(60));
  const auto [raw_stat_i, osl_stat_i] = measure_interleaved(iters, raw_stat_call, osl_stat_call);
  (void)sys.flush_audit(std::chrono::seconds(60));
  const auto [raw_read_i, osl_read_i] = measure_interleaved(iters, raw_read_call, osl_read_call);
  (void)sys.flush_audit(std::chrono::seconds(60));

  // The floor under fs.stat: what one kernel call costs on this machine
  // (getpid), and the cheapest stat that no symlink can redirect —
  // openat2(RESOLVE_NO_SYMLINKS, O_PATH) + fstat + close, the fast road's
  // three calls — next to the plain stat it is compared with.
  const Stats one_call = measure(iters, [&] { (void)::syscall(SYS_getpid); });
  const Stats safe_stat = measure(iters, [&] {
    struct open_how how {};
    how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const auto fd = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, file.c_str(), &how, sizeof how));
    if (fd < 0 || ::fstat(fd, &st) != 0) std::abort();
    ::close(fd);
  });
  // The same with statx on the O_PATH fd instead of fstat, and what a stat
  // would cost on a pinned parent directory (one fstatat: cheaper, but the
  // parent fd proves nothing about the path unless something validates it).
  struct statx sx {};
  const Stats safe_statx = measure(iters, [&] {
    struct open_how how {};
    how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const auto fd = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, file.c_str(), &how, sizeof how));
    if (fd < 0 || ::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0) std::abort();
    ::close(fd);
  });
  const int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  const Stats pinned_parent = measure(iters, [&] {
    if (::fstatat(dir_fd, "data.bin", &st, AT_SYMLINK_NOFOLLOW) != 0) std::abort();
  });
  ::close(dir_fd);

  const Stats raw_spawn = measure(spawn_iters, [&] {
    pid_t pid;
    char* const args[] = {const_cast<char*>("/bin/true"), nullptr};
    if (::posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, environ) != 0) std::abort();
    int status;
    ::waitpid(pid, &status, 0);
  });
  const Stats osl_spawn = measure(spawn_iters, [&] {
    auto p = sys.run("bench", osl::process::Spawn{{"/bin/true"}, {}});
    if (!p) std::abort();
    auto s = p->wait();
    if (!s || s->code != 0) std::abort();
  });
  (void)sys.flush_audit(std::chrono::seconds(60));

  auto line = [](const char* name, const Stats& raw, const Stats& via, const char* peer) {
    std::printf(
        "{\"bench\":\"%s\",\"osl_median_ns\":%.0f,\"osl_p99_ns\":%.0f,\"%s_median_ns\":%.0f,\"%s_p99_ns\":%.0f,"
        "\"added_median_ns\":%.0f}\n",
        name, via.median_ns, via.p99_ns, peer, raw.median_ns, peer, raw.p99_ns, via.median_ns - raw.median_ns);
  };
  line("fs.stat", raw_stat, osl_stat, "raw");
  line("fs.read_4k", raw_read, osl_read, "raw");
  line("fs.stat_interleaved", raw_stat_i, osl_stat_i, "raw");
  line("fs.read_4k_interleaved", raw_read_i, osl_read_i, "raw");
  line("process.spawn_wait_true", raw_spawn, osl_spawn, "posix_spawn");
  std::printf("{\"bench\":\"kernel_calls\",\"getpid_median_ns\":%.0f,\"stat_median_ns\":%.0f,"
              "\"openat2_fstat_close_median_ns\":%.0f,\"openat2_statx_close_median_ns\":%.0f,"
              "\"fstatat_pinned_parent_median_ns\":%.0f}\n",
              one_call.median_ns, raw_stat.median_ns, safe_stat.median_ns, safe_statx.median_ns,
              pinned_parent.median_ns);
  std::filesystem::remove_all(dir);
  return 0;
}
