// task-watchdog's view of processes, read through osl::proc (the project's
// one /proc reader); this file maps osl::proc::Stat to ProcStat and tells
// "no such process" (ENOENT/ESRCH that kill(pid, 0) confirms: gone) from
// "cannot read it" (unknown).
#include "proc.hpp"

#include <airssys/osl/proc.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <map>

namespace airssys::watchdog {

namespace {

// ProcRootForTesting's root; null (the usual case): /proc through osl's
// one-shot read_stat. Constant-initialised: cmd_list's early path runs
// before dynamic initialisation (docs/task-watchdog.md, "list").
constinit std::atomic<const std::string*> g_test_root{nullptr};

ProcStat from(const osl::proc::Stat& s) {
  return ProcStat{.pid = s.pid,
                  .state = s.state,
                  .ppid = s.ppid,
                  .pgrp = s.pgrp,
                  .cpu_ticks = s.utime + s.stime,
                  .start_time = s.starttime,
                  .rss_pages = s.rss > 0 ? static_cast<std::uint64_t>(s.rss) : 0};
}

std::expected<osl::proc::Reader, osl::Error> open_reader() {
  const std::string* root = g_test_root.load();
  return root ? osl::proc::Reader::open({.proc_root = *root}) : osl::proc::Reader::open();
}

std::expected<osl::proc::Stat, osl::Error> stat_of(pid_t pid) {
  if (!g_test_root.load()) return osl::proc::read_stat(pid);
  auto reader = open_reader();
  if (!reader) return std::unexpected(reader.error());
  auto p = reader->open_process(pid);
  if (!p) return std::unexpected(p.error());
  return reader->stat(*p);
}

// Under hidepid=2 (hidepid=invisible) another user's /proc/PID does not
// exist for us: ENOENT says nothing about the process. kill(pid, 0) sends
// nothing and asks the kernel: ESRCH is no such process; EPERM (not ours
// to signal) and success mean it exists. A pid reused since the read also
// answers "exists", which only makes the caller more careful.
bool still_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  auto st = osl::proc::parse_stat(line);
  if (!st) return std::nullopt;
  return from(*st);
}

std::optional<ProcStat> read_proc_stat(pid_t pid, std::string* unreadable) {
  if (pid <= 0) return std::nullopt;  // no process has it: gone, not unreadable
  auto st = stat_of(pid);
  if (!st) {
    if (!unreadable) return std::nullopt;
    if (st.error().category != osl::ErrorCategory::not_found) {
      *unreadable = st.error().message;
    } else if (still_exists(pid)) {
      *unreadable = fmt::format("process {} exists but /proc does not show it (hidepid?)", pid);
    }
    return std::nullopt;
  }
  return from(*st);
}

std::vector<ProcStat> all_processes(std::string* unreadable) {
  std::vector<ProcStat> out;
  auto reader = open_reader();
  std::vector<pid_t> pids;
  if (!reader) {
    if (unreadable) *unreadable = reader.error().message;
    return out;
  }
  if (auto listed = reader->list_pids(pids); !listed) {
    if (unreadable) *unreadable = listed.error().message;
    return out;
  }
  out.reserve(pids.size());
  for (pid_t pid : pids) {
    // Gone since the listing, or unreadable (another user's under hidepid):
    // not a process we can act on.
    if (auto st = read_proc_stat(pid)) out.push_back(*st);
  }
  return out;
}

Presence process_presence(pid_t pid, std::optional<std::uint64_t> start_time, std::string* unreadable) {
  std::string why;
  auto st = read_proc_stat(pid, &why);
  if (!st) {
    if (why.empty()) return Presence::gone;
    if (unreadable) *unreadable = std::move(why);
    return Presence::unknown;
  }
  if (st->state == 'Z' || st->state == 'X') return Presence::gone;
  return start_time && st->start_time != *start_time ? Presence::gone : Presence::running;
}

bool not_ours_to_signal(pid_t pid) { return pid > 0 && ::kill(pid, 0) != 0 && errno == EPERM; }

namespace {

// A small file's text, not following a symlink; nullopt when it cannot be read.
std::optional<std::string> read_small(const std::string& path) {
  osl::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || text.size() > (1 << 16)) return std::nullopt;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

std::optional<std::string> read_boot_id(const std::string& path) {
  auto text = read_small(path);
  if (!text) return std::nullopt;
  while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  if (text->empty()) return std::nullopt;
  return text;
}

std::uint64_t ticks_per_second() {
  const long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? static_cast<std::uint64_t>(hz) : 100;
}

}  // namespace

std::optional<std::string> boot_id() {
  if (const std::string* root = g_test_root.load()) return read_boot_id(*root + "/sys/kernel/random/boot_id");
  static const std::optional<std::string> id = read_boot_id("/proc/sys/kernel/random/boot_id");
  return id;
}

std::optional<std::uint64_t> uptime_ticks() {
  const auto hz = ticks_per_second();
  if (const std::string* root = g_test_root.load()) {
    const auto text = read_small(*root + "/uptime");
    if (!text) return std::nullopt;
    double secs = 0;
    if (auto r = std::from_chars(text->data(), text->data() + text->size(), secs); r.ec != std::errc{} || secs < 0) return std::nullopt;
    return static_cast<std::uint64_t>(secs * static_cast<double>(hz));
  }
  timespec ts{};
  if (::clock_gettime(CLOCK_BOOTTIME, &ts) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(ts.tv_sec) * hz + static_cast<std::uint64_t>(ts.tv_nsec) / (1'000'000'000 / hz);
}

bool process_gone(pid_t pid, std::optional<std::uint64_t> start_time) {
  return process_presence(pid, start_time) == Presence::gone;
}

std::vector<ProcStat> descendants_of(pid_t root, const std::vector<ProcStat>& procs) {
  std::multimap<pid_t, const ProcStat*> children;
  for (const auto& p : procs) children.emplace(p.ppid, &p);
  std::vector<ProcStat> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty() && out.size() < procs.size()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto [b, e] = children.equal_range(parent);
    for (auto it = b; it != e; ++it) {
      if (it->second->pid == root) continue;
      out.push_back(*it->second);
      todo.push_back(it->second->pid);
    }
  }
  return out;
}

ProcRootForTesting::ProcRootForTesting(std::filesystem::path root) : root_(root.string()) { g_test_root.store(&root_); }

ProcRootForTesting::~ProcRootForTesting() { g_test_root.store(nullptr); }

}  // namespace airssys::watchdog
