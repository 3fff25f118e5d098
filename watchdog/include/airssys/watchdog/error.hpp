#pragma once
// watchdog::Error — what every fallible task-watchdog library call returns,
// in the project's one error shape (docs/architecture.md, "Errors: one
// shape"): a category to branch on, a message for people, and context.
//
// Callers branch on `category`; `message` names the file or task involved
// and is never parsed, e.g.
//   not_found: "no task 'build' in /home/a/.task-watchdog/registry.json"
// `errno_value` is the errno of the system call that failed (ENOSPC from
// writing the registry, EACCES from opening a log file), 0 when none did.
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

// "not_found", "registry_corrupt", …: the names above.
[[nodiscard]] std::string_view to_string(ErrorCategory c) noexcept;
// The inverse of to_string; nullopt for any other text.
[[nodiscard]] std::optional<ErrorCategory> error_category_from_string(std::string_view s) noexcept;

struct Error {
  ErrorCategory category = ErrorCategory::failure;
  std::string message;
  int errno_value = 0;  // 0 when no system call failed

  // "registry_corrupt: /x/registry.json: not valid JSON (at byte 1): …"
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] static Error make(ErrorCategory c, std::string message);
  // A failure with errno `err`: "<what>: <strerror(err)>".
  [[nodiscard]] static Error from_errno(int err, std::string_view what);

  // The whole value: category, message and errno_value.
  friend bool operator==(const Error&, const Error&) = default;
};

}  // namespace airssys::watchdog
