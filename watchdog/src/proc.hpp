#pragma once
// Read-only facts about processes, for finding a task's processes. Read
// through osl::proc, the project's one /proc reader. Signals never go
// through here: they go through airssys-osl.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace airssys::watchdog {

struct ProcStat {
  pid_t pid = 0;
  char state = '?';  // 'R', 'S', 'Z', …
  pid_t ppid = 0;
  pid_t pgrp = 0;
  std::uint64_t cpu_ticks = 0;   // utime + stime (fields 14, 15)
  std::uint64_t start_time = 0;  // clock ticks since boot (field 22)
  std::uint64_t rss_pages = 0;   // field 24
};

// Parses one /proc/PID/stat line.
[[nodiscard]] std::optional<ProcStat> parse_proc_stat(std::string_view line);
[[nodiscard]] std::optional<ProcStat> read_proc_stat(pid_t pid);
// Every process visible in /proc.
[[nodiscard]] std::vector<ProcStat> all_processes();

// True when `pid` no longer runs: it does not exist, is a zombie, or (when
// `start_time` is given) is a different process that reuses the PID.
[[nodiscard]] bool process_gone(pid_t pid, std::optional<std::uint64_t> start_time = std::nullopt);

// Descendants of `root` (not `root` itself) in `procs`.
[[nodiscard]] std::vector<ProcStat> descendants_of(pid_t root, const std::vector<ProcStat>& procs);

}  // namespace airssys::watchdog
