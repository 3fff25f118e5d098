#pragma once
// What a registry may hold beyond its JSON types: the bounds and the checks
// both readers (registry_fast.cpp and the DOM path in registry.cpp) apply,
// so they accept exactly the same files. docs/task-watchdog.md, "Registry
// format", lists them for users.

#include <airssys/watchdog/registry.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::watchdog::detail {

// A larger file is refused (exit 4) before it is read: 64 MiB is ~60,000
// tasks, and every command reads the whole file.
inline constexpr std::size_t kMaxRegistryBytes = std::size_t{64} << 20;

// Open brackets at the deepest point of the file. The schema itself needs 5
// (top, tasks, task, containment, v1); the rest is room for unknown keys a
// newer build may add. Deeper files are refused, not trimmed: dropping data
// we do not understand would lose a newer build's fields.
inline constexpr int kMaxRegistryDepth = 32;

// The deepest nesting of [ and { in `text` outside strings. Linear, no
// recursion; meaningful only for text that is JSON (callers parse it after).
[[nodiscard]] int nesting_depth(std::string_view text) noexcept;

// "has state 'x' (must be one of …)": a state on disk that is no TaskState.
// The text completes "task 'x' ...".
[[nodiscard]] std::string state_problem(std::string_view text);
// "must be one of cgroup2, … (not 'x')": a containment kind on disk that is
// no ContainmentKind. The text completes "task 'x' containment field 'kind' ...".
[[nodiscard]] std::string kind_problem(std::string_view text);

// What is wrong with a task record whose fields have the right JSON types:
// a state or containment kind outside its enum, a pid or monitor pid that is not positive, a timeout
// that is not positive, a pid over 2^31-1, a negative grace, a duration over
// 36500 days, a time (created, deadline, ended) outside 0 … year 9999 in Unix
// ms, a NUL byte in argv, env, cwd or a
// log path, a cgroup (containment.cgroup, containment.v1) that is not an
// absolute, lexically normal path in a directory named task-watchdog.
// nullopt when nothing is. The text completes "task 'x' ...".
[[nodiscard]] std::optional<std::string> task_problem(const TaskRecord& t);

}  // namespace airssys::watchdog::detail
