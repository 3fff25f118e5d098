#pragma once
// Read-only facts about processes, for finding a task's processes. Read
// through osl::proc, the project's one /proc reader. Signals never go
// through here: they go through airssys-osl.
//
// "Gone" and "cannot tell" are different answers: a /proc entry that does
// not exist (ENOENT/ESRCH) and a pid kill(pid, 0) does not know (ESRCH)
// mean the process ended; an entry the kernel refuses to show (EACCES under
// hidepid=1, another error) or hides while the process exists (ENOENT for
// another user's process under hidepid=2) says nothing, and a caller that
// must verify a kill has to treat it as possibly running.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
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
// nullopt when the process does not exist or cannot be read; `unreadable`,
// when given, receives the reason in the second case and is left alone in
// the first. Only with `unreadable` is a missing entry checked against
// kill(pid, 0) (hidepid=2); without it both cases are just nullopt.
[[nodiscard]] std::optional<ProcStat> read_proc_stat(pid_t pid, std::string* unreadable = nullptr);
// Every process visible in /proc. `unreadable`, when given, receives the
// reason when /proc itself cannot be listed (the result is then empty).
[[nodiscard]] std::vector<ProcStat> all_processes(std::string* unreadable = nullptr);

enum class Presence {
  running,  // the process exists, is not a zombie, and has the start time asked for
  gone,     // no such process, a zombie, or another process that reuses the PID
  unknown,  // its /proc entry could not be read (EACCES under hidepid, …): cannot tell
};
// `unreadable`, when given, receives the reason for `unknown`.
[[nodiscard]] Presence process_presence(pid_t pid, std::optional<std::uint64_t> start_time = std::nullopt,
                                        std::string* unreadable = nullptr);

// True when the kernel says `pid` exists but is not ours to signal
// (kill(pid, 0) fails with EPERM): its real and saved uid are neither our
// real nor our effective uid. With ProcRootForTesting still the real kernel.
[[nodiscard]] bool not_ours_to_signal(pid_t pid);

// This boot's id (/proc/sys/kernel/random/boot_id: a random UUID the kernel
// draws at boot; no clock step moves it, and containers share the host's).
// Read once per process (no process outlives its boot); nullopt when it
// cannot be read. Under ProcRootForTesting, read from
// ROOT/sys/kernel/random/boot_id at every call (none there: nullopt).
[[nodiscard]] std::optional<std::string> boot_id();

// Time since this boot began in clock ticks, the unit of
// ProcStat::start_time, from CLOCK_BOOTTIME (the clock that start time
// counts; the wall clock's steps do not move it). Under ProcRootForTesting,
// from ROOT/uptime, as /proc/uptime (none there: nullopt).
[[nodiscard]] std::optional<std::uint64_t> uptime_ticks();

// True when `pid` is known not to run any more (process_presence == gone).
// "Cannot tell" is not gone.
[[nodiscard]] bool process_gone(pid_t pid, std::optional<std::uint64_t> start_time = std::nullopt);

// Descendants of `root` (not `root` itself) in `procs`.
[[nodiscard]] std::vector<ProcStat> descendants_of(pid_t root, const std::vector<ProcStat>& procs);

// Tests only: while alive, the functions above read `root` instead of /proc
// (a fake tree whose entries can be made unreadable). A pid with no entry
// there is still asked of the real kernel (kill(pid, 0)), as under
// hidepid=2: a fake "gone" process needs a pid no process can have (above
// PID_MAX_LIMIT, 4194304). One at a time; not thread-safe against concurrent
// readers.
class ProcRootForTesting {
 public:
  explicit ProcRootForTesting(std::filesystem::path root);
  ~ProcRootForTesting();
  ProcRootForTesting(const ProcRootForTesting&) = delete;
  ProcRootForTesting& operator=(const ProcRootForTesting&) = delete;

 private:
  std::string root_;
};

}  // namespace airssys::watchdog
