#pragma once
// Runs the real airssys-ledger binary (path from AIRSSYS_LEDGER_BIN) with
// pipes for stdin, stdout and stderr.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace airssys::ledger::testing {

inline std::string ledger_bin() {
  const char* p = std::getenv("AIRSSYS_LEDGER_BIN");
  if (p == nullptr) throw std::runtime_error("AIRSSYS_LEDGER_BIN is not set (run through ctest)");
  return p;
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// A started child with its stdin/stdout/stderr pipes (the test's ends).
struct Child {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;
};

inline Child spawn_ledger(const std::vector<std::string>& args) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  const std::string bin = ledger_bin();
  std::vector<std::string> all = {bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  Child c;
  const int rc = ::posix_spawn(&c.pid, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  c.in = in[1];
  c.out = out[0];
  c.err = err[0];
  return c;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

inline RunResult run_ledger(const std::vector<std::string>& args, const std::string& input = "") {
  ::signal(SIGPIPE, SIG_IGN);
  Child c = spawn_ledger(args);
  std::size_t written = 0;
  if (input.empty()) {
    ::close(c.in);
    c.in = -1;
  }
  RunResult r;
  while (c.out >= 0 || c.err >= 0) {
    std::vector<pollfd> fds;
    if (c.out >= 0) fds.push_back({c.out, POLLIN, 0});
    if (c.err >= 0) fds.push_back({c.err, POLLIN, 0});
    if (c.in >= 0) fds.push_back({c.in, POLLOUT, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == c.in) {
        const ssize_t w = ::write(c.in, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 || written == input.size()) {
          ::close(c.in);
          c.in = -1;
        }
        continue;
      }
      char buf[65536];
      const ssize_t n = ::read(p.fd, buf, sizeof buf);
      std::string& dst = p.fd == c.out ? r.out : r.err;
      if (n > 0) {
        dst.append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(p.fd);
        (p.fd == c.out ? c.out : c.err) = -1;
      }
    }
  }
  if (c.in >= 0) ::close(c.in);
  r.exit_code = wait_exit(c.pid);
  return r;
}

inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    auto nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace airssys::ledger::testing
