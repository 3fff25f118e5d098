#pragma once
// Helpers for DaemonEye's integration tests: they run the real
// daemoneye-agent and procmond (DAEMONEYE_AGENT_BIN / DAEMONEYE_PROCMOND_BIN,
// set by ctest) against state in a temp dir. Every wait is bounded; nothing
// asserts on timing. Tests end only processes they started, by pid.

#include <airssys/testing/child.hpp>
#include <airssys/testing/eventually.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>

#include "store_query.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace detest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
inline std::string agent_bin() { return env_or_empty("DAEMONEYE_AGENT_BIN"); }
inline std::string procmond_bin() { return env_or_empty("DAEMONEYE_PROCMOND_BIN"); }

// The file's bytes ("" if it cannot be opened).
inline std::string slurp(const fs::path& p) { return airssys::testing::read_file(p); }
using airssys::testing::write_file;

using airssys::testing::eventually;
using airssys::testing::TempDir;

// A child process of the test (airssys::testing::Child: argv, no shell;
// SIGKILLed and reaped when it goes out of scope unless wait() reaped it),
// with stdout and stderr to files (or /dev/null) and `env` ("NAME=value")
// added to the test's environment.
class Child : public airssys::testing::Child {
 public:
  Child(const std::vector<std::string>& argv, const fs::path& out = "/dev/null", const fs::path& err = "/dev/null",
        const fs::path& cwd = {}, std::vector<std::string> env = {})
      : airssys::testing::Child(argv, {.stdout_path = out, .stderr_path = err, .cwd = cwd, .env = std::move(env)}) {}
  // Runs as `uid`/`gid` (the test must be root).
  struct As {
    uid_t uid;
    gid_t gid;
  };
  Child(As who, const std::vector<std::string>& argv, const fs::path& out, const fs::path& err)
      : airssys::testing::Child(argv, {.stdout_path = out,
                                       .stderr_path = err,
                                       .run_as = airssys::testing::SpawnOptions::Ids{who.uid, who.gid}}) {}
};

// A rule in `rules` that matches the calling test process itself, so it
// fires on an agent's first scan (self.yaml, mode 0644).
inline void write_self_rule(const fs::path& rules) {
  airssys::testing::write_file(rules / "self.yaml", "id: self\nname: The test process\nseverity: high\n"
                                                    "query: SELECT pid, name, start_time FROM processes WHERE pid = " +
                                                        std::to_string(::getpid()) + "\n");
  ::chmod((rules / "self.yaml").c_str(), 0644);
}

// A Sigma rule (`title`, `id`) at `file` that matches every process
// creation whose command line contains `marker`.
inline void write_marker_rule(const fs::path& file, std::string_view title, std::string_view id,
                              std::string_view marker) {
  airssys::testing::write_file(file, "title: " + std::string(title) + "\nid: " + std::string(id) +
                                         "\nlogsource: {product: linux, category: process_creation}\n"
                                         "detection:\n  selection:\n    CommandLine|contains: " +
                                         std::string(marker) + "\n  condition: selection\n");
}

inline std::string cli_bin() { return env_or_empty("DAEMONEYE_CLI_BIN"); }

// How a program run to its end went: its exit status as a shell prints it
// (-1 if it overran the bound, then killed), and what it printed.
struct Outcome {
  int code = -1;
  std::string out, err;
};

// The lines of `text` (a program's output), without their newlines.
inline std::vector<std::string> lines_in(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Runs daemoneye-cli with `args` to its end (at most 60 s), as `who` when
// given (the test must be root). stdout and stderr go through cli.out and
// cli.err in `dir` (emptied first: Child appends), so one test's runs can be
// inspected after a failure.
inline Outcome run_cli(std::vector<std::string> args, const fs::path& dir,
                       std::optional<Child::As> who = std::nullopt) {
  args.insert(args.begin(), cli_bin());
  const fs::path out = dir / "cli.out", err = dir / "cli.err";
  fs::remove(out);
  fs::remove(err);
  auto c = who ? Child(*who, args, out, err) : Child(args, out, err);
  auto rc = c.wait(60s);
  return {rc.value_or(-1), slurp(out), slurp(err)};
}

// A temp dir laid out for one daemoneye-agent: rules/, var/ (its database
// and alerts.jsonl), agent.log (stdout and stderr) and config.yaml.
struct AgentDir {
  TempDir dir;
  fs::path rules = dir.path() / "rules";
  fs::path var = dir.path() / "var";
  fs::path alerts = var / "alerts.jsonl";
  fs::path log = dir.path() / "agent.log";
  fs::path config = dir.path() / "config.yaml";

  AgentDir() { fs::create_directories(rules); }

  // config.yaml: the database in var/, a scan every `interval` (500 ms),
  // rules/ (with `rules_extra`, e.g. "timeout: 20s"), and the JSON-lines file
  // sink at `alerts`; `extra`: more top-level YAML lines.
  void write_config(std::string_view extra = "", std::string_view interval = "500ms",
                    std::string_view rules_extra = "") const {
    write_file(config, "database: { path: " + var.string() + "/daemoneye.db }\n" + "scan: { interval: " +
                           std::string(interval) + " }\n" + "rules: { dir: " + rules.string() +
                           (rules_extra.empty() ? "" : ", " + std::string(rules_extra)) + " }\n" +
                           std::string(extra) + "alerts:\n  sinks:\n    - { type: file, path: " + var.string() +
                           "/alerts.jsonl, format: json }\n");
  }

  // The real agent on config.yaml, with `env` ("NAME=value") added to the
  // test's environment; killed when the pointer is dropped.
  std::unique_ptr<Child> start_agent(std::vector<std::string> env = {}) const {
    EXPECT_FALSE(agent_bin().empty()) << "DAEMONEYE_AGENT_BIN is not set: run this test through ctest";
    return std::make_unique<Child>(std::vector<std::string>{agent_bin(), "--config", config.string()}, log, log,
                                   fs::path{}, std::move(env));
  }

  // start_agent(), once the agent has stored its first scan in var/daemoneye.db
  // (at most 60 s; past that the test goes on, failed, with the agent's log).
  std::unique_ptr<Child> start_agent_scanned() const {
    auto a = start_agent();
    EXPECT_TRUE(eventually([&] { return count_rows(var / "daemoneye.db", "SELECT count(*) FROM scans") > 0; }, 60s))
        << slurp(log);
    return a;
  }

  // Every alert in the file sink so far (a line being written is skipped).
  std::vector<nlohmann::json> alert_lines() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(slurp(alerts));
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }

  // The alerts of rule `rule_id` in the file sink so far.
  std::vector<nlohmann::json> alerts_of(const std::string& rule_id) const {
    std::vector<nlohmann::json> out;
    for (auto& j : alert_lines())
      if (j.value("rule_id", "") == rule_id) out.push_back(std::move(j));
    return out;
  }

  // One run: starts the agent, waits until the sink holds `rule_id`'s
  // `count`-th alert, stops it cleanly (below stop_agent).
  void run_until(const std::string& rule_id, std::size_t count) const;
};

// SIGTERM to an agent the test started; it must stop cleanly (exit 0)
// within 60 s. `log`: its log, printed on failure.
inline void stop_agent(Child& agent, const fs::path& log) {
  agent.signal(SIGTERM);
  const auto rc = agent.wait(std::chrono::seconds(60));
  ASSERT_TRUE(rc.has_value()) << slurp(log);
  EXPECT_EQ(*rc, 0) << slurp(log);
}

inline void AgentDir::run_until(const std::string& rule_id, std::size_t count) const {
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return alerts_of(rule_id).size() >= count; })) << slurp(log);
  stop_agent(*agent, log);
}

// Runs `file` through execveat(fd, "", AT_EMPTY_PATH) with argv, as
// airssys-osl spawns every program (the exec is given /dev/fd/N); its pid,
// -1 when `file` cannot be opened. The descriptor is not close-on-exec: a
// script's interpreter opens /dev/fd/N itself. The child makes raw system
// calls only (the tests are multithreaded).
inline pid_t run_through_fd(const fs::path& file, std::vector<std::string> argv) {
  const int fd = ::open(file.c_str(), O_PATH);
  if (fd < 0) return -1;
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::syscall(SYS_execveat, fd, "", args.data(), environ, AT_EMPTY_PATH);
    ::_exit(127);
  }
  ::close(fd);
  return pid;
}

// A directory made under /tmp itself, "/tmp/<prefix>.XXXXXX" (a bundled
// rule's temporary directory; the tests' TMPDIR may be elsewhere), removed
// with what is in it. `path` is empty when it could not be made.
struct TmpUnderTmp {
  fs::path path;
  explicit TmpUnderTmp(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + ".XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  TmpUnderTmp(const TmpUnderTmp&) = delete;
  TmpUnderTmp& operator=(const TmpUnderTmp&) = delete;
  ~TmpUnderTmp() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// Children of `pid` named `comm` (from /proc/*/stat).
inline std::vector<pid_t> children_named(pid_t parent, const std::string& comm) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = slurp(e.path() / "stat");
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 >= stat.size()) continue;
    if (stat.substr(open + 1, close - open - 1) != comm) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != "Z") out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

}  // namespace detest
