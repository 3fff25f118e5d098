#include "liveness.hpp"

#include "output.hpp"

#include <airssys/osl/proc.hpp>

#include <fmt/format.h>

#include <signal.h>

#include <cerrno>

namespace airssys::daemoneye::cli {

std::string_view to_string(Liveness l) noexcept {
  switch (l) {
    case Liveness::running: return "running";
    case Liveness::stale: return "stale";
    case Liveness::stopped: return "stopped";
    case Liveness::not_running: return "not_running";
  }
  return "not_running";
}

std::int64_t stale_after_seconds(const AgentStatus& s) noexcept {
  const std::int64_t interval = s.write_interval_ms > 0 ? (s.write_interval_ms + 999) / 1000 : 5;
  return 3 * interval + 10;
}

namespace {

// True while `pid` is the process that wrote the status: same start ticks
// (a recycled pid has others), not a zombie.
bool same_process_alive(std::int64_t pid, std::uint64_t start_ticks) {
  if (pid <= 0) return false;
  auto st = osl::proc::read_stat(static_cast<pid_t>(pid));
  if (st) return !st->zombie() && (start_ticks == 0 || st->starttime == start_ticks);
  if (st.error().category == osl::ErrorCategory::not_found) return false;
  // /proc hides it from us (hidepid): the signal test still tells whether the pid exists.
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

LivenessReport assess(const AgentStatus& s, std::int64_t now) {
  LivenessReport r;
  r.age = now - s.updated_at;
  if (s.state == AgentState::stopped) {
    r.state = Liveness::stopped;
    r.reason = fmt::format("the agent (pid {}) stopped cleanly at {} ({} ago)", s.pid, utc_time(s.updated_at),
                           age_text(r.age));
    return r;
  }
  if (!same_process_alive(s.pid, s.start_ticks)) {
    r.state = Liveness::not_running;
    r.reason = fmt::format("the agent (pid {}) is not running: it did not stop cleanly (crashed or was killed); "
                           "its last status is from {} ({} ago)",
                           s.pid, utc_time(s.updated_at), age_text(r.age));
    return r;
  }
  if (r.age > stale_after_seconds(s)) {
    r.state = Liveness::stale;
    r.reason = fmt::format("the agent (pid {}) is alive but its status is stale: last written {} ago (it writes every "
                           "{} ms; stale after {} s) — its scan loop may be stuck",
                           s.pid, age_text(r.age), s.write_interval_ms, stale_after_seconds(s));
    return r;
  }
  r.state = Liveness::running;
  r.reason = fmt::format("the agent (pid {}) is running; status written {} ago", s.pid, age_text(r.age));
  return r;
}

}  // namespace airssys::daemoneye::cli
