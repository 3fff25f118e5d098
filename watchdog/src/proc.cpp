// task-watchdog's view of processes, read through osl::proc (the project's
// one /proc reader); this file only maps osl::proc::Stat to ProcStat.
#include "proc.hpp"

#include <airssys/osl/proc.hpp>

#include <map>

namespace airssys::watchdog {

namespace {

ProcStat from(const osl::proc::Stat& s) {
  return ProcStat{.pid = s.pid,
                  .state = s.state,
                  .ppid = s.ppid,
                  .pgrp = s.pgrp,
                  .cpu_ticks = s.utime + s.stime,
                  .start_time = s.starttime,
                  .rss_pages = s.rss > 0 ? static_cast<std::uint64_t>(s.rss) : 0};
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  auto st = osl::proc::parse_stat(line);
  if (!st) return std::nullopt;
  return from(*st);
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  auto st = osl::proc::read_stat(pid);
  if (!st) return std::nullopt;
  return from(*st);
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> out;
  auto reader = osl::proc::Reader::open();
  if (!reader) return out;
  std::vector<pid_t> pids;
  if (!reader->list_pids(pids)) return out;
  out.reserve(pids.size());
  for (pid_t pid : pids) {
    // Gone since the listing, or unreadable: not a process we can act on.
    if (auto st = osl::proc::read_stat(pid)) out.push_back(from(*st));
  }
  return out;
}

bool process_gone(pid_t pid, std::optional<std::uint64_t> start_time) {
  auto st = read_proc_stat(pid);
  if (!st) return true;
  if (st->state == 'Z' || st->state == 'X') return true;
  return start_time && st->start_time != *start_time;
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

}  // namespace airssys::watchdog
