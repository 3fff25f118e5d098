#pragma once
// The closed vocabularies of a task record — its state and how its
// processes are contained — and of a kill's method, and their one spelling
// on disk and in output
// (docs/task-watchdog.md, "Registry format"). Every conversion between the
// enums and text goes through the functions here.

#include <optional>
#include <string>
#include <string_view>

namespace airssys::watchdog {

// starting → running → exited | timed_out | killed | failed.
enum class TaskState {
  starting,   // recorded; the monitor is making its cgroup and spawning it
  running,    // its main process runs under a monitor (or was adopted)
  exited,     // the main process ended by itself (exit_code / exit_signal)
  timed_out,  // the deadline or idle timeout killed it
  killed,     // `kill` (or the daemon, for a dead monitor) killed it
  failed,     // it never started; `error` says why
};

// "starting", "running", "exited", "timed_out", "killed", "failed";
// "invalid" for a value outside the enum.
[[nodiscard]] std::string_view to_string(TaskState s) noexcept;
// The inverse of to_string; nullopt for any other text (a registry holding
// one is refused as corrupt).
[[nodiscard]] std::optional<TaskState> task_state_from_string(std::string_view s) noexcept;
// exited, timed_out, killed, failed: the task's processes are gone for good
// and its record may be replaced or cleaned up.
[[nodiscard]] bool is_terminal(TaskState s) noexcept;
// Every state's spelling, for messages: "starting, running, …, failed".
[[nodiscard]] std::string task_state_spellings();

enum class ContainmentKind {
  none,           // not decided yet (a task still starting); "" on disk
  cgroup2,        // a v2 cgroup holds every process: Containment::cgroup
  process_group,  // no cgroup could be made: process group + descendant walk; "process-group" on disk
  container,      // a container run through the Docker Engine API
};

// "", "cgroup2", "process-group", "container"; "invalid" outside the enum.
[[nodiscard]] std::string_view to_string(ContainmentKind k) noexcept;
// The inverse of to_string; nullopt for any other text.
[[nodiscard]] std::optional<ContainmentKind> containment_kind_from_string(std::string_view s) noexcept;
// Every non-empty kind's spelling, for messages: "cgroup2, process-group, container".
[[nodiscard]] std::string containment_kind_spellings();

// How a task's processes were killed (`kill`'s report line, the daemon's log).
enum class KillMethod {
  signals,         // SIGTERM, then SIGKILL to each process found, through osl
  cgroup_kill,     // the same, plus `1` written to the v2 cgroup's cgroup.kill
  container_stop,  // the container engine's stop, kill and remove
};

// "signals", "cgroup.kill", "container stop"; "invalid" outside the enum.
[[nodiscard]] std::string_view to_string(KillMethod m) noexcept;
// The inverse of to_string; nullopt for any other text.
[[nodiscard]] std::optional<KillMethod> kill_method_from_string(std::string_view s) noexcept;

}  // namespace airssys::watchdog
