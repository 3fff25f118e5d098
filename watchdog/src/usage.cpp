#include "usage.hpp"

#include "proc.hpp"

#include <airssys/osl/cgroup.hpp>

#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <string>
#include <thread>

namespace airssys::watchdog {

namespace {

// A cgroup file's text, or nullopt. The directory comes from a registry
// record, so what sits there is not trusted: osl's reader does not follow a
// symbolic link or wait on a planted FIFO.
std::optional<std::string> read_cgroup_file(const std::string& dir, const char* file) {
  if (dir.empty()) return std::nullopt;
  return osl::cgroup::read_file(std::filesystem::path(dir) / file);
}

std::optional<std::uint64_t> cgroup_cpu_usec(const std::string& cgroup) {
  const auto text = read_cgroup_file(cgroup, "cpu.stat");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "usage_usec") return value;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> read_number(const std::string& dir, const char* file) {
  const auto text = read_cgroup_file(dir, file);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::uint64_t v = 0;
  if (in >> v) return v;
  return std::nullopt;
}

// CPU time of the task's live processes, in microseconds, and their RSS.
struct ProcSample {
  std::uint64_t cpu_usec = 0;
  std::uint64_t rss_bytes = 0;
  std::size_t count = 0;
};

ProcSample proc_sample(const TaskProcesses& t) {
  static const long ticks = ::sysconf(_SC_CLK_TCK);
  static const long page = ::sysconf(_SC_PAGESIZE);
  ProcSample s;
  for (const auto& p : collect_processes(t)) {
    auto st = read_proc_stat(p.pid);
    if (!st || st->start_time != p.start_time) continue;
    s.cpu_usec += st->cpu_ticks * 1'000'000 / static_cast<std::uint64_t>(ticks > 0 ? ticks : 100);
    s.rss_bytes += st->rss_pages * static_cast<std::uint64_t>(page > 0 ? page : 4096);
    ++s.count;
  }
  return s;
}

}  // namespace

std::optional<Usage> sample_usage(const TaskProcesses& t, std::chrono::milliseconds interval) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto cg0 = cgroup_cpu_usec(t.cgroup);
  const auto p0 = proc_sample(t);
  if (p0.count == 0) return std::nullopt;
  std::this_thread::sleep_for(interval);
  const auto cg1 = cgroup_cpu_usec(t.cgroup);
  const auto p1 = proc_sample(t);
  const auto wall_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  Usage u;
  u.processes = p1.count;
  std::uint64_t cpu = 0;
  if (cg0 && cg1 && *cg1 >= *cg0) {
    cpu = *cg1 - *cg0;
  } else if (p1.cpu_usec >= p0.cpu_usec) {
    cpu = p1.cpu_usec - p0.cpu_usec;  // processes that ended in between are not counted
  }
  u.cpu_percent = wall_us > 0 ? 100.0 * static_cast<double>(cpu) / static_cast<double>(wall_us) : 0;
  const auto v1_memory = t.v1.find("memory");
  if (auto m = read_number(t.cgroup, "memory.current")) {
    u.memory_bytes = *m;
    u.memory_source = "memory.current";
  } else if (auto m1 = v1_memory == t.v1.end() ? std::nullopt : read_number(v1_memory->second, "memory.usage_in_bytes")) {
    u.memory_bytes = *m1;
    u.memory_source = "memory.usage_in_bytes";
  } else {
    u.memory_bytes = p1.rss_bytes;
    u.memory_source = "rss-sum";
  }
  return u;
}

}  // namespace airssys::watchdog
