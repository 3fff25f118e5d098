#include <airssys/watchdog/task_cleanup.hpp>

#include <airssys/watchdog/runner.hpp>

#include "container.hpp"
#include "task_cgroups.hpp"
#include "task_records.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace airssys::watchdog {

std::expected<CleanupReport, Error> cleanup_tasks(const Registry& reg, std::chrono::milliseconds older_than) {
  CleanupReport report;
  // Container tasks whose monitor died end here too, without a daemon.
  auto unmonitored = end_unmonitored_containers(reg);
  if (!unmonitored) return std::unexpected(unmonitored.error());
  report.ended_containers = std::move(*unmonitored);
  const auto cutoff = detail::now_ms() - older_than.count();
  std::vector<TaskRecord> removed;
  auto r = reg.update([&](RegistryData& data) -> std::expected<void, Error> {
    removed.clear();  // a retried change starts over
    for (auto it = data.tasks.begin(); it != data.tasks.end();) {
      const auto& t = it->second;
      if (is_terminal(t.state) && t.ended_ms.value_or(t.created_ms) <= cutoff) {
        removed.push_back(t);
        it = data.tasks.erase(it);
      } else {
        ++it;
      }
    }
    return {};
  });
  if (!r) return std::unexpected(r.error());
  // Their cgroups go through osl (cgroup.remove, built-in policy, audited).
  // What cannot be removed stays, and is reported: the record is gone either way.
  auto system = make_system({}, reg.dir());
  for (const auto& t : removed) {
    // The logs are where the runner puts them (registry.hpp's log_path, from
    // the validated id), never the paths the record names: a record edited
    // or corrupted to name another file must not make cleanup delete it.
    for (const char* stream : {"stdout", "stderr", "monitor"}) {
      const auto path = reg.log_path(t.id, stream);
      std::error_code ec;
      if (!std::filesystem::remove(path, ec) && ec) {
        report.not_removed.push_back(fmt::format("task '{}': log file {}: {}", t.id, path.string(), ec.message()));
      }
    }
    if (!system) {
      if (t.containment.kind == ContainmentKind::cgroup2 || !t.containment.v1.empty()) {
        report.not_removed.push_back(fmt::format("task '{}': cgroup: {}", t.id, system.error().message));
      }
    } else if (auto gone = remove_task_cgroups(*system, current_principal(), t.containment); !gone) {
      report.not_removed.push_back(fmt::format("task '{}': cgroup: {}", t.id, gone.error()));
    }
    if (!remove_leftover_container(reg, t)) report.not_removed.push_back(fmt::format("task '{}': its container is still there", t.id));
    report.removed.push_back(t.id);
  }
  return report;
}

}  // namespace airssys::watchdog
