#include <airssys/watchdog/task_overview.hpp>

#include <airssys/watchdog/task_status.hpp>

#include "container.hpp"
#include "kill_tree.hpp"

#include <fstream>
#include <iterator>
#include <optional>
#include <string>

namespace airssys::watchdog {

namespace {

// The last non-empty line of a log file (at most its last 4 KiB are read).
std::string last_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const auto size = static_cast<std::streamoff>(in.tellg());
  const std::streamoff from = size > 4096 ? size - 4096 : 0;
  in.seekg(from);
  std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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
    } else {
      l.processes_alive = is_container_task(t) ? std::size_t{*running} : collect_processes(task_processes(t)).size();
      l.effective_state = effective_state(t, l.processes_alive);
    }
    // Read where the runner writes the logs, not where the record says: an
    // edited record must not make rehydrate show another file's last line.
    l.last_output = last_line(reg.log_path(t.id, "stdout").string());
    l.last_error = last_line(reg.log_path(t.id, "stderr").string());
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
  std::int64_t total_ms = 0;
  std::int64_t timed = 0;
  for (const auto& [id, t] : data->tasks) {
    ++s.by_state[t.state];
    if (t.ended_ms) {
      total_ms += *t.ended_ms - t.created_ms;
      ++timed;
    }
    s.leftover_processes_killed += t.leftover_processes.value_or(0);
  }
  if (timed > 0) s.mean_duration_ms = total_ms / timed;
  return s;
}

}  // namespace airssys::watchdog
