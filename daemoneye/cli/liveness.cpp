#include "liveness.hpp"

#include "output.hpp"

#include <airssys/osl/proc.hpp>

#include <fmt/format.h>

#include <signal.h>
#include <sys/statvfs.h>

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

// "; the file system holding DIR has N bytes free …" when it is (nearly)
// full, else "".
std::string full_file_system(const std::filesystem::path& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return {};
  const auto free_bytes = static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
  if (free_bytes >= 64 * 1024) return {};
  return fmt::format("; the file system holding {} has {} bytes free: the agent cannot write its status file there, "
                     "and its store, in the same directory, is likely failing too (No space left on device)",
                     dir.string(), free_bytes);
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
  const std::string store_failing =
      s.store_failing_since > 0
          ? fmt::format("its store has been failing since {} ({} ago){}", utc_time(s.store_failing_since),
                        age_text(now - s.store_failing_since),
                        s.store.last_error.empty() ? std::string() : ": " + printable(s.store.last_error))
          : std::string();
  if (r.age > stale_after_seconds(s)) {
    r.state = Liveness::stale;
    // Why it could not write: a full file system under the status file (the
    // store's too) is told apart from a loop that does not come round.
    const std::string why = !store_failing.empty() ? "; " + store_failing
                            : !s.database.empty()  ? full_file_system(status_file_for(s.database).parent_path())
                                                   : std::string();
    r.reason = fmt::format("the agent (pid {}) is alive but its status is stale: last written {} ago (it writes every "
                           "{} ms; stale after {} s){}",
                           s.pid, age_text(r.age), s.write_interval_ms, stale_after_seconds(s),
                           why.empty() ? " — its scan loop may be stuck" : why);
    return r;
  }
  if (s.collections && s.collections->stale) {
    const CollectionHealth& c = *s.collections;
    r.state = Liveness::stale;
    r.reason = fmt::format(
        "the agent (pid {}) is alive, but no process collection has arrived from procmond {} (stale after {} ms): "
        "the rules over processes do not run, the Sigma rules run over the stored process events; procmond "
        "restarted {} times for it",
        s.pid,
        c.last > 0 ? fmt::format("since {} ({} ago)", utc_time(c.last), age_text(now - c.last))
                   : fmt::format("since the agent started ({} ago)", age_text(now - s.started_at)),
        c.stale_after_ms, c.restarts);
    if (!store_failing.empty()) r.reason += "; " + store_failing;
    return r;
  }
  if (!store_failing.empty() && now - s.store_failing_since > stale_after_seconds(s)) {
    r.state = Liveness::stale;
    r.reason = fmt::format("the agent (pid {}) is alive, but {}: nothing new is stored and the rules see nothing new",
                           s.pid, store_failing);
    return r;
  }
  r.state = Liveness::running;
  r.reason = fmt::format("the agent (pid {}) is running; status written {} ago", s.pid, age_text(r.age));
  if (!store_failing.empty()) r.reason += "; " + store_failing;
  return r;
}

}  // namespace airssys::daemoneye::cli
