#include "container/task_container.hpp"

#include "container/engine.hpp"
#include "registry_json.hpp"

#include <nlohmann/json.hpp>

#include <optional>

namespace airssys::watchdog::container {

using nlohmann::json;

namespace {

// The container's id in the record (empty when the monitor has not made it yet).
std::string recorded_cid(const TaskRecord& t) {
  const json c = detail::extra_object(t, "container");
  return c.contains("id") && c["id"].is_string() ? c["id"].get<std::string>() : std::string();
}

}  // namespace

std::expected<std::string, Error> find_container(const DockerClient& c, const TaskRecord& t) {
  if (auto cid = recorded_cid(t); !cid.empty()) return cid;
  auto info = inspect_container(c, container_name(t.id));
  if (!info) return std::unexpected(info.error());
  if (!*info) return std::string();
  const json& in = **info;
  const auto config = in.find("Config");
  if (config == in.end() || !config->is_object()) return std::string();
  const auto labels = config->find("Labels");
  if (labels == config->end() || !labels->is_object() || labels->value("task-watchdog.id", "") != t.id) return std::string();
  const auto id = in.find("Id");
  return id != in.end() && id->is_string() ? id->get<std::string>() : std::string();
}

std::expected<DockerClient, Error> client_for(const TaskRecord& t) {
  if (const json c = detail::extra_object(t, "container"); c.contains("engine") && c["engine"].is_string()) {
    const auto engine = c["engine"].get<std::string>();
    if (engine.starts_with("unix://") && engine.size() > 7) return DockerClient(engine.substr(7));
  }
  return DockerClient::from_env();
}

Audited stop_kill_remove(const KillAudit& audit, const DockerClient& c, const std::string& cid,
                         std::chrono::milliseconds grace, bool remove) {
  Audited out{{}, std::nullopt};
  const auto note = [&out](Audited step) {
    if (!step.request && out.request) out.request = std::move(step.request);
    if (step.audit_failure && !out.audit_failure) out.audit_failure = std::move(step.audit_failure);
  };
  auto stopped = audited_stop(audit, c, cid, grace);
  const bool escalate = !stopped.request;
  note(std::move(stopped));
  if (escalate) note(audited_kill(audit, c, cid));
  if (remove) note(audited_remove(audit, c, cid));
  return out;
}

}  // namespace airssys::watchdog::container
