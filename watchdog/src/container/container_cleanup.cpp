// `cleanup` for container tasks (container.hpp): containers whose monitor
// died, and which no `run` daemon swept, are removed without a daemon.

#include "container.hpp"

#include "container/engine.hpp"
#include "container/task_container.hpp"
#include "registry_json.hpp"
#include "task_records.hpp"

#include "kill_tree.hpp"
#include "proc.hpp"

#include <fmt/format.h>

namespace airssys::watchdog {

namespace {

// As for native tasks (kill_tree.hpp): a monitor recorded in an earlier boot
// (its record's boot_id) is gone, whoever has its pid now.
bool monitor_gone(const TaskRecord& t) { return monitor_presence(t) == Presence::gone; }

}  // namespace

std::expected<std::vector<std::string>, Error> end_unmonitored_containers(const Registry& reg) {
  auto data = reg.load();
  if (!data) return std::unexpected(data.error());
  std::vector<std::string> done;
  for (const auto& [id, t] : data->tasks) {
    if (!is_container_task(t) || is_terminal(t.state) || !monitor_gone(t)) continue;
    // A `starting` record whose monitor is gone before it recorded its pid
    // may belong to a `start` still on its way: left alone, as `run` does.
    if (t.state == TaskState::starting && !t.monitor_pid) continue;
    const auto running = container_task_running(t);
    if (!running || *running) continue;  // the engine does not answer, or it runs: `run` and `kill` deal with those
    if (const auto kr = stop_container_task(reg, t, std::chrono::milliseconds(0), "cleanup"); kr.left > 0) {
      done.push_back(fmt::format("task '{}': its container could not be removed; left as it is", id));
      continue;
    }
    const bool never_started = t.state == TaskState::starting;
    auto marked = reg.update([&](RegistryData& d) -> std::expected<void, Error> {
      auto it = d.tasks.find(id);
      if (it == d.tasks.end() || it->second.created_ms != t.created_ms || is_terminal(it->second.state)) return {};
      it->second.state = never_started ? TaskState::failed : TaskState::exited;
      it->second.error = "its monitor died; the container was removed by `task-watchdog cleanup`";
      it->second.ended_ms = detail::now_ms();
      if (it->second.extra.contains("container")) {
        auto c = detail::extra_object(it->second, "container");
        c["removed"] = true;
        detail::set_extra(it->second, "container", c);
      }
      return {};
    });
    if (!marked) return std::unexpected(marked.error());
    done.push_back(fmt::format("task '{}': its monitor died and its container had ended: container removed, marked {}", id,
                               to_string(never_started ? TaskState::failed : TaskState::exited)));
  }
  return done;
}

bool remove_leftover_container(const Registry& reg, const TaskRecord& t) {
  if (!is_container_task(t)) return true;
  if (detail::extra_object(t, "container").value("removed", false)) return true;  // its monitor removed it
  return stop_container_task(reg, t, std::chrono::milliseconds(0), "cleanup").left == 0;
}

}  // namespace airssys::watchdog
