#pragma once
// The monitor of an adopted process (`register`). Internal.
//
// The process is not our child: its pidfd tells us when it ends (no exit
// status is known) and the deadline is enforced as for started tasks. It and
// its descendants are moved into task cgroups of their own when that is
// possible (we are root or own the cgroups), so what it forks from now on is
// found and killed with it; nothing is killed when it ends by itself.

#include "detach.hpp"

#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/runner.hpp>

#include <string>
#include <vector>

namespace airssys::watchdog::detail {

// argv and cwd of a process to adopt, read through osl::proc; argv is
// {"pid:N"} and cwd "" for what cannot be read.
struct AdoptedProcess {
  std::vector<std::string> argv;
  std::string cwd;
};
[[nodiscard]] AdoptedProcess describe_process(pid_t pid);

// Watches the process whose record `register` inserted until it ends or its
// deadline passes. On failure it records the task failed and tells `handshake`.
void run_adopted_monitor(const Registry& reg, const RegisterRequest& req, Handshake& handshake);

}  // namespace airssys::watchdog::detail
