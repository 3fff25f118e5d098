#pragma once
// Helpers for the integration tests: they drive the real task-watchdog
// binary (TASK_WATCHDOG_BIN, set by ctest) against a registry in a temp dir.
// Every wait is bounded; nothing asserts on timing.

#include <airssys/testing/eventually.hpp>
#include <airssys/testing/run.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace wdtest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string bin() {
  const char* b = std::getenv("TASK_WATCHDOG_BIN");
  return b ? b : "";
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// airssys::testing::TempDir under the shape these tests use (`d.path`).
struct TempDir {
  airssys::testing::TempDir dir{"wd-it"};
  const fs::path path = dir.path();
};

struct Result {
  int rc = -1;
  std::string out;
  std::string err;
};

// Starts `args` (argv[0] is the watchdog binary) with stdout/stderr to files;
// returns the child's pid. `env` entries are added to our environment.
inline pid_t spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err,
                   const std::vector<std::string>& env = {}) {
  std::vector<std::string> full{bin()};
  full.insert(full.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Waits for our child `pid` at most `bound`; kills it (it is ours) if it overruns.
inline int wait_child(pid_t pid, std::chrono::seconds bound = 120s) {
  const auto until = std::chrono::steady_clock::now() + bound;
  int st = 0;
  while (true) {
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      ADD_FAILURE() << "task-watchdog did not finish within the bound";
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Runs the watchdog with `args` to its end (airssys::testing::run); `env`
// entries are added to our environment. `dir` is kept for the callers.
inline Result run(const fs::path& /*dir*/, const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv{bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = airssys::testing::run(argv, {.env = env});
  if (r.status < 0) ADD_FAILURE() << "task-watchdog did not finish within the bound";
  return {r.status, std::move(r.out), std::move(r.err)};
}

using airssys::testing::eventually;

// Kills and reaps a child the test forked itself (by pid; only if it is
// still our unreaped child), so a failed assertion cannot leave it running.
// `pid = 0` disarms it.
struct ChildGuard {
  pid_t pid;
  explicit ChildGuard(pid_t p) : pid(p) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() {
    if (pid <= 0) return;
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
    }
  }
};

// True when `pid` is gone: no such process, or a zombie.
inline bool gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return true;
  return stat[close + 2] == 'Z' || stat[close + 2] == 'X';
}

inline std::optional<nlohmann::json> status_json(const fs::path& dir, const fs::path& registry, const std::string& id) {
  auto r = run(dir, {"status", id, "--json", "--registry", registry.string()});
  if (r.rc != 0) return std::nullopt;
  return nlohmann::json::parse(r.out, nullptr, false);
}

inline bool state_is(const fs::path& dir, const fs::path& registry, const std::string& id, const std::string& state) {
  auto j = status_json(dir, registry, id);
  return j && !j->is_discarded() && (*j)["state"] == state;
}

inline bool terminal(const fs::path& dir, const fs::path& registry, const std::string& id) {
  auto j = status_json(dir, registry, id);
  if (!j || j->is_discarded()) return false;
  const std::string s = (*j)["state"];
  return s == "exited" || s == "timed_out" || s == "killed" || s == "failed";
}

}  // namespace wdtest
