#pragma once
// A task record as a JSON value, for `status --json`, `list --json` and the
// container code that keeps its "container" object among the record's
// unknown keys. Internal: the public registry.hpp carries no JSON library.

#include <airssys/watchdog/registry.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace airssys::watchdog::detail {

// Every field of the record, unknown keys included, as the registry holds it.
[[nodiscard]] nlohmann::json task_to_json(const TaskRecord& t);

// The unknown key `key` of the record when it holds a JSON object, else an
// empty object.
[[nodiscard]] nlohmann::json extra_object(const TaskRecord& t, const std::string& key);

// Stores `value` under the unknown key `key` (compact, as the readers keep it).
void set_extra(TaskRecord& t, const std::string& key, const nlohmann::json& value);

}  // namespace airssys::watchdog::detail
