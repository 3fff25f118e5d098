#pragma once
// The monitor of a native task (`start` without --container). Internal.
//
// It makes the task's cgroup, spawns the task through airssys-osl (own
// process group, TASK_ID in its environment, stdout/stderr to the log
// files), records pid + start time, then watches it (task_monitor.hpp).
// When the main process exits, whatever it left behind is killed too (like
// systemd's control-group kill mode), so an ended task has nothing left.
// It is a child subreaper: orphans of the task are re-parented to it, so
// the fallback without cgroups still finds them, and it reaps them.

#include "detach.hpp"

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/runner.hpp>

#include <expected>

namespace airssys::watchdog::detail {

// Runs the task whose record `start` inserted. Returns the task's --wait
// status (timeout(1)'s: 124 on the deadline, else its exit status or 128+signal);
// an error when it could not be started, after recording the task failed
// and telling `handshake`.
[[nodiscard]] std::expected<int, Error> run_native_monitor(const Registry& reg, const StartRequest& req, Handshake& handshake);

}  // namespace airssys::watchdog::detail
