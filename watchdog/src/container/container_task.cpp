// Container tasks (container.hpp): status, kill, and what the daemon asks.
// The monitor is container_monitor.cpp.

#include "container.hpp"

#include "container/engine.hpp"
#include "container/task_container.hpp"
#include "registry_json.hpp"
#include "task_records.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace airssys::watchdog {

using container::client_for;
using container::DockerClient;
using container::find_container;
using container::stop_kill_remove;
using detail::now_ms;
using nlohmann::json;

bool is_container_task(const TaskRecord& t) { return t.containment.kind == ContainmentKind::container; }

std::expected<void, Error> check_container_engine() {
  auto client = DockerClient::from_env();
  if (!client) return std::unexpected(client.error());
  return client->ping();
}

void add_container_status(const TaskRecord& t, json& j) {
  json c = detail::extra_object(t, "container");
  j["processes_alive"] = 0;
  auto client = client_for(t);
  if (!client) {
    c["error"] = client.error().message;
    j["container"] = c;
    return;
  }
  const auto found = find_container(*client, t);
  if (!found || found->empty()) {
    if (!found) c["error"] = found.error().message;
    j["container"] = c;
    return;
  }
  const std::string& cid = *found;
  auto info = container::inspect_container(*client, cid);
  if (!info) {
    c["error"] = info.error().message;
  } else if (!*info) {
    c["state"] = "removed";
  } else {
    const json& in = **info;
    const json state = in.value("State", json::object());
    c["state"] = state.value("Status", "");
    c["exit_code"] = state.value("ExitCode", 0);
    c["pid"] = state.value("Pid", 0);
    c["oom_killed"] = state.value("OOMKilled", false);
    const json host = in.value("HostConfig", json::object());
    c["memory"] = host.value("Memory", std::int64_t{0});
    c["nano_cpus"] = host.value("NanoCpus", std::int64_t{0});
    c["pids_limit"] = host.value("PidsLimit", std::int64_t{0});
    if (state.value("Running", false)) {
      if (auto u = container::container_usage(*client, cid, std::chrono::milliseconds(250))) {
        j["cpu_percent"] = std::round(u->cpu_percent * 10) / 10;
        j["memory_bytes"] = u->memory_bytes;
        j["memory_source"] = "container stats";
        j["processes_alive"] = u->pids.value_or(1);
      } else {
        j["processes_alive"] = 1;
      }
    }
  }
  j["container"] = c;
}

std::string container_status_text(const json& c) {
  const auto str = [&](const char* k) { return c.contains(k) && c[k].is_string() ? c[k].get<std::string>() : std::string(); };
  const auto num = [&](const char* k) { return c.contains(k) && c[k].is_number() ? c[k].get<std::int64_t>() : std::int64_t{0}; };
  std::string s = fmt::format("{} ({}) of image {}", str("name"), str("id").substr(0, 12), str("image"));
  if (!str("error").empty()) return s + "; engine: " + str("error");
  const std::string state = str("state");
  if (state.empty()) return s;
  s += "; engine: " + state;
  if (state == "running") s += fmt::format(", pid {}", num("pid"));
  if (state == "exited") s += fmt::format(", exit code {}", num("exit_code"));
  if (c.value("oom_killed", false)) s += ", OOM-killed";
  if (state != "removed") {
    s += fmt::format("; HostConfig Memory {} NanoCpus {} PidsLimit {}", num("memory"), num("nano_cpus"), num("pids_limit"));
  }
  return s;
}

std::expected<std::string, Error> kill_container_task(const Registry& reg, const TaskRecord& t, std::chrono::milliseconds grace) {
  auto client = client_for(t);
  if (!client) return std::unexpected(client.error());
  const auto found = find_container(*client, t);
  if (!found) return std::unexpected(Error{ErrorCategory::failure, fmt::format("task '{}': {}", t.id, found.error().message)});
  if (found->empty()) return std::unexpected(Error{ErrorCategory::stale, fmt::format("task '{}': no container has been made for it yet", t.id)});
  const std::string& cid = *found;
  // The verdict is recorded only once the container is gone: while the
  // engine fails, the record stays live, so `run` (or a later `kill`) still
  // enforces the task's end when its monitor is dead.
  const auto r = stop_kill_remove({reg.dir(), t.id, "kill"}, *client, cid, grace, true);
  auto after = container::inspect_container(*client, cid);
  if (!r.request || !after || *after) {
    const std::string why = !r.request ? r.request.error().message : !after ? after.error().message : "it still exists";
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("task '{}': container {} was not removed: {}", t.id,
                                                                 container::container_name(t.id), why)});
  }
  auto marked = reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    auto it = d.tasks.find(t.id);
    if (it == d.tasks.end() || it->second.created_ms != t.created_ms) return {};  // replaced meanwhile: not ours to mark
    // Also over the monitor's `exited`, recorded when /wait returned for our stop.
    it->second.state = TaskState::killed;
    it->second.error = "killed by `task-watchdog kill`";
    if (!it->second.ended_ms) it->second.ended_ms = now_ms();
    return {};
  });
  if (!marked) {
    return std::unexpected(Error{marked.error().category, fmt::format("task '{}': container {} stopped and removed, but the registry was not updated: {}",
                                                                  t.id, container::container_name(t.id), marked.error().message)});
  }
  // Gone and recorded as killed; a missing audit record still fails the command.
  if (r.audit_failure) return std::unexpected(*r.audit_failure);
  return fmt::format("task '{}': container {} stopped and removed", t.id, container::container_name(t.id));
}

std::optional<bool> container_task_running(const TaskRecord& t) {
  auto client = client_for(t);
  if (!client) return std::nullopt;
  const auto cid = find_container(*client, t);
  if (!cid) return std::nullopt;
  if (cid->empty()) return false;  // never made: nothing can run
  auto info = container::inspect_container(*client, *cid);
  if (!info) return std::nullopt;
  return *info && (**info).value("State", json::object()).value("Running", false);
}

KillReport stop_container_task(const Registry& reg, const TaskRecord& t, std::chrono::milliseconds grace, const std::string& reason) {
  KillReport kr;
  kr.method = KillMethod::container_stop;
  auto client = client_for(t);
  if (!client) return kr;
  const auto found = find_container(*client, t);
  if (!found || found->empty()) return kr;
  const std::string& cid = *found;
  kr.found = container_task_running(t).value_or(false) ? 1 : 0;
  (void)stop_kill_remove({reg.dir(), t.id, reason}, *client, cid, grace, true);
  auto after = container::inspect_container(*client, cid);
  kr.left = after && !*after ? 0 : 1;
  kr.killed = kr.found - std::min(kr.found, kr.left);
  return kr;
}

}  // namespace airssys::watchdog
