// osl_bench — what the airssys-osl pipeline adds to an operation.
//
// For fs.stat and fs.read (4 KiB file) it measures, one call at a time, the
// raw system calls and the same operation through System::run with a
// 100-rule policy and a file audit sink, and prints the medians and the
// difference. For process.spawn it measures spawn+wait of /bin/true through
// the pipeline next to posix_spawn+waitpid. One JSON line per scenario.
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

template <class F>
Stats measure(std::size_t n, F&& f) {
  std::vector<double> ns(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    f();
    ns[i] = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  }
  std::sort(ns.begin(), ns.end());
  return {ns[n / 2], ns[std::min(n - 1, n * 99 / 100)]};
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
  const Stats raw_stat = measure(iters, [&] { ::stat(file.c_str(), &st); });
  const Stats osl_stat = measure(iters, [&] {
    auto r = sys.run("bench", osl::fs::Stat{file});
    if (!r) std::abort();
  });
  (void)sys.flush_audit(std::chrono::seconds(60));
  char buf[8192];
  const Stats raw_read = measure(iters, [&] {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat s {};
    ::fstat(fd, &s);
    std::string out(static_cast<std::size_t>(s.st_size), '\0');
    if (::read(fd, out.data(), out.size()) != 4096) std::abort();
    ::close(fd);
    (void)buf;
  });
  const Stats osl_read = measure(iters, [&] {
    auto r = sys.run("bench", osl::fs::Read{file});
    if (!r || r->size() != 4096) std::abort();
  });
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
  line("process.spawn_wait_true", raw_spawn, osl_spawn, "posix_spawn");
  std::printf("{\"bench\":\"kernel_calls\",\"getpid_median_ns\":%.0f,\"stat_median_ns\":%.0f,"
              "\"openat2_fstat_close_median_ns\":%.0f}\n",
              one_call.median_ns, raw_stat.median_ns, safe_stat.median_ns);
  std::filesystem::remove_all(dir);
  return 0;
}
