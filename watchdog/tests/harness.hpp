#pragma once
// Helpers for the integration tests: they drive the real task-watchdog
// binary (TASK_WATCHDOG_BIN, set by ctest) against a registry in a temp dir.
// Every wait is bounded; nothing asserts on timing.

#include <airssys/testing/child.hpp>
#include <airssys/testing/eventually.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/run.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
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

inline std::string slurp(const fs::path& p) { return airssys::testing::read_file(p); }

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

using airssys::testing::Child;

// Starts the watchdog with `args` as our child (no shell, no fork: posix_spawn
// through airssys::testing::Child), stdout/stderr appended to the files;
// `env` entries are added to our environment. The Child kills and reaps it
// if the test ends before it does.
inline Child spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err,
                   const std::vector<std::string>& env = {}) {
  std::vector<std::string> full{bin()};
  full.insert(full.end(), args.begin(), args.end());
  return Child(full, {.stdout_path = out, .stderr_path = err, .env = env});
}

// Waits for `child` at most `bound`; its exit status as a shell prints it.
// One that overruns is a test failure: it is killed (it is ours) and -1 returned.
inline int wait_child(Child& child, std::chrono::seconds bound = 120s) {
  if (auto st = child.wait(bound)) return *st;
  ADD_FAILURE() << "child " << child.pid() << " did not finish within the bound";
  child.signal(SIGKILL);
  (void)child.wait();
  return -1;
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

// Edits task `id`'s record in the registry file in place (atomically, 0600),
// for states a test cannot wait for: only while nothing else writes it
// (no monitor or daemon of the task runs).
inline void edit_task_record(const fs::path& registry, const std::string& id, const std::function<void(nlohmann::json&)>& f) {
  auto j = nlohmann::json::parse(slurp(registry));
  f(j["tasks"][id]);
  const auto tmp = registry.string() + ".edit";
  std::ofstream(tmp) << j.dump(1);
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  fs::rename(tmp, registry);
}

// Field 22 of /proc/PID/stat (clock ticks since boot), the start time the
// registry records; 0 when /proc cannot show it.
inline std::uint64_t start_time_of(pid_t pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  std::istringstream fields(stat.substr(close + 2));  // from field 3
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {}
  return std::strtoull(field.c_str(), nullptr, 10);
}

// Unix milliseconds now, as the registry's times.
inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

inline bool terminal(const fs::path& dir, const fs::path& registry, const std::string& id) {
  auto j = status_json(dir, registry, id);
  if (!j || j->is_discarded()) return false;
  const std::string s = (*j)["state"];
  return s == "exited" || s == "timed_out" || s == "killed" || s == "failed";
}

}  // namespace wdtest
