#pragma once
// watchdog::Error — what every fallible task-watchdog library call returns.
//
// Callers branch on `code` (an ErrorCategory); `message` is for people and
// names the file or task involved, e.g.
//   not_found: "no task 'build' in /home/a/.task-watchdog/registry.json"
// The library neither prints nor chooses exit statuses: the task-watchdog
// CLI maps a category to its exit status (watchdog/tools/exit_status.hpp,
// docs/task-watchdog.md "Exit codes").

#include <optional>
#include <string>
#include <string_view>

namespace airssys::watchdog {

enum class ErrorCategory {
  failure,            // anything else (I/O, a system call failed)
  usage,              // bad request: malformed id, duration or size, a bad policy file
  not_found,          // no task with that id
  registry_corrupt,   // the registry cannot be parsed or fails validation (it is left untouched)
  already_exists,     // a live task with that id is recorded; or another daemon sweeps the registry
  spawn_failed,       // the task could not be started (policy, cgroup, container engine, logs)
  stale,              // the recorded process is gone or its PID was reused
  program_not_found,  // the task's program does not exist (a spawn_failed with a cause)
  not_executable,     // the task's program could not be executed (a spawn_failed with a cause)
};
// The older name of ErrorCategory.
using ErrorCode = ErrorCategory;

// "not_found", "registry_corrupt", …: the names above.
[[nodiscard]] std::string_view to_string(ErrorCategory c) noexcept;
// The inverse of to_string; nullopt for any other text.
[[nodiscard]] std::optional<ErrorCategory> error_category_from_string(std::string_view s) noexcept;

struct Error {
  ErrorCategory code = ErrorCategory::failure;
  std::string message;
};

}  // namespace airssys::watchdog
