#pragma once
// Runs the real airssys-ledger binary (path from AIRSSYS_LEDGER_BIN): to its
// end through airssys::testing::run, or started with pipes for stdin,
// stdout and stderr.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <airssys/testing/run.hpp>

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

// For a test that streams stdin and reads acknowledgements as they come
// (the crash test); run_ledger is the one-shot form.
inline Child spawn_ledger(const std::vector<std::string>& args) {
  ::signal(SIGPIPE, SIG_IGN);  // a killed child's stdin pipe must not end the test
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
  std::vector<std::string> argv{ledger_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = ::airssys::testing::run(argv, {.input = input});
  return {r.status, std::move(r.out), std::move(r.err)};
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
