#pragma once
// Container kills in the audit trail. A native kill is an osl operation
// (process.signal, process.kill, cgroup.kill) and leaves osl's records; a
// container's is a request to the engine, which osl does not carry out. So
// every request task-watchdog makes that stops, kills, signals or
// force-removes a container runs as an osl External operation
// (osl/external.hpp), through one osl::System per registry directory per
// process whose sinks are task-watchdog's (<registry dir>/audit.jsonl, plus
// the --audit-ledger ledger: audit.hpp): a `start` record made durable
// before the request, an `end` record with its outcome after it (waited
// for: a monitor may exit soon after), sharing an op_id from osl's counter
// and carrying the TraceScope in force.
//
//   op         process.kill (stop, SIGKILL, forced remove) or process.signal
//              (SIGINT/SIGTERM passed on under --wait)
//   principal  the effective user (as osl's records)
//   resources  ["task-<id>"], the container's name
//   decision   allow, rule task-watchdog-containers: a built-in policy that
//              allows exactly these two kinds to the effective user; a
//              --policy file is not consulted (docs/task-watchdog.md,
//              "Containers")
//   detail     {"task", "container", "container_id", "engine", "request"
//              (e.g. "POST /containers/ID/stop?t=2"), "signal" (the name),
//              "grace_ms" (stop only), "reason"}
//
// `reason`: "deadline" (the monitor, at the deadline), "monitor" (the
// monitor, on --idle-timeout or a signal to it), "forward" (--wait passing
// on SIGINT/SIGTERM), "kill" (the kill command), "run" (the daemon's
// sweep), "cleanup", "start failed" (the start could not be recorded),
// "wait hung" (the engine's /wait did not return after the stop).
//
// The request is made even when its records cannot be written (a deadline
// is a promise): when the sinks cannot be opened, or the start record is
// not written within osl's stall_timeout (5 s), the request is made outside
// osl; the failure is then returned beside the request's result, never in
// its place: a stop that worked is not escalated, and a container that is
// gone is recorded as gone, because a record could not be written.

#include "container/docker_client.hpp"

#include <airssys/watchdog/error.hpp>

#include <chrono>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>

namespace airssys::watchdog::container {

// What an audited request came to: the engine's answer, and whether its
// records were written.
struct Audited {
  std::expected<void, Error> request;
  std::optional<Error> audit_failure;
  // The request's error, else the audit failure: for a caller that reports one.
  [[nodiscard]] std::optional<Error> first_error() const {
    if (!request) return request.error();
    return audit_failure;
  }
};

struct KillAudit {
  std::filesystem::path state_dir;  // the registry's directory: audit.jsonl is there
  std::string task_id;
  std::string reason;  // see above
};

// POST /containers/{cid}/stop?t=GRACE, recorded.
[[nodiscard]] Audited audited_stop(const KillAudit& a, const DockerClient& c, const std::string& cid,
                                                      std::chrono::milliseconds grace);
// POST /containers/{cid}/kill?signal=SIGNAL, recorded (process.signal for
// SIGINT/SIGTERM, process.kill for SIGKILL).
[[nodiscard]] Audited audited_kill(const KillAudit& a, const DockerClient& c, const std::string& cid,
                                                      const std::string& signal = "SIGKILL");
// DELETE /containers/{cid}?force=true&v=true, recorded: the engine kills a
// container that still runs.
[[nodiscard]] Audited audited_remove(const KillAudit& a, const DockerClient& c, const std::string& cid);

}  // namespace airssys::watchdog::container
