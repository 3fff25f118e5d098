#include "container/kill_audit.hpp"

#include "container/engine.hpp"

#include <airssys/osl/system.hpp>
#include <airssys/watchdog/audit.hpp>
#include <airssys/watchdog/runner.hpp>

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>

namespace airssys::watchdog::container {

namespace {

using nlohmann::json;

// The policy container requests run under: osl's deny by default, with one
// rule for what kill_audit.hpp records. A --policy file is not consulted:
// it speaks of the host's programs and cgroups, and no osl rule can name a
// container (docs/task-watchdog.md, "Containers").
std::string container_policy_yaml(const std::string& principal) {
  return fmt::format(R"(version: 1
rules:
  - id: task-watchdog-containers
    description: stop, kill, signal and force-remove the tasks' containers (resource the container's name, task-<id>)
    effect: allow
    principals: [{}]
    operations: [process.kill, process.signal]
    resources: ["**"]
)",
                     json(principal).dump());
}

// One osl::System per registry directory per process, made on first use, so
// the audit sinks (audit.jsonl, the --audit-ledger ledger) are opened once
// and records share osl's op_id counter, retry and write-through behaviour.
// A monitor forked after an entry was made inherits it without its writer
// thread: an entry belongs to the process that made it, and one inherited
// is never used nor destroyed (its destructor would join a thread this
// process does not have).
class AuditSystems {
 public:
  ~AuditSystems() { forget_inherited(); }

  std::expected<osl::System*, Error> get(const std::filesystem::path& state_dir) {
    std::lock_guard lock(mu_);
    forget_inherited();
    if (auto it = systems_.find(state_dir); it != systems_.end()) return it->second.get();
    auto policy = osl::Policy::parse(container_policy_yaml(current_principal()), "<task-watchdog container policy>");
    if (!policy) return std::unexpected(Error{ErrorCategory::failure, "container policy: " + policy.error().to_string()});
    auto audit = audit_options(state_dir);
    if (!audit) return std::unexpected(audit.error());  // not kept: the next request tries again
    osl::SystemOptions opts;
    opts.policy = std::move(*policy);
    opts.audit = std::move(*audit);
    auto made = std::make_unique<osl::System>(std::move(opts));
    osl::System* sys = made.get();
    systems_.emplace(state_dir, std::move(made));
    return sys;
  }

 private:
  void forget_inherited() {
    if (owner_ == ::getpid()) return;
    for (auto& [dir, sys] : systems_) (void)sys.release();  // deliberately leaked, see above
    systems_.clear();
    owner_ = ::getpid();
  }

  std::mutex mu_;
  pid_t owner_ = ::getpid();
  std::map<std::filesystem::path, std::unique_ptr<osl::System>> systems_;
};

AuditSystems& audit_systems() {
  static AuditSystems systems;
  return systems;
}

Audited audited(const KillAudit& a, const DockerClient& c, const std::string& cid, osl::OpKind kind, json detail,
                const std::function<std::expected<void, Error>()>& request) {
  const std::string name = container_name(a.task_id);
  const std::string what = detail.value("request", "");
  detail["task"] = a.task_id;
  detail["container"] = name;
  detail["container_id"] = cid;
  detail["engine"] = c.endpoint();
  detail["reason"] = a.reason;
  const auto failure = [&](const std::string& why) {
    return Error{ErrorCategory::failure, fmt::format("container {}: the audit record of {} was not written: {}", name, what, why)};
  };

  auto sys = audit_systems().get(a.state_dir);
  if (!sys) return Audited{request(), failure(sys.error().message)};  // a deadline is a promise: made anyway

  std::optional<std::expected<void, Error>> made;
  auto run = (*sys)->run(current_principal(), osl::External{.kind = kind, .resources = {name}, .detail_json = detail.dump()},
                         [&]() -> std::expected<void, osl::Error> {
                           made = request();
                           if (*made) return {};
                           return std::unexpected(osl::Error{osl::ErrorCategory::io, made->error().errno_value, 0, made->error().message});
                         });
  if (!made) {
    // Not run: its start record could not be made durable (or, never with
    // the policy above, it was refused). Made anyway, reported beside.
    return Audited{request(), failure(run.error().message)};
  }
  Audited out{std::move(*made), std::nullopt};
  // The end record is queued; a monitor may _exit soon after: wait for it.
  if (auto f = (*sys)->flush_audit(); !f) out.audit_failure = failure(f.error().message);
  return out;
}

}  // namespace

Audited audited_stop(const KillAudit& a, const DockerClient& c, const std::string& cid, std::chrono::milliseconds grace) {
  const auto secs = (grace.count() + 999) / 1000;
  json detail{{"request", fmt::format("POST /containers/{}/stop?t={}", cid, secs)}, {"signal", "SIGTERM"}, {"grace_ms", grace.count()}};
  return audited(a, c, cid, osl::OpKind::process_kill, std::move(detail), [&] { return stop_container(c, cid, grace); });
}

Audited audited_kill(const KillAudit& a, const DockerClient& c, const std::string& cid, const std::string& signal) {
  json detail{{"request", fmt::format("POST /containers/{}/kill?signal={}", cid, signal)}, {"signal", signal}};
  const auto kind = signal == "SIGKILL" ? osl::OpKind::process_kill : osl::OpKind::process_signal;
  return audited(a, c, cid, kind, std::move(detail), [&] { return kill_container(c, cid, signal); });
}

Audited audited_remove(const KillAudit& a, const DockerClient& c, const std::string& cid) {
  json detail{{"request", fmt::format("DELETE /containers/{}?force=true&v=true", cid)}, {"signal", "SIGKILL"}};
  return audited(a, c, cid, osl::OpKind::process_kill, std::move(detail), [&] { return remove_container(c, cid); });
}

}  // namespace airssys::watchdog::container
