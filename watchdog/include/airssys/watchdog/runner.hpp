#pragma once
// Starting a task and watching it until it ends: `start`, `start --wait`
// and `register`.
//
// Background (`start`): the caller records the task ("starting"), then
// double-forks a monitor (setsid, so it outlives the caller's session) and
// waits until the monitor says the task runs, or why it could not start.
// The monitor makes the task's cgroup, spawns the task through airssys-osl
// (own process group, TASK_ID in its environment, stdout/stderr to log
// files), records pid + start time, then sleeps in epoll on the task's
// pidfd, a deadline timerfd and a signalfd — no polling and no daemon. When
// the deadline passes it kills the whole task (src/kill_tree.hpp). When the main
// process exits, whatever it left behind is killed too (like systemd's
// control-group kill mode), so an ended task has nothing left running.
// Container tasks (src/container.hpp) and adopted processes (`register`) are
// watched by the same monitor loop.
//
// Foreground (`start --wait`): the caller is the monitor; SIGINT/SIGTERM are
// forwarded to every process of the task; the status follows timeout(1).
//
// Nothing here prints: errors come back as watchdog::Error, and the CLI
// chooses what to print and which exit status to return.

#include <airssys/osl/system.hpp>
#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace airssys::watchdog {

// timeout(1)-compatible exit statuses of `start --wait`.
inline constexpr int kExitTimedOut = 124;      // the deadline killed the task
inline constexpr int kExitWatchdogFailed = 125;  // task-watchdog itself failed
inline constexpr int kExitCannotRun = 126;     // the program could not be executed
inline constexpr int kExitNotFound = 127;      // the program was not found

struct StartRequest {
  std::string id;
  std::vector<std::string> argv;
  std::filesystem::path cwd;       // empty: the caller's
  std::vector<std::string> env;    // "K=V"
  std::optional<std::chrono::milliseconds> timeout;
  // Kill the task when neither log file has grown for this long.
  std::optional<std::chrono::milliseconds> idle_timeout;
  std::chrono::milliseconds grace{10'000};
  Limits limits;  // cgroup limits (src/task_cgroups.hpp); a limit that cannot be applied fails the start
  std::filesystem::path policy_file;  // empty: the built-in default policy
  bool wait = false;
  // --container IMAGE: run the task in a container through the Docker Engine
  // API instead of as a native process (src/container.hpp).
  std::string container;
  // --keep-fd N: fds above 2 of the caller the task gets under the same
  // numbers (a lock held for the task's lifetime, a pre-opened socket or
  // pipe); every other fd above 2 is closed at its exec (osl
  // Options::keep_fds). Checked by check_keep_fds. A detached monitor closes
  // its copies once the task runs, so a flock on one is held by the task
  // alone and released when it ends; with `wait` the caller's fds are left
  // as they are. Native tasks only.
  std::vector<int> keep_fds;
};

// The --keep-fd list: each fd above 2, listed once and open in this process
// (check it before opening anything, or an fd of our own may have taken a
// closed number). A usage error naming the fd otherwise.
[[nodiscard]] std::expected<void, Error> check_keep_fds(const std::vector<int>& fds);

// The invoking principal for the osl policy: the effective user's name
// ("uid-N" when it has none).
[[nodiscard]] std::string current_principal();

// The built-in policy (YAML) for `principal`: process.spawn/signal/kill on
// anything, fs.write on the registry directory (the log files) and below
// /sys/fs/cgroup (joining the task's cgroup). Shown in docs/task-watchdog.md.
[[nodiscard]] std::string default_policy_yaml(const std::string& principal, const std::filesystem::path& state_dir);

// An osl::System with `policy_file` or the default policy.
[[nodiscard]] std::expected<osl::System, Error> make_system(const std::filesystem::path& policy_file,
                                                            const std::filesystem::path& state_dir);

struct RegisterRequest {
  std::string id;
  pid_t pid = 0;
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds grace{10'000};
  std::filesystem::path policy_file;
  // Filled in by register_task.
  std::uint64_t pid_start_time = 0;
  std::optional<std::int64_t> deadline_ms;
};

// `register`: adopts a running process (records its start time, so a
// recycled PID is never mistaken for it) under a double-forked monitor that
// enforces the deadline. Returns once the monitor watches it; stale when
// there is no such process.
[[nodiscard]] std::expected<void, Error> register_task(const Registry& registry, RegisterRequest req);

// `start`. Without --wait: returns 0 once the task runs (its monitor is
// detached). With --wait: returns once the task has ended, with its status
// (timeout(1)'s: kExitTimedOut when the deadline killed it, else its exit
// code, 128+S for signal S). An error when it could not be started:
// program_not_found / not_executable when the program could not be run,
// spawn_failed, already_exists, usage (a bad policy) and so on.
[[nodiscard]] std::expected<int, Error> start_task(const Registry& registry, const StartRequest& req);

}  // namespace airssys::watchdog
