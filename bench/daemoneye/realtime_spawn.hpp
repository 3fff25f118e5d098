#pragma once
// Short-lived children of the real-time benchmark, started as fast as the
// host allows: posix_spawn with no file actions (they inherit /dev/null-free
// stdio but write nothing), reaped by pid without blocking. They end by
// themselves within milliseconds, so they are not in the cleanup handler's
// table; ShortChildren reaps (and, if still running, SIGKILLs) whatever is
// left when destroyed.
//
// Not thread-safe.

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

namespace airssys::daemoneye::bench {

// CLOCK_REALTIME in Unix nanoseconds (the clock process_events.time_ns uses).
[[nodiscard]] std::int64_t realtime_ns() noexcept;

class ShortChildren {
 public:
  ShortChildren() = default;
  ShortChildren(const ShortChildren&) = delete;
  ShortChildren& operator=(const ShortChildren&) = delete;
  ~ShortChildren();

  [[nodiscard]] std::expected<pid_t, std::string> spawn(const std::vector<std::string>& argv);
  // Reaps those that have exited; returns how many are still running.
  std::size_t reap();
  // Waits for every one (SIGKILL first if `kill`).
  void reap_all(bool kill = false) noexcept;
  // Children that did not exit 0.
  [[nodiscard]] std::size_t failed() const noexcept { return failed_; }

 private:
  std::vector<pid_t> running_;
  std::size_t failed_ = 0;
};

}  // namespace airssys::daemoneye::bench
