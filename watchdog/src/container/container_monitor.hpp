#pragma once
// The monitor of a container task (`start --container IMAGE`). Internal.
//
// It records the task (kind container, the deadline, the engine) before the
// container exists, creates task-<id>, records its id, starts it, copies the
// engine's log stream into the task's log files (so `logs`, --idle-timeout
// and `rehydrate` work as for native tasks), and watches it with the task
// monitor (task_monitor.hpp): the container has ended when the engine's
// /wait returns. At the deadline the container is stopped with the grace
// period, killed if need be; at the end it is removed.

#include "detach.hpp"

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/runner.hpp>

#include <expected>

namespace airssys::watchdog::detail {

// Runs the container task whose record `start` inserted. Returns its --wait
// status (124 when the deadline stopped it, else the container's exit code);
// an error when it could not be started, after recording the task failed and
// telling `handshake`.
[[nodiscard]] std::expected<int, Error> run_container_monitor(const Registry& reg, const StartRequest& req, Handshake& handshake);

}  // namespace airssys::watchdog::detail
