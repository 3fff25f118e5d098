#pragma once
// A child process a test starts (argv array, never a shell) and owns: when
// the Child goes out of scope unreaped, it is SIGKILLed through its pidfd
// (no pid reuse race) and reaped, so a failed assertion leaves nothing
// running. Only the process itself is killed, not what it started; tests
// that start trees kill those by pid themselves.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace airssys::testing {

struct SpawnOptions {
  // Where the child's stdout/stderr go (created 0600, appended to); empty:
  // /dev/null. stdin is /dev/null unless stdin_fd says otherwise.
  std::filesystem::path stdout_path;
  std::filesystem::path stderr_path;
  std::filesystem::path cwd;          // empty: the test's own
  std::vector<std::string> env;       // "NAME=value", added to (or replacing in) the test's environment
  struct Ids {
    uid_t uid;
    gid_t gid;
  };
  std::optional<Ids> run_as;          // drop supplementary groups, setgid, setuid (the test must be root)
  // Advanced: fds to use instead of the paths (-1: use the path).
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

class Child {
 public:
  // Starts argv[0] (searched in PATH when it has no '/'). One that cannot
  // be started reports, as a shell would, 127 (not found) or 126 (found but
  // not runnable, or the redirections failed) from wait(); pid() is then -1.
  explicit Child(const std::vector<std::string>& argv, const SpawnOptions& options = {});
  // Takes ownership of a child the test forked itself.
  [[nodiscard]] static Child adopt(pid_t pid);
  ~Child();
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Sends `sig` if it has not been reaped yet (through the pidfd when there is one).
  void signal(int sig) const;
  // The exit status as a shell prints it (the code, or 128 + signal), or
  // nullopt if it did not exit within `limit` (it keeps running).
  [[nodiscard]] std::optional<int> wait(std::chrono::milliseconds limit = std::chrono::seconds(60));
  // True once it has exited (reaping it then), or if it never started; never blocks.
  [[nodiscard]] bool exited();

 private:
  Child() = default;
  void kill_and_reap() noexcept;
  int spawn(std::vector<char*>& argv, std::vector<char*>& envp, const SpawnOptions& o, int in, int out, int err);
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  int status_ = -1;
};

}  // namespace airssys::testing
