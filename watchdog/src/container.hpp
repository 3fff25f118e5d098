#pragma once
// Container tasks: `start --container IMAGE` runs the task through the
// Docker Engine API on a Unix socket (DOCKER_HOST, default
// unix:///var/run/docker.sock), which `podman system service` also serves.
// docs/task-watchdog.md ("Containers") says what is sent and why.
//
// The task's monitor (double-forked as for native tasks, or the caller with
// --wait; src/container/container_monitor.hpp) creates the container
// task-<id>, starts it, copies its log stream into the task's log files, and
// waits on the engine (/wait) and on its deadline timer; at the deadline it
// stops the container with the grace period, kills it if needed, and removes
// it. A container task is recorded
// with containment kind "container" and a "container" object
// ({"id", "name", "image", "engine"}) in its registry record.

#include <airssys/watchdog/error.hpp>
#include "kill_tree.hpp"
#include <airssys/watchdog/registry.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <vector>

namespace airssys::watchdog {

// DOCKER_HOST is usable and the engine answers /_ping. The error reads
// "no container engine at unix:///…: REASON".
[[nodiscard]] std::expected<void, Error> check_container_engine();

[[nodiscard]] bool is_container_task(const TaskRecord& t);

// For `status`: adds to `j` (the record's JSON) "container" (name, id,
// image, engine, and the engine's view: state, exit_code, pid, limits, or
// an error), "processes_alive" (the container's pids while it runs) and
// cpu_percent / memory_bytes / memory_source ("container stats") from two
// stats samples 250 ms apart.
void add_container_status(const TaskRecord& t, nlohmann::json& j);
// One line for `status` from the "container" object above.
[[nodiscard]] std::string container_status_text(const nlohmann::json& c);

// For `kill`: stops the container with `grace`, kills and removes it, then
// records the verdict (only once the container is gone). Returns one line
// saying what was done; stale when no container was made yet.
[[nodiscard]] std::expected<std::string, Error> kill_container_task(const Registry& reg, const TaskRecord& t,
                                                                    std::chrono::milliseconds grace);

// For `run`, about a container task whose monitor is gone: whether the
// engine still runs its container; nullopt when the engine cannot tell (it
// does not answer), so the task is left alone until it does.
[[nodiscard]] std::optional<bool> container_task_running(const TaskRecord& t);

// For `run`: stops the container with `grace`, kills and removes it (also a
// stopped one, which the dead monitor did not remove). found = 1 if it was
// running, left = 1 if it is still there afterwards; method "container stop".
// Each request is recorded in reg's audit trail with `reason` ("run", "cleanup").
[[nodiscard]] KillReport stop_container_task(const Registry& reg, const TaskRecord& t, std::chrono::milliseconds grace,
                                             const std::string& reason);

// For `cleanup`, without a `run` daemon: every container task whose monitor
// is gone and whose container no longer runs (it ended unobserved, or was
// never started) has its container removed and its record marked ended:
// `exited`, or `failed` when it never got past `starting`. A container that
// still runs is left to `run` and `kill` (cleanup kills nothing), and so is
// a task the engine does not answer for. Returns one line per task it ended.
[[nodiscard]] std::expected<std::vector<std::string>, Error> end_unmonitored_containers(const Registry& reg);

// For `cleanup`, about an ended container task whose record it removes: its
// container too, if the monitor did not remove it (no request when it did).
// False when the engine says it is still there afterwards.
[[nodiscard]] bool remove_leftover_container(const Registry& reg, const TaskRecord& t);

}  // namespace airssys::watchdog
