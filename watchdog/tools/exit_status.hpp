#pragma once
// The task-watchdog CLI's exit statuses (docs/task-watchdog.md, "Exit
// codes"): the one place an error category becomes a number.

#include <airssys/watchdog/error.hpp>

namespace airssys::watchdog::cli {

// Every command but `start --wait`: 1 failure, 2 usage, 3 not found,
// 4 corrupt registry, 5 already exists, 6 could not start, 7 stale.
[[nodiscard]] constexpr int exit_status(ErrorCategory c) noexcept {
  switch (c) {
    case ErrorCategory::failure: return 1;
    case ErrorCategory::usage: return 2;
    case ErrorCategory::not_found: return 3;
    case ErrorCategory::registry_corrupt: return 4;
    case ErrorCategory::already_exists: return 5;
    case ErrorCategory::spawn_failed:
    case ErrorCategory::program_not_found:
    case ErrorCategory::not_executable: return 6;
    case ErrorCategory::stale: return 7;
  }
  return 1;
}

// `start --wait` when the task did not run, like timeout(1): 127 the program
// was not found, 126 it could not be executed, 125 anything else.
[[nodiscard]] constexpr int wait_exit_status(ErrorCategory c) noexcept {
  switch (c) {
    case ErrorCategory::program_not_found: return 127;
    case ErrorCategory::not_executable: return 126;
    default: return 125;
  }
}

}  // namespace airssys::watchdog::cli
