#pragma once
// What can be seen of a live native task right now, and the state the
// commands that show a task (status, report, rehydrate, logs --follow) give
// it. Internal.
//
// "Cannot tell" is its own answer: a process or monitor /proc cannot show
// (hidepid: an unreadable entry, or none for a pid kill(pid, 0) knows) may
// run, so a task of which nothing was seen but something was hidden is
// "<state> (unverified: /proc hides pid N)", never "lost"; so is a leader
// recorded without a start time whose pid runs. A record from before this
// boot, and a monitor pid the kernel says is not ours to signal when the
// caller started the task, are gone (kill_tree.hpp). A cgroup member
// /proc hides runs (cgroup.procs lists no zombie): it counts as alive.
// Nothing here writes the registry.

#include <airssys/watchdog/registry.hpp>

#include "proc.hpp"

#include <cstddef>
#include <string>

namespace airssys::watchdog {

struct SeenTask {
  std::size_t alive = 0;  // processes seen running, plus cgroup members /proc hides
  // The recorded monitor with its recorded start time; gone when none is recorded.
  Presence monitor = Presence::gone;
  // Non-empty when /proc could not show the monitor or a process of the
  // task: the first such error, in full. `alive` may then be short.
  std::string unverified;
  // The same in a few words for the state: "/proc hides pid N", "/proc hides
  // monitor pid N", "/proc cannot be listed", "no start time recorded for
  // pid N" (a leader /proc hid after its exec whose pid now shows a process).
  std::string unverified_short;
};

// Reads /proc (and the task's cgroups) for a native task's processes and its monitor.
[[nodiscard]] SeenTask see_native_task(const TaskRecord& t);

// The state shown for `t` given what was seen: the recorded state when it is
// terminal or the monitor runs; "<state> (unverified: …)" when the monitor
// cannot be seen, or it is gone and nothing was seen but something was
// hidden; "<state> (monitor gone: deadline not enforced)" when it is gone
// and something runs; "lost" when it is gone and nothing runs.
[[nodiscard]] std::string shown_state(const TaskRecord& t, const SeenTask& seen);

}  // namespace airssys::watchdog
