#pragma once
// watchdog::Error — what every fallible task-watchdog call returns.
//
// `code` selects the process exit status of the CLI (docs/task-watchdog.md,
// "Exit codes"); `message` is for people and names the file or task involved.

#include <string>

namespace airssys::watchdog {

enum class ErrorCode : int {
  failure = 1,            // anything else (I/O, a system call failed)
  usage = 2,              // bad command line, malformed id/duration/size
  not_found = 3,          // no task with that id
  registry_corrupt = 4,   // the registry cannot be parsed or fails validation
  already_exists = 5,     // a task with that id is already recorded
  spawn_failed = 6,       // the task could not be started (policy, exec, cgroup)
  stale = 7,              // the recorded process is gone or its PID was reused
};

struct Error {
  ErrorCode code = ErrorCode::failure;
  std::string message;

  [[nodiscard]] int exit_code() const noexcept { return static_cast<int>(code); }
};

}  // namespace airssys::watchdog
