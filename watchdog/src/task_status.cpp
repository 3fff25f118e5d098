#include <airssys/watchdog/task_status.hpp>

#include <airssys/osl/detail/shown_text.hpp>

#include "container.hpp"
#include "kill_tree.hpp"
#include "proc.hpp"
#include "registry_json.hpp"
#include "task_seen.hpp"
#include "usage.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace airssys::watchdog {

namespace {

// The engine knows a container task's processes and usage.
void fill_container(TaskStatus& s) {
  nlohmann::json j;
  add_container_status(s.record, j);
  s.processes_alive = j.value("processes_alive", std::size_t{0});
  if (j.contains("cpu_percent") && j["cpu_percent"].is_number()) {
    s.cpu_percent = j["cpu_percent"].get<double>();
    s.memory_bytes = j["memory_bytes"].get<std::uint64_t>();
    s.memory_source = j["memory_source"].get<std::string>();
  }
  s.container_json = j["container"].dump();
  s.container_text = container_status_text(j["container"]);
}

void fill_native(TaskStatus& s, const SeenTask& seen) {
  s.processes_alive = seen.alive;
  s.unverified = seen.unverified;
  if (s.processes_alive == 0) return;
  if (auto u = sample_usage(task_processes(s.record))) {
    s.cpu_percent = std::round(u->cpu_percent * 10) / 10;
    s.memory_bytes = u->memory_bytes;
    s.memory_source = u->memory_source;
  }
}

}  // namespace

std::string effective_state(const TaskRecord& t, std::size_t alive) {
  SeenTask seen;
  seen.alive = alive;
  if (t.monitor_pid) seen.monitor = monitor_presence(t) == Presence::gone ? Presence::gone : Presence::running;
  return shown_state(t, seen);
}

std::expected<TaskRecord, Error> find_task(const Registry& reg, const std::string& id) {
  auto data = reg.load();
  if (!data) return std::unexpected(data.error());
  auto it = data->tasks.find(id);
  if (it == data->tasks.end()) {
    return std::unexpected(Error{ErrorCategory::not_found, fmt::format("no task '{}' in {}", osl::detail::shown_text(id), reg.path().string())});
  }
  return std::move(it->second);
}

std::expected<bool, Error> task_has_ended(const Registry& reg, const std::string& id) {
  auto t = find_task(reg, id);
  if (!t) return std::unexpected(t.error());
  if (is_terminal(t->state)) return true;
  // Nothing seen, but /proc could not show everything (hidepid): it may
  // still run ("unverified", not "lost"), so `logs --follow` keeps following.
  return shown_state(*t, see_native_task(*t)) == "lost";
}

std::expected<TaskStatus, Error> task_status(const Registry& reg, const std::string& id) {
  auto t = find_task(reg, id);
  if (!t) return std::unexpected(t.error());
  TaskStatus s;
  s.record = std::move(*t);
  if (is_container_task(s.record)) {
    fill_container(s);
    s.effective_state = effective_state(s.record, s.processes_alive);
    s.monitor_running = monitor_presence(s.record) != Presence::gone;
  } else {
    const auto seen = see_native_task(s.record);
    fill_native(s, seen);
    s.effective_state = shown_state(s.record, seen);
    s.monitor_running = seen.monitor != Presence::gone;
    s.monitor_unverified = seen.monitor == Presence::unknown;
  }
  return s;
}

}  // namespace airssys::watchdog
