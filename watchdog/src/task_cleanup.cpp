#include <airssys/watchdog/task_cleanup.hpp>

#include <airssys/watchdog/runner.hpp>

#include "container.hpp"
#include "task_cgroups.hpp"
#include "task_records.hpp"

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
  // What cannot be removed stays: the record is gone either way.
  auto system = make_system({}, reg.dir());
  for (const auto& t : removed) {
    // The logs are where the runner puts them (registry.hpp's log_path, from
    // the validated id), never the paths the record names: a record edited
    // or corrupted to name another file must not make cleanup delete it.
    std::error_code ec;
    for (const char* stream : {"stdout", "stderr", "monitor"}) std::filesystem::remove(reg.log_path(t.id, stream), ec);
    if (system) (void)remove_task_cgroups(*system, current_principal(), t.containment);
    remove_leftover_container(reg, t);
    report.removed.push_back(t.id);
  }
  return report;
}

}  // namespace airssys::watchdog
