#pragma once
// The task registry: one JSON file (format: docs/task-watchdog.md,
// "Registry format") that survives crashes of every process involved.
//
// Writers serialise on an exclusive flock of "<registry>.lock", re-read the
// file, apply their change, write "<registry>.tmp.<pid>.<random>" (created
// with O_EXCL|O_NOFOLLOW), fsync, rename over the registry and fsync the
// directory: readers (who take no lock) see the old or the new file, never a
// mix. A registry that fails to parse or validate is reported with its path
// and the problem and is never written. Lock files are never followed
// through a symbolic link (a registry under /tmp must not let another user
// aim root's writes elsewhere); the directory is created 0700.
//
// Thread safety: a Registry value is immutable; concurrent update() calls,
// from threads or processes, are serialised by the lock file.

#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/task_state.hpp>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::watchdog {

inline constexpr int kSchemaVersion = 1;

// Where the task's processes are contained, so they can all be found again.
struct Containment {
  ContainmentKind kind = ContainmentKind::none;
  std::string cgroup;  // cgroup2: the task's cgroup directory
  std::string note;    // process-group: why no cgroup could be made
  // Hybrid layouts: the task's cgroups in v1 hierarchies, controller → directory
  // ("memory", "cpu", "pids"); they hold the limits and the memory accounting.
  std::map<std::string, std::string> v1;
};

// Resource limits from `start --memory/--cpus/--pids` (unset: unlimited).
struct Limits {
  std::optional<std::uint64_t> memory_bytes;
  std::optional<double> cpus;  // CPUs' worth of time per period: 0.5, 2, …
  std::optional<std::uint64_t> pids;
  [[nodiscard]] bool any() const noexcept { return memory_bytes || cpus || pids; }
};

struct TaskRecord {
  std::string id;
  std::vector<std::string> argv;
  std::string cwd;
  std::vector<std::string> env;  // the --env K=V entries (TASK_ID is implicit)
  std::int64_t created_ms = 0;   // Unix time, milliseconds
  std::optional<std::int64_t> timeout_ms;
  std::optional<std::int64_t> idle_timeout_ms;  // killed after this long without output
  std::int64_t grace_ms = 10'000;
  std::optional<std::int64_t> deadline_ms;  // Unix time; set when the task starts
  TaskState state = TaskState::starting;
  std::optional<std::int64_t> pid;
  std::optional<std::uint64_t> pid_start_time;  // /proc/PID/stat field 22
  std::optional<std::int64_t> monitor_pid;
  std::optional<std::uint64_t> monitor_start_time;
  bool foreground = false;  // started with --wait
  Containment containment;
  Limits limits;
  std::string stdout_log;
  std::string stderr_log;
  std::optional<int> exit_code;
  std::optional<int> exit_signal;
  std::optional<std::int64_t> ended_ms;
  std::string error;  // failed: why; killed: by whom
  std::optional<std::int64_t> leftover_processes;  // killed after the main process ended
  // Unknown keys → their value as compact JSON text, kept as read and
  // written back unchanged (a newer build's fields survive an older one).
  // Container tasks keep their "container" object here (src/container.hpp, docs/task-watchdog.md "Containers").
  std::map<std::string, std::string> extra;
};

struct RegistryData {
  int schema_version = kSchemaVersion;
  std::map<std::string, TaskRecord> tasks;
  std::map<std::string, std::string> extra;  // unknown top-level keys, as TaskRecord::extra
};

// Pure conversions, exposed for tests and tools. `source` names the file in errors.
[[nodiscard]] std::expected<RegistryData, Error> parse_registry(std::string_view text, const std::string& source);
[[nodiscard]] std::string serialize_registry(const RegistryData& data);

class Registry {
 public:
  // Resolves `path` to an absolute path; nothing is created yet.
  explicit Registry(std::filesystem::path path);

  // The registry path from, in order: `cli_path` (--registry) if not empty,
  // $TASK_WATCHDOG_REGISTRY, ./.task-watchdog/registry.json.
  [[nodiscard]] static std::filesystem::path default_path(const std::string& cli_path);

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::filesystem::path dir() const { return path_.parent_path(); }
  [[nodiscard]] std::filesystem::path log_path(const std::string& id, const char* stream) const;

  // Creates dir() and any missing parents, each 0700 (logs and lock files
  // live there). Existing directories are left as they are.
  [[nodiscard]] std::expected<void, Error> ensure_dir() const;

  // Opens (creating, 0600) the lock file "<registry><suffix>" for flock.
  // Refuses a symbolic link or anything but a regular file with an error
  // naming the path. The caller owns the returned fd.
  [[nodiscard]] std::expected<osl::UniqueFd, Error> open_lock(std::string_view suffix) const;

  // Reads the registry without locking; a missing file is an empty registry.
  [[nodiscard]] std::expected<RegistryData, Error> load() const;

  // Locks, re-reads, applies `change`, writes atomically. If `change` fails,
  // nothing is written and its error is returned.
  using Change = std::function<std::expected<void, Error>(RegistryData&)>;
  [[nodiscard]] std::expected<void, Error> update(const Change& change) const;

 private:
  std::filesystem::path path_;
};

}  // namespace airssys::watchdog
