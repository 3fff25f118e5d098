#pragma once
// A task's stdout and stderr logs opened for reading, for `task-watchdog
// logs ID` (and anyone who wants a task's output). Nothing here prints.
//
// The logs are read where the runner writes them (Registry::log_path, from
// the validated id), never at the paths the record names: an edited record
// must not make `logs` show another file. Each is opened O_NOFOLLOW |
// O_NONBLOCK | O_CLOEXEC and kept only if it is a regular file, so a
// symbolic link or a FIFO planted at the path is neither followed nor
// waited on.

#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <expected>
#include <filesystem>
#include <string>

namespace airssys::watchdog {

struct TaskLogFiles {
  std::filesystem::path stdout_path;
  std::filesystem::path stderr_path;
  // Open at offset 0; not open when the file is missing (an adopted task
  // has none), is not a regular file, or cannot be opened.
  osl::UniqueFd stdout_fd;
  osl::UniqueFd stderr_fd;
};

// Errors: not_found (no task `id`), registry_corrupt, failure.
[[nodiscard]] std::expected<TaskLogFiles, Error> open_task_logs(const Registry& reg, const std::string& id);

}  // namespace airssys::watchdog
