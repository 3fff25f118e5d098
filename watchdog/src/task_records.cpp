#include "task_records.hpp"

#include <chrono>

namespace airssys::watchdog::detail {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::expected<void, Error> insert_new_task(const Registry& reg, TaskRecord t) {
  return reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    if (auto it = d.tasks.find(t.id); it != d.tasks.end() && !is_terminal(it->second.state)) {
      return std::unexpected(Error{ErrorCategory::already_exists, fmt::format("task '{}' already exists in {} and is {}; choose another id",
                                                                          t.id, reg.path().string(), to_string(it->second.state))});
    }
    const std::string id = t.id;
    d.tasks.insert_or_assign(id, std::move(t));
    return {};
  });
}

void record_start_failure(const Registry& reg, const std::string& id, const Error& e) {
  (void)update_task(reg, id, [&](TaskRecord& t) {
    t.state = TaskState::failed;
    t.error = e.message;
    t.ended_ms = now_ms();
  });
}

}  // namespace airssys::watchdog::detail
