#pragma once
// Child processes of the DaemonEye benchmark: sleepers that fill the process
// table, marker processes a rule catches, and the agent under test.
//
// Every child is registered (pid, and how to end it) in a fixed-size table
// that a SIGINT/SIGTERM/SIGHUP handler walks, so an interrupted benchmark
// still leaves none of its children behind: sleepers and markers get SIGKILL
// by pid, the agent SIGTERM (it then stops its procmond) and is waited for.
// On normal paths the owning object (Sleepers, Child) ends and reaps its own
// children in its destructor. A SIGKILL of the benchmark itself cannot be
// caught: sleepers then run out their `sleep` (bench/daemoneye/run.sh also
// kills its child's process group on exit).
//
// Not thread-safe: children are spawned and reaped by the main thread.

#include <sys/types.h>

#include <cstddef>
#include <expected>
#include <functional>
#include <string>
#include <vector>

namespace airssys::daemoneye::bench {

// Installs the cleanup handler (once; later calls do nothing).
void install_cleanup_handler();

// argv[0] of every sleeper this benchmark starts: "<prefix>-<bench pid>".
[[nodiscard]] std::string sleeper_marker();

// `count` x /bin/sleep SECONDS with argv[0] = sleeper_marker(), all in one new
// process group. Destruction SIGKILLs each by pid and reaps it.
class Sleepers {
 public:
  [[nodiscard]] static std::expected<Sleepers, std::string> spawn(std::size_t count, unsigned seconds = 1800);
  Sleepers() = default;
  Sleepers(Sleepers&& o) noexcept;
  Sleepers& operator=(Sleepers&& o) noexcept;
  Sleepers(const Sleepers&) = delete;
  Sleepers& operator=(const Sleepers&) = delete;
  ~Sleepers();

  [[nodiscard]] std::size_t size() const noexcept { return pids_.size(); }
  [[nodiscard]] const std::vector<pid_t>& pids() const noexcept { return pids_; }
  void kill_all() noexcept;

 private:
  std::vector<pid_t> pids_;
};

enum class EndWith { sigkill, sigterm };

struct SpawnOptions {
  std::string stdout_path = "/dev/null";  // created 0600 (appended to) when not /dev/null
  std::string stderr_path = "/dev/null";
  std::vector<std::string> env;  // empty: this process's environment
  bool new_process_group = false;
};

// One child, ended (SIGKILL or SIGTERM then wait) when destroyed.
class Child {
 public:
  // argv[0] is the program run; `argv0` (if not empty) is what the child sees.
  [[nodiscard]] static std::expected<Child, std::string> spawn(const std::vector<std::string>& argv, EndWith end,
                                                               const SpawnOptions& options = {},
                                                               const std::string& argv0 = "");
  // A forked copy of this process that runs `body` and exits with its
  // result. It starts with default SIGINT/SIGTERM/SIGHUP (the parent's
  // handler ends it) and dies with the parent (PR_SET_PDEATHSIG). Fork only
  // while the process has one thread.
  [[nodiscard]] static std::expected<Child, std::string> fork(const std::function<int()>& body, EndWith end);
  Child() = default;
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Ends it as `end` says and returns its wait status (-1 if there was none).
  int stop() noexcept;
  // Waits without signalling it: its wait status.
  int wait() noexcept;

 private:
  pid_t pid_ = -1;
  EndWith end_ = EndWith::sigkill;
};

// `cmd` with stdout and stderr to /dev/null; its wait status, or an error when
// it could not be started.
[[nodiscard]] std::expected<int, std::string> run_quiet(const std::vector<std::string>& cmd);

}  // namespace airssys::daemoneye::bench
