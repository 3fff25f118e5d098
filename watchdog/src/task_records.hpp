#pragma once
// Changing one task's record in the registry, as the monitors, the daemon
// and `start`/`register` do. Internal.

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <expected>
#include <string>

namespace airssys::watchdog::detail {

// A live record's unknown key (docs/task-watchdog.md, registry): how many
// processes the daemon's last kill at the deadline left running or could not
// verify gone. The daemon's sweep that then finds nothing records timed_out;
// `kill` drops the key when it ends the task. Never leftover_processes, which
// says "killed after the main process ended" (status, stats).
inline constexpr const char* kKillUnfinishedKey = "deadline_kill_unfinished";

// Unix time in milliseconds (the registry's clock).
[[nodiscard]] std::int64_t now_ms();

// Records a new task under the registry lock, replacing an ended one with
// the same id; already_exists while one with that id is live.
[[nodiscard]] std::expected<void, Error> insert_new_task(const Registry& reg, TaskRecord t);

// Applies `f(TaskRecord&)` to the task's record under the registry lock;
// not_found if the record is gone.
template <class F>
std::expected<void, Error> update_task(const Registry& reg, const std::string& id, F f) {
  return reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    auto it = d.tasks.find(id);
    if (it == d.tasks.end()) return std::unexpected(Error{ErrorCategory::not_found, fmt::format("task '{}' vanished from the registry", id)});
    f(it->second);
    return {};
  });
}

// A monitor could not start its task: records it `failed` with the message.
void record_start_failure(const Registry& reg, const std::string& id, const Error& e);

}  // namespace airssys::watchdog::detail
