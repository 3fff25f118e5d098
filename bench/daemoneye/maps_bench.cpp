// What process_memory_map costs procmond's collection (docs/BENCHMARKS.md
// "process_memory_map"). One process, three things per round, interleaved
// so a change of machine load favours none:
//   off    a warm Collector without memory maps, as before
//   on     a warm Collector with them: maps read at first sight and when a
//          process's vsize changes, else the last rows given again
//   every  not a collector: read_executable_maps of every pid, what reading
//          every process's maps at every collection would cost (and how
//          long the readers hold the processes' mmap locks in all)
// Also the rows and the bytes they add to the snapshot chunks on the bus.
// `--sleepers N` first starts N /bin/sleep processes (their maps are ~20
// executable regions each, libc and ld.so).
//
// Build: scripts/build release daemoneye_maps_bench; run as root (procmond's
// view): build/release/bench/daemoneye_maps_bench [--sleepers N] [--rounds R]

#include "children.hpp"

#include <airssys/daemoneye/collector.hpp>
#include <airssys/daemoneye/memory_map.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <string>
#include <vector>

namespace de = airssys::daemoneye;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double min_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

std::size_t chunk_bytes(const std::vector<de::SnapshotChunk>& chunks) {
  std::size_t n = 0;
  for (const auto& c : chunks) n += de::encode(c).size();
  return n;
}

// Every pid's executable maps, read once: rows and wall time.
std::pair<std::size_t, double> read_every() {
  const auto t0 = Clock::now();
  std::size_t rows = 0;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return {0, 0};
  while (const dirent* e = ::readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    const int fd = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) continue;
    rows += de::read_executable_maps(fd, pid).rows.size();
    ::close(fd);
  }
  ::closedir(d);
  return {rows, ms_since(t0)};
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t sleepers = 0;
  int rounds = 20;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--sleepers") == 0 && i + 1 < argc) sleepers = std::strtoul(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--sleepers N] [--rounds R]\n", argv[0]);
      return 2;
    }
  }
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
  de::bench::install_cleanup_handler();
  de::bench::Sleepers kids;
  if (sleepers > 0) {
    auto s = de::bench::Sleepers::spawn(sleepers);
    if (!s) {
      std::fprintf(stderr, "sleepers: %s\n", s.error().c_str());
      return 1;
    }
    kids = std::move(*s);
  }
  // Two collectors in one process share the kept-fd budget: each is given
  // half of it explicitly.
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  const std::size_t keep = static_cast<std::size_t>(rl.rlim_cur) / 4;
  auto off = de::Collector::create({.hash = true, .keep_open = keep, .sockets = true, .memory_maps = false});
  auto on = de::Collector::create({.hash = true, .keep_open = keep, .sockets = true, .memory_maps = true});
  if (!off || !on) {
    std::fprintf(stderr, "collector: cannot read /proc\n");
    return 1;
  }
  // The first collection reads every process's maps: shown, then warm rounds.
  auto t0 = Clock::now();
  (void)(*off)->collect();
  const double off_first = ms_since(t0);
  t0 = Clock::now();
  auto first = (*on)->collect();
  const double on_first = ms_since(t0);
  if (!first) return 1;
  std::printf("processes %zu, executable regions %zu; first collection: off %.1f ms, on %.1f ms (maps %u reads, %.1f ms)\n",
              first->processes.size(), first->memory_maps.size(), off_first, on_first, first->stats.maps_reads,
              static_cast<double>(first->stats.maps_us) / 1000.0);
  std::vector<double> t_off, t_on, t_every, maps_ms;
  std::vector<double> reads;
  std::size_t rows = 0, every_rows = 0, bytes_off = 0, bytes_on = 0;
  for (int r = 0; r < rounds; ++r) {
    t0 = Clock::now();
    auto a = (*off)->collect();
    t_off.push_back(ms_since(t0));
    t0 = Clock::now();
    auto b = (*on)->collect();
    t_on.push_back(ms_since(t0));
    auto [n, ms] = read_every();
    t_every.push_back(ms);
    every_rows = n;
    if (!a || !b) return 1;
    maps_ms.push_back(static_cast<double>(b->stats.maps_us) / 1000.0);
    reads.push_back(b->stats.maps_reads);
    rows = b->memory_maps.size();
    if (r == rounds - 1) {
      const de::SnapshotHeader h{};
      bytes_off = chunk_bytes(de::make_snapshot_chunks(a->processes, h, de::kSnapshotChunkBytes, a->sockets));
      bytes_on = chunk_bytes(
          de::make_snapshot_chunks(b->processes, h, de::kSnapshotChunkBytes, b->sockets, {}, b->memory_maps));
    }
  }
  std::printf("warm collection (%d rounds, median / min ms): off %.2f / %.2f, on %.2f / %.2f; of on, maps %.2f / %.2f "
              "(%.0f maps re-read per collection, median)\n",
              rounds, median(t_off), min_of(t_off), median(t_on), min_of(t_on), median(maps_ms), min_of(maps_ms),
              median(reads));
  std::printf("reading every process's maps: %.2f / %.2f ms (%zu rows)\n", median(t_every), min_of(t_every),
              every_rows);
  std::printf("rows %zu; snapshot bytes per collection: off %zu, on %zu (+%zu)\n", rows, bytes_off, bytes_on,
              bytes_on - bytes_off);
  return 0;
}
