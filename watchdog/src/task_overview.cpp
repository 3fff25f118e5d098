#include <airssys/watchdog/task_overview.hpp>

#include <airssys/watchdog/task_status.hpp>

#include "container.hpp"
#include "task_seen.hpp"

#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <filesystem>
#include <optional>
#include <string>

namespace airssys::watchdog {

namespace {

// The last non-empty line of a log file, from at most its last 4 KiB. The
// file is opened as the runner made it or not at all: O_NOFOLLOW (a
// symbolic link planted at the path is not followed), O_NONBLOCK (a FIFO
// there does not block the caller) and a regular file only.
std::string last_line(const std::filesystem::path& path) {
  constexpr off_t kTail = 4096;
  const osl::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  const off_t from = st.st_size > kTail ? st.st_size - kTail : 0;
  std::string tail(static_cast<std::size_t>(st.st_size - from), '\0');
  std::size_t got = 0;
  while (got < tail.size()) {
    const ssize_t n = ::pread(fd.get(), tail.data() + got, tail.size() - got, from + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  tail.resize(got);
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  const auto nl = tail.rfind('\n');
  std::string line = nl == std::string::npos ? tail : tail.substr(nl + 1);
  if (line.size() > 120) line = line.substr(0, 117) + "...";
  return line;
}

}  // namespace

std::expected<LiveTasks, Error> live_tasks(const Registry& reg) {
  auto data = reg.load();
  if (!data) return std::unexpected(data.error());
  LiveTasks out;
  for (auto& [id, t] : data->tasks) {
    if (is_terminal(t.state)) {
      ++out.ended;
      continue;
    }
    LiveTask l;
    // A container task's processes are the engine's to count (container.hpp).
    // An engine that does not answer tells nothing: the task is not `lost`.
    const auto running = is_container_task(t) ? container_task_running(t) : std::optional<bool>(false);
    if (!running) {
      l.effective_state = std::string(to_string(t.state)) + " (container engine not answering)";
    } else if (is_container_task(t)) {
      l.processes_alive = std::size_t{*running};
      l.effective_state = effective_state(t, l.processes_alive);
    } else {
      // What /proc cannot show is "unverified", not "lost" (task_seen.hpp).
      const auto seen = see_native_task(t);
      l.processes_alive = seen.alive;
      l.unverified = seen.unverified;
      l.effective_state = shown_state(t, seen);
    }
    // Read where the runner writes the logs, not where the record says: an
    // edited record must not make rehydrate show another file's last line.
    l.last_output = last_line(reg.log_path(t.id, "stdout"));
    l.last_error = last_line(reg.log_path(t.id, "stderr"));
    l.record = std::move(t);
    out.live.push_back(std::move(l));
  }
  return out;
}

std::expected<RegistryStats, Error> registry_stats(const Registry& reg) {
  auto data = reg.load();
  if (!data) return std::unexpected(data.error());
  RegistryStats s;
  s.tasks = data->tasks.size();
  // A duration below zero (the clock was set back between start and end, or
  // the record was edited) or one that does not fit is no duration: it is
  // skipped, not averaged in. The sum is wide enough for any count of
  // int64 durations (__extension__: -Wpedantic knows no __int128).
  __extension__ __int128 total_ms = 0;
  std::int64_t timed = 0;
  for (const auto& [id, t] : data->tasks) {
    ++s.by_state[t.state];
    if (t.ended_ms) {
      std::int64_t d = 0;
      if (__builtin_sub_overflow(*t.ended_ms, t.created_ms, &d) || d < 0) {
        ++s.durations_skipped;
      } else {
        total_ms += d;
        ++timed;
      }
    }
    // Leftovers count only for a task whose main process ended by itself
    // (as `status` shows them): an older daemon also kept an unfinished
    // deadline kill's count there, on live and timed_out records.
    const bool ended_by_itself = is_terminal(t.state) && t.state != TaskState::timed_out;
    const auto left = ended_by_itself ? t.leftover_processes.value_or(0) : 0;
    if (left > 0 && __builtin_add_overflow(s.leftover_processes_killed, left, &s.leftover_processes_killed)) {
      s.leftover_processes_killed = std::numeric_limits<std::int64_t>::max();
    }
  }
  if (timed > 0) s.mean_duration_ms = static_cast<std::int64_t>(total_ms / timed);
  return s;
}

}  // namespace airssys::watchdog
