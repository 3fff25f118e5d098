#include "task_seen.hpp"

#include "kill_tree.hpp"

#include <fmt/format.h>

namespace airssys::watchdog {

namespace {

void monitor_of(const TaskRecord& t, SeenTask& seen) {
  if (!t.monitor_pid) return;
  const auto pid = static_cast<pid_t>(*t.monitor_pid);
  std::string why;
  seen.monitor = monitor_presence(t, &why);
  if (seen.monitor == Presence::unknown && seen.unverified.empty()) {
    seen.unverified = "monitor: " + why;
    seen.unverified_short = fmt::format("/proc hides monitor pid {}", pid);
  }
}

}  // namespace

SeenTask see_native_task(const TaskRecord& t) {
  SeenTask seen;
  const auto found = collect_processes_checked(task_processes(t));
  seen.alive = found.pids.size() + found.hidden_members.size();
  if (found.unreadable > 0) {
    seen.unverified = found.reason;
    seen.unverified_short = found.untimed              ? fmt::format("no start time recorded for pid {}", found.unreadable_pid)
                            : found.unreadable_pid > 0 ? fmt::format("/proc hides pid {}", found.unreadable_pid)
                                                       : "/proc cannot be listed";
  }
  monitor_of(t, seen);
  return seen;
}

std::string shown_state(const TaskRecord& t, const SeenTask& seen) {
  std::string state(to_string(t.state));
  if (is_terminal(t.state) || seen.monitor == Presence::running) return state;
  if (seen.monitor == Presence::unknown) return state + " (unverified: " + seen.unverified_short + ")";
  if (seen.alive > 0) return state + " (monitor gone: deadline not enforced)";
  if (!seen.unverified.empty()) return state + " (unverified: " + seen.unverified_short + ")";
  return "lost";
}

}  // namespace airssys::watchdog
