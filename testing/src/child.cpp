#include <airssys/testing/child.hpp>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace airssys::testing {

namespace {

int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int shell_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

// The test's environment with `extra` added; an entry for a name already
// there replaces it.
std::vector<std::string> merged_env(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) out.emplace_back(*e);
  for (const auto& kv : extra) {
    const auto name = kv.substr(0, kv.find('=') + 1);
    std::erase_if(out, [&](const std::string& s) { return s.starts_with(name); });
    out.push_back(kv);
  }
  return out;
}

std::vector<char*> c_array(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// For run_as (fork): between fork and exec only async-signal-safe calls;
// everything the child needs is prepared before the fork.
[[noreturn]] void child_exec(const char* file, char* const* argv, char* const* envp, const SpawnOptions& o, int in,
                             int out, int err) {
  if (in < 0 || out < 0 || err < 0) ::_exit(126);
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
  if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) ::_exit(126);
  if (o.run_as) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(o.run_as->gid) != 0 || ::setuid(o.run_as->uid) != 0) ::_exit(126);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (std::strchr(file, '/') != nullptr) {
    ::execve(file, argv, envp);
  } else {
    ::execvpe(file, argv, envp);
  }
  ::_exit(127);
}

int open_or(int fd, const std::filesystem::path& path, int flags) {
  if (fd >= 0) return fd;
  return ::open(path.empty() ? "/dev/null" : path.c_str(), flags | O_CLOEXEC, 0600);
}

}  // namespace

Child::Child(const std::vector<std::string>& argv, const SpawnOptions& o) {
  if (argv.empty()) throw std::invalid_argument("Child: empty argv");
  std::vector<std::string> args = argv;
  std::vector<std::string> env = merged_env(o.env);
  auto cargs = c_array(args);
  auto cenv = c_array(env);
  // The test's own fds stay O_CLOEXEC; dup2 in the child clears it on 0-2.
  const int in = open_or(o.stdin_fd, {}, O_RDONLY);
  const int out = open_or(o.stdout_fd, o.stdout_path, O_WRONLY | O_CREAT | O_APPEND);
  const int err = open_or(o.stderr_fd, o.stderr_path, O_WRONLY | O_CREAT | O_APPEND);
  int start_errno = 0;
  if (o.run_as) {
    // posix_spawn cannot change ids: fork (slower under ASan) for this case.
    pid_ = ::fork();
    if (pid_ == 0) child_exec(cargs[0], cargs.data(), cenv.data(), o, in, out, err);
    if (pid_ < 0) start_errno = errno;
  } else {
    start_errno = spawn(cargs, cenv, o, in, out, err);
  }
  if (o.stdin_fd < 0 && in >= 0) ::close(in);
  if (o.stdout_fd < 0 && out >= 0) ::close(out);
  if (o.stderr_fd < 0 && err >= 0) ::close(err);
  if (start_errno != 0) {
    // Reported as a shell would: 127 not found, 126 found but not runnable.
    pid_ = -1;
    reaped_ = true;
    status_ = start_errno == ENOENT ? 127 : 126;
    return;
  }
  pidfd_ = open_pidfd(pid_);
}

int Child::spawn(std::vector<char*>& argv, std::vector<char*>& envp, const SpawnOptions& o, int in, int out, int err) {
  // posix_spawn (vfork-like in glibc): a fork of a large ASan test process
  // costs far more, and CLI suites start hundreds of programs.
  if (in < 0 || out < 0 || err < 0) return errno != 0 ? errno : EBADF;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  if (!o.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, o.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  const int rc = std::strchr(argv[0], '/') != nullptr
                     ? ::posix_spawn(&pid_, argv[0], &fa, &attr, argv.data(), envp.data())
                     : ::posix_spawnp(&pid_, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

Child Child::adopt(pid_t pid) {
  Child c;
  c.pid_ = pid;
  if (pid > 0) c.pidfd_ = open_pidfd(pid);
  return c;
}

Child::~Child() { kill_and_reap(); }

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      reaped_(other.reaped_),
      status_(other.status_) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    reaped_ = other.reaped_;
    status_ = other.status_;
  }
  return *this;
}

void Child::kill_and_reap() noexcept {
  if (pid_ > 0 && !reaped_) {
    signal(SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
}

void Child::signal(int sig) const {
  if (pid_ <= 0 || reaped_) return;
  if (pidfd_ >= 0) {
    ::syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0);
  } else {
    ::kill(pid_, sig);
  }
}

bool Child::exited() {
  if (reaped_) return true;
  if (pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    reaped_ = true;
    status_ = shell_status(st);
  }
  return reaped_;
}

std::optional<int> Child::wait(std::chrono::milliseconds limit) {
  using namespace std::chrono_literals;
  if (reaped_) return status_;
  if (pid_ <= 0) return std::nullopt;
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!exited()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left <= 0ms) return std::nullopt;
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      (void)::poll(&p, 1, static_cast<int>(std::min<std::chrono::milliseconds>(left, 1000ms).count()));
    } else {
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(left, 10ms));
    }
  }
  return status_;
}

}  // namespace airssys::testing
