#pragma once
// A container task's container, found from its registry record, and the
// one way to take it down. Shared by the container monitor and by the
// status, kill and sweep code. Internal.

#include "container/docker_client.hpp"
#include "container/kill_audit.hpp"

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <chrono>
#include <expected>
#include <string>

namespace airssys::watchdog::container {

// The engine the task was started on (status and kill may run with another
// DOCKER_HOST, or none); DOCKER_HOST only for records without one.
[[nodiscard]] std::expected<DockerClient, Error> client_for(const TaskRecord& t);

// The task's container on engine `c`: the recorded id, else — the monitor
// died between create and recording the id — the container named task-<id>
// if it carries the label task-watchdog.id=<id>. Empty when there is none;
// an error when the engine does not answer.
[[nodiscard]] std::expected<std::string, Error> find_container(const DockerClient& c, const TaskRecord& t);

// Stop with grace, SIGKILL if the stop request failed, then (with `remove`)
// remove. Returns the first request error and, apart, the first audit
// failure (the later steps run anyway). Each request is recorded in the
// task's audit trail (kill_audit.hpp).
[[nodiscard]] Audited stop_kill_remove(const KillAudit& audit, const DockerClient& c, const std::string& cid,
                                                          std::chrono::milliseconds grace, bool remove);

}  // namespace airssys::watchdog::container
