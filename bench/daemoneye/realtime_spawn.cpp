#include "realtime_spawn.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace airssys::daemoneye::bench {

std::int64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

ShortChildren::~ShortChildren() { reap_all(true); }

std::expected<pid_t, std::string> ShortChildren::spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (const int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ); rc != 0) {
    return std::unexpected("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
  running_.push_back(pid);
  return pid;
}

std::size_t ShortChildren::reap() {
  std::erase_if(running_, [&](pid_t p) {
    int st = 0;
    const pid_t r = ::waitpid(p, &st, WNOHANG);
    if (r == p && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) ++failed_;
    return r == p || (r < 0 && errno == ECHILD);
  });
  return running_.size();
}

void ShortChildren::reap_all(bool kill) noexcept {
  for (pid_t p : running_) {
    if (kill) ::kill(p, SIGKILL);
    int st = 0;
    while (::waitpid(p, &st, 0) < 0 && errno == EINTR) {
    }
    if (!kill && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) ++failed_;
  }
  running_.clear();
}

}  // namespace airssys::daemoneye::bench
