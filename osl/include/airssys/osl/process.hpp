#pragma once
// Process operations and the Process handle.
//
// Children are created with clone3(CLONE_PIDFD): every handle owns a pidfd,
// so a signal sent through it can never reach a recycled PID.

#include <airssys/osl/done.hpp>
#include <airssys/osl/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace airssys::osl {

namespace detail {
class Core;
class SlotToken;
}  // namespace detail

namespace process {

struct Stdio {
  enum class Kind : std::uint8_t { inherit, null, pipe, file };
  Kind kind = Kind::inherit;
  std::filesystem::path path;  // Kind::file: checked as fs.read (stdin) or fs.write (stdout/stderr)
  bool append = false;         // Kind::file for output: append instead of truncate

  static Stdio inherit() { return {}; }
  static Stdio null() { return {Kind::null, {}, false}; }
  static Stdio pipe() { return {Kind::pipe, {}, false}; }
  static Stdio file(std::filesystem::path p, bool append = false) { return {Kind::file, std::move(p), append}; }
};

struct Rlimit {
  int resource = RLIMIT_NOFILE;  // RLIMIT_*
  rlim_t soft = RLIM_INFINITY;
  rlim_t hard = RLIM_INFINITY;
};

// Linux sandbox applied in the child between fork and exec.
struct Sandbox {
  bool no_new_privs = false;
  std::vector<Rlimit> rlimits{};
  // Landlock ruleset derived from the policy (Policy::sandbox_paths for the
  // principal): the child cannot read, write or execute outside it even with
  // direct system calls. Implies no_new_privs. Fails with `unsupported` when
  // the kernel has no Landlock.
  bool landlock = false;
};

struct Options {
  // nullopt: the child inherits this process's environment. Otherwise exactly
  // these "KEY=VALUE" entries.
  std::optional<std::vector<std::string>> env{};
  std::vector<std::string> extra_env{};  // "KEY=VALUE" added on top of either
  std::filesystem::path cwd{};           // empty: inherit
  Stdio stdin_ = Stdio::null();
  Stdio stdout_ = Stdio::inherit();
  Stdio stderr_ = Stdio::inherit();
  // When set, wait()/communicate() kill the child (SIGKILL) once it passes and
  // report timed_out. A detached child's deadline is not enforced.
  std::optional<std::chrono::milliseconds> deadline{};
  bool new_process_group = false;  // setpgid(0, 0) in the child
  bool new_session = false;        // setsid() in the child
  // Cgroup directories (v1 or v2) the child joins before it execs, so it and
  // everything it starts are inside from the first instruction. Each
  // DIR/cgroup.procs is policy-checked as fs.write.
  std::vector<std::filesystem::path> join_cgroups{};
  // Fds above 2 the child keeps open under the same numbers (a lock held for
  // the program's lifetime, a pre-opened socket or pipe); every other fd
  // above 2 is closed on exec. Each must be open here, listed once and above
  // 2 (0-2 are stdin_/stdout_/stderr_), else invalid_argument (EBADF for a
  // closed one); refused with sandbox.landlock (an open fd carries access past
  // the ruleset). The policy asks nothing more than process.spawn (the caller
  // already holds the fd — so take the list only from trusted code of the
  // same principal, never from a request); the start record's detail names each fd and what
  // it is (`"keep_fds":[{"fd":9,"target":"/tmp/lock"}]`). What is checked is
  // what the child gets, or it does not start: run() records each fd's file
  // (st_dev, st_ino) when it checks the list, and if fd N here is closed or
  // refers to another file by the time the child starts, run() fails with
  // invalid_argument naming N. No fd is duplicated or closed here (closing
  // one would drop our fcntl/lockf locks on the file). Our own fd and its
  // flags are not changed. The numbers are read on every
  // run(): reusing these Options later hands on whatever N is then.
  std::vector<int> keep_fds{};
  Sandbox sandbox{};
};

class Process;

struct Spawn {
  std::vector<std::string> argv{};  // argv[0]: a path, or a name searched in PATH
  Options options{};
  using Result = Process;
};

struct ExitStatus {
  std::optional<int> code;    // set when the child exited
  std::optional<int> signal;  // set when a signal killed it
  bool timed_out = false;     // the deadline killed it
  // Shell convention: code, or 128+signal.
  [[nodiscard]] int shell_code() const noexcept { return code ? *code : 128 + signal.value_or(0); }
};

struct Output {
  ExitStatus status;
  std::string out;  // empty unless stdout was a pipe
  std::string err;  // empty unless stderr was a pipe
};

// A target process that may not be our child. `start_time` (clock ticks
// since boot, field 22 of /proc/PID/stat), when set, must match, so a
// recycled PID is refused instead of signalled.
struct Target {
  pid_t pid = 0;
  std::optional<std::uint64_t> start_time{};
};

struct Signal {
  Target target{};
  int signo = SIGTERM;
  using Result = Done;
};

struct Kill {  // SIGKILL
  Target target{};
  using Result = Done;
};

// Start time of a live process, for Target::start_time.
[[nodiscard]] std::expected<std::uint64_t, Error> start_time_of(pid_t pid);

// Handle to a spawned child. Move-only. Destroying a handle whose child is
// still running kills the child (SIGKILL) and reaps it, unless detach() was
// called. Not thread-safe: use one handle from one thread at a time.
class Process {
 public:
  Process(Process&&) noexcept;
  Process& operator=(Process&&) noexcept;
  ~Process();

  [[nodiscard]] pid_t pid() const noexcept;
  [[nodiscard]] int pidfd() const noexcept;

  // Waits for exit; `timeout` bounds this call only (nullopt: until exit or
  // deadline). Returns a timeout error if `timeout` passes first.
  [[nodiscard]] std::expected<ExitStatus, Error> wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Non-blocking: the status if the child has exited.
  [[nodiscard]] std::expected<std::optional<ExitStatus>, Error> try_wait();

  // Writes `input` to stdin (if it is a pipe, then closes it), collects
  // stdout/stderr pipes until the child exits, honouring the deadline.
  [[nodiscard]] std::expected<Output, Error> communicate(std::string_view input = {});

  // process.signal / process.kill through the pipeline (policy + audit),
  // addressed by pidfd.
  [[nodiscard]] std::expected<void, Error> signal(int signo);
  [[nodiscard]] std::expected<void, Error> kill();
  // The same operations for the child's whole process group (everything it
  // started that did not leave the group), when it was spawned with
  // new_process_group or new_session. Checked and audited like signal()/kill()
  // (the resource is the child's program). Refused once the child has been
  // reaped: only while its pid is held (alive, or a zombie not yet waited
  // for) can the group id not have been reused. Works after the child itself
  // exited, which is how the rest of its group is cleared away.
  [[nodiscard]] std::expected<void, Error> signal_group(int signo);
  [[nodiscard]] std::expected<void, Error> kill_group();

  // Pipe ends, when the corresponding Stdio was pipe(); taking transfers ownership.
  [[nodiscard]] UniqueFd take_stdin() noexcept;
  [[nodiscard]] UniqueFd take_stdout() noexcept;
  [[nodiscard]] UniqueFd take_stderr() noexcept;

  // Leave the child running when the handle is destroyed (it is no longer
  // reaped by us; its process slot is released).
  void detach() noexcept;

  struct State;  // private; defined in the implementation

 private:
  friend class detail::Core;
  explicit Process(std::unique_ptr<State> s);
  std::unique_ptr<State> state_;
};

}  // namespace process
}  // namespace airssys::osl
