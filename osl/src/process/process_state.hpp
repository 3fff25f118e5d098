#pragma once
// Process::State — what a Process handle owns.

#include <airssys/osl/process.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/slots.hpp"

namespace airssys::osl::process {

struct Process::State {
  pid_t pid = 0;
  UniqueFd pidfd;
  UniqueFd stdin_fd, stdout_fd, stderr_fd;  // our pipe ends, when requested
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::optional<ExitStatus> status;  // set once reaped
  bool detached = false;
  bool group_leader = false;  // spawned with new_process_group / new_session: pgid == pid
  std::string program;    // canonical program path: the resource of signal/kill
  std::string principal;  // who spawned it: signal/kill through the handle act as them
  std::shared_ptr<detail::Core> core;
  detail::SlotToken slot;  // process-limit slot, released when reaped or detached
};

}  // namespace airssys::osl::process

namespace airssys::osl::detail {
// Sends `signo` through the pidfd; ESRCH when already gone.
[[nodiscard]] std::expected<void, Error> send_signal(int pidfd, int signo, std::string_view what);
// Opens a pidfd for `target` and checks its start time when one is given.
[[nodiscard]] std::expected<UniqueFd, Error> open_target(const process::Target& target);
// The executable path of a live process ("" if unreadable).
[[nodiscard]] std::string executable_of(pid_t pid);
}  // namespace airssys::osl::detail
