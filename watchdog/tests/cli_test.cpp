// task-watchdog CLI: --wait like timeout(1), concurrent starts, a corrupt
// registry, PID reuse, TASK_ID, usage errors.

#include "harness.hpp"

#include "proc.hpp"

#include <grp.h>
#include <pwd.h>

#include <csignal>
#include <set>
#include <utility>

using namespace wdtest;

TEST(Cli, WaitReturns124WhenTheDeadlineKills) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "registry.json";
  auto r = run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "w", "--timeout", "1s", "--grace", "1s",
                        "--", "sleep", "1000"});
  EXPECT_EQ(r.rc, 124) << r.err;
  EXPECT_TRUE(state_is(d.path, reg, "w", "timed_out"));
}

TEST(Cli, WaitReturnsTheTaskExitCodeAndSetsTaskId) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  auto r = run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "env-1", "--env", "X=y", "--", "/bin/sh",
                        "-c", "echo \"$TASK_ID $X\"; exit 7"});
  EXPECT_EQ(r.rc, 7) << r.err;
  r = run(d.path, {"logs", "env-1", "--registry", reg.string()});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "env-1 y\n");
  auto st = status_json(d.path, reg, "env-1");
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["state"], "exited");
  EXPECT_EQ((*st)["exit_code"], 7);
}

TEST(Cli, WaitMissingProgramIs127) {
  TempDir d;
  auto r = run(d.path, {"start", "--wait", "--registry", (d.path / "r.json").string(), "--id", "x", "--", "/nonexistent/prog"});
  EXPECT_EQ(r.rc, 127) << r.err;
}

TEST(Cli, RegistryFromEnvironment) {
  TempDir d;
  const auto reg = d.path / "env" / "registry.json";
  auto r = run(d.path, {"start", "--wait", "--id", "e", "--", "true"}, {"TASK_WATCHDOG_REGISTRY=" + reg.string()});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(fs::exists(reg));
}

TEST(Cli, FiftyConcurrentStartsAreAllRecorded) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  constexpr int kN = 50;
  std::vector<Child> children;
  for (int i = 0; i < kN; ++i) {
    children.push_back(spawn({"start", "--registry", reg.string(), "--id", "t" + std::to_string(i), "--", "true"},
                             d.path / ("o" + std::to_string(i)), d.path / ("e" + std::to_string(i))));
  }
  int failures = 0;
  for (auto& c : children) failures += wait_child(c, 300s) == 0 ? 0 : 1;
  EXPECT_EQ(failures, 0);
  // Wait for every monitor to record the end before the temp dir goes.
  nlohmann::json list;
  ASSERT_TRUE(eventually([&] {
    auto r = run(d.path, {"list", "--json", "--registry", reg.string()});
    if (r.rc != 0) return false;
    list = nlohmann::json::parse(r.out, nullptr, false);
    if (list.is_discarded() || list.size() != kN) return false;
    for (const auto& t : list) {
      if (t["state"] != "exited") return false;
    }
    return true;
  }, 240s)) << list.dump();
  std::set<std::string> ids;
  for (const auto& t : list) ids.insert(t["id"].get<std::string>());
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kN));
}

TEST(Cli, CorruptRegistryIsRefusedAndPreserved) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  for (const std::string& text : {
           std::string("{\"schema_version\": 1, \"tasks\": {\"x\": "),
           std::string(R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": "oops"}}})"),
           // Not JSON numbers, though strtod takes them.
           std::string(R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "limits": {"cpus": .5}}}})"),
           std::string(R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "future": 007}}})"),
           // Out of range for the field: never truncated (to 1).
           std::string(R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "exit_code": 4294967297}}})"),
           std::string(R"({"schema_version": 4294967297, "tasks": {}})"),
       }) {
    { std::ofstream(reg, std::ios::trunc) << text; }
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"list"}, {"status", "x"}, {"kill", "x"}, {"start", "--id", "y", "--", "true"},
             {"start", "--wait", "--id", "z", "--", "true"}}) {
      std::vector<std::string> full = args;  // --registry before any "--"
      full.insert(full.begin() + 1, {"--registry", reg.string()});
      auto r = run(d.path, full);
      EXPECT_NE(r.rc, 0) << args[0];
      if (args[0] != "start" || args[1] != "--wait") {
        EXPECT_EQ(r.rc, 4) << args[0] << ": " << r.err;
      }
      EXPECT_NE(r.err.find(reg.string()), std::string::npos) << r.err;
      EXPECT_EQ(slurp(reg), text) << "the corrupt registry was modified by " << args[0];
    }
  }
  // Nothing beside it but the lock file: no temp files, no logs of a started task.
  for (const auto& e : fs::directory_iterator(d.path)) {
    const auto name = e.path().filename().string();
    EXPECT_TRUE(name == "registry.json" || name == "registry.json.lock") << name;
  }
}

TEST(Cli, PidReuseCannotMakeKillHitAStranger) {
  TempDir d;
  // The "stranger": a process this test owns, standing where the task's PID was.
  Child stranger_child({"sleep", "1000"});
  const pid_t stranger = stranger_child.pid();
  ASSERT_GT(stranger, 0);
  std::optional<airssys::watchdog::ProcStat> st;
  ASSERT_TRUE(eventually([&] {
    st = airssys::watchdog::read_proc_stat(stranger);
    return st && slurp("/proc/" + std::to_string(stranger) + "/comm") == "sleep\n";
  }, 30s));
  const auto reg = d.path / "registry.json";
  // A task that ran as this PID earlier (another start time) and whose monitor is gone.
  nlohmann::json task = {{"id", "old"},
                         {"argv", {"sleep", "1000"}},
                         {"state", "running"},
                         {"pid", stranger},
                         {"pid_start_time", st->start_time - 1},
                         {"monitor_pid", nullptr},
                         {"containment", {{"kind", "process-group"}, {"cgroup", ""}, {"note", "test"}}}};
  { std::ofstream(reg) << nlohmann::json{{"schema_version", 1}, {"tasks", {{"old", task}}}}.dump(); }
  auto r = run(d.path, {"kill", "old", "--grace", "0s", "--registry", reg.string()});
  EXPECT_EQ(r.rc, 7) << r.out << r.err;
  EXPECT_NE(r.err.find("another process"), std::string::npos) << r.err;
  EXPECT_FALSE(gone(stranger)) << "kill hit a process that merely reuses the PID";
  auto status = status_json(d.path, reg, "old");
  ASSERT_TRUE(status);
  EXPECT_EQ((*status)["processes_alive"], 0);
  EXPECT_EQ((*status)["effective_state"], "lost");
  stranger_child.signal(SIGKILL);
  wait_child(stranger_child, 30s);
}

TEST(Cli, UsageErrors) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  EXPECT_EQ(run(d.path, {"start", "--registry", reg, "--id", "bad id", "--", "true"}).rc, 2);
  EXPECT_EQ(run(d.path, {"start", "--registry", reg, "--id", "ok", "--timeout", "5x", "--", "true"}).rc, 2);
  EXPECT_EQ(run(d.path, {"start", "--registry", reg, "--id", "ok", "--env", "NOEQUALS", "--", "true"}).rc, 2);
  EXPECT_EQ(run(d.path, {"bogus"}).rc, 2);
  EXPECT_EQ(run(d.path, {"status", "nope", "--registry", reg}).rc, 3);
  auto help = run(d.path, {"--help"});
  EXPECT_EQ(help.rc, 0);
  EXPECT_NE(help.out.find("124"), std::string::npos);
}

// With stderr unwritable (`2>/dev/full`) every command still exits with its
// documented code (docs/task-watchdog.md, "Exit codes"): the message is
// lost, the code is not. The first message to stderr threw, and main's
// catch turned it into 1 (usage, unknown id, a corrupt registry, a denied
// start) or 125 (`start --wait` of a missing program).
TEST(Cli, DocumentedExitCodesHoldWhenStderrCannotBeWritten) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  const auto corrupt = (d.path / "corrupt.json").string();
  { std::ofstream(corrupt) << "{\"schema_version\": 1, \"tasks\": {\"x\": "; }
  const auto deny_all = (d.path / "deny.yaml").string();
  { std::ofstream(deny_all) << "version: 1\nprincipals:\n  nobody-here: {}\nrules: []\n"; }
  struct Case {
    std::vector<std::string> args;  // --registry goes in after the command's name
    std::string registry;
    int code;
  };
  const std::vector<Case> cases = {
      {{"start", "--id", "bad id", "--", "true"}, reg, 2},
      {{"start", "--id", "t", "--timeout", "5x", "--", "true"}, reg, 2},
      {{"cleanup", "--older-than", ""}, reg, 2},
      {{"status", "nope"}, reg, 3},
      {{"kill", "nope"}, reg, 3},
      {{"list"}, corrupt, 4},
      {{"status", "x"}, corrupt, 4},
      {{"start", "--id", "denied", "--policy", deny_all, "--", "true"}, reg, 6},
      {{"start", "--wait", "--id", "missing", "--", "/nonexistent/prog"}, reg, 127},
      {{"start", "--wait", "--id", "late", "--timeout", "300ms", "--grace", "100ms", "--", "sleep", "60"}, reg, 124},
  };
  int n = 0;
  for (const auto& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin() + 1, {"--registry", c.registry});
    auto child = spawn(args, d.path / ("out" + std::to_string(n++)), "/dev/full");
    EXPECT_EQ(wait_child(child), c.code) << c.args[0] << " " << c.args[1] << " " << c.args.back();
  }
}

// A stderr pipe whose reader went away (a log collector that died, `2>
// >(exit)`): the message's write raised SIGPIPE and the command ended by it
// (141) instead of exiting with its code.
TEST(Cli, TheCodesHoldWhenStderrIsAPipeWithoutAReader) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);
  // As a shell starts a command: SIGPIPE at its default (the test runner's
  // disposition is inherited through exec when it ignores it).
  const auto old = std::signal(SIGPIPE, SIG_DFL);
  const std::vector<std::pair<std::vector<std::string>, int>> cases = {
      {{"status", "--registry", reg, "nope"}, 3},
      {{"start", "--registry", reg, "--id", "bad id", "--", "true"}, 2},
      {{"bogus"}, 2},  // CLI11's own message
  };
  for (const auto& [args, code] : cases) {
    std::vector<std::string> argv{bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    Child child(argv, {.stdout_path = d.path / "out", .stderr_fd = fds[1]});
    EXPECT_EQ(wait_child(child), code) << args[0];
  }
  std::signal(SIGPIPE, old);
  ::close(fds[1]);
}

// `cleanup --older-than "$AGE"` with AGE unset removed every ended task, and
// `start --timeout "$T"` started a task without a deadline: an option given
// '' is a usage error naming it (2; 125 under --wait), and nothing is done.
TEST(Cli, AnOptionGivenAnEmptyValueIsRefused) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  ASSERT_EQ(run(d.path, {"start", "--registry", reg, "--wait", "--id", "done", "--", "true"}).rc, 0);
  const auto cleanup = run(d.path, {"cleanup", "--registry", reg, "--older-than", ""});
  EXPECT_EQ(cleanup.rc, 2) << cleanup.err;
  EXPECT_EQ(cleanup.err, "task-watchdog: --older-than: no value given (leave the option out for its default)\n");
  EXPECT_TRUE(status_json(d.path, reg, "done")) << "the ended task is still recorded";
  for (const char* option : {"--timeout", "--idle-timeout", "--grace", "--memory", "--cpus", "--pids", "--cwd",
                             "--policy", "--container"}) {
    const auto r = run(d.path, {"start", "--registry", reg, "--id", "e", option, "", "--", "true"});
    EXPECT_EQ(r.rc, 2) << option << ": " << r.err;
    EXPECT_EQ(r.err, std::string("task-watchdog: ") + option + ": no value given (leave the option out for its default)\n");
  }
  EXPECT_EQ(run(d.path, {"start", "--registry", reg, "--wait", "--id", "e", "--timeout", "", "--", "true"}).rc, 125);
  EXPECT_FALSE(status_json(d.path, reg, "e")) << "no task was recorded";
  EXPECT_EQ(run(d.path, {"list", "--registry", ""}).rc, 2);
  EXPECT_EQ(run(d.path, {"kill", "done", "--registry", reg, "--grace", ""}).rc, 2);
  EXPECT_EQ(run(d.path, {"run", "--registry", reg, "--interval", ""}).rc, 2);
  // The flag is named when a duration is wrong, as for sizes.
  const auto grace = run(d.path, {"start", "--registry", reg, "--id", "e", "--grace", "5x", "--", "true"});
  EXPECT_EQ(grace.err, "task-watchdog: --grace: '5x' is not a duration; use e.g. 30s, 5m, 1h\n");
}

// docs/task-watchdog.md (Containers, engine discovery): a DOCKER_HOST other
// than unix:///PATH is a usage error; `start` exited 6 ("could not be
// started") as if the engine had not answered. Nothing is recorded.
TEST(Cli, ADockerHostThatIsNoUnixSocketIsAUsageError) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  for (const char* host : {"tcp://127.0.0.1:2375", "ssh://user@host", "unix://"}) {
    const auto r = run(d.path, {"start", "--registry", reg, "--id", "c", "--container", "img", "--", "x"},
                       {std::string("DOCKER_HOST=") + host});
    EXPECT_EQ(r.rc, 2) << host << ": " << r.err;
    EXPECT_EQ(r.err, "task-watchdog: DOCKER_HOST '" + std::string(host) + "': only unix:///PATH is supported\n");
    EXPECT_FALSE(status_json(d.path, reg, "c")) << host;
  }
}

// `status --json > out.json` on a full disk aborted (fmt's exception, exit
// 134) when the output outgrew stdio's buffer, and exited 0 with nothing
// written when it did not: both are 'writing the output: REASON', exit 1.
// A background `start` whose id cannot be printed keeps its 0 (the task
// runs) and warns.
TEST(Cli, OutputThatCannotBeWrittenIsAnError) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  std::vector<std::string> big{"start", "--registry", reg, "--wait", "--id", "big", "--", "true"};
  for (int i = 0; i < 3000; ++i) big.push_back("argument-" + std::to_string(i));
  ASSERT_EQ(run(d.path, big).rc, 0);
  int n = 0;
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"status", "big"}, {"status", "big", "--json"},
                                              {"report"}, {"stats", "--json"}, {"rehydrate"}, {"logs", "big"}}) {
    std::vector<std::string> args = cmd;
    args.insert(args.end(), {"--registry", reg});
    const auto err = d.path / ("err" + std::to_string(n++));
    auto child = spawn(args, "/dev/full", err);
    EXPECT_EQ(wait_child(child), cmd[0] == "logs" ? 0 : 1) << cmd[0] << ": " << slurp(err);
    if (cmd[0] != "logs") {  // it printed nothing: the log is empty
      EXPECT_EQ(slurp(err), "task-watchdog: writing the output: No space left on device\n") << cmd[0];
    }
  }
  auto start = spawn({"start", "--registry", reg, "--id", "bg", "--", "true"}, "/dev/full", d.path / "start.err");
  EXPECT_EQ(wait_child(start), 0);
  EXPECT_EQ(slurp(d.path / "start.err"),
            "task-watchdog: warning: writing the output: No space left on device (the task runs)\n");
  EXPECT_TRUE(eventually([&] { return state_is(d.path, reg, "bg", "exited"); }));
}

// The rule docs/task-watchdog.md states: a reader that went away (`|
// head`) ends a command quietly by SIGPIPE (141), as most Unix tools; a
// closed stdout (`>&-`: fd 1 is /dev/null read-only, so no file opened
// later takes its number) is output that cannot be written, exit 1; a
// background start whose task runs warns and keeps 0.
TEST(Cli, AReaderThatWentAwayIsSigpipeAClosedStdoutExitOne) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  ASSERT_EQ(run(d.path, {"start", "--registry", reg, "--wait", "--id", "t", "--", "true"}).rc, 0);
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"status", "t"}, {"list"}, {"report", "--json"}}) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ::close(fds[0]);
    std::vector<std::string> argv{bin()};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    argv.insert(argv.end(), {"--registry", reg});
    const auto err = d.path / ("err-" + cmd[0]);
    airssys::testing::Child gone(argv, {.stderr_path = err, .stdout_fd = fds[1]});
    ::close(fds[1]);
    EXPECT_EQ(wait_child(gone), 128 + SIGPIPE) << cmd[0] << ": " << slurp(err);
    EXPECT_EQ(slurp(err), "") << cmd[0];
    std::vector<std::string> shell{"/bin/sh", "-c", R"("$@" >&-)", "sh"};
    shell.insert(shell.end(), argv.begin(), argv.end());
    const auto closed = airssys::testing::run(shell);
    EXPECT_EQ(closed.status, 1) << cmd[0] << ": " << closed.err;
    EXPECT_NE(closed.err.find("Bad file descriptor"), std::string::npos) << cmd[0] << ": " << closed.err;
  }
  // A background start whose task runs keeps 0 (it died by SIGPIPE after
  // starting the task before 2026-12-05).
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);
  airssys::testing::Child start({bin(), "start", "--registry", reg, "--id", "bg", "--", "true"},
                                {.stderr_path = d.path / "err-start", .stdout_fd = fds[1]});
  ::close(fds[1]);
  EXPECT_EQ(wait_child(start), 0) << slurp(d.path / "err-start");
  EXPECT_EQ(slurp(d.path / "err-start"), "task-watchdog: warning: writing the output: Broken pipe (the task runs)\n");
  EXPECT_TRUE(eventually([&] { return state_is(d.path, reg, "bg", "exited"); }));
}

TEST(Cli, LongArgumentsAreShownCut) {
  // A 100 KB --id, --env or status id came back whole on stderr (outside
  // probe, session 11): at most 64 bytes of it, then its length.
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  const std::string big(100'000, 'v');
  const std::string cut = std::string(64, 'v') + "… (100000 bytes)";
  const auto id = run(d.path, {"start", "--registry", reg, "--id", big, "--", "true"});
  EXPECT_EQ(id.rc, 2);
  EXPECT_EQ(id.err, "task-watchdog: invalid task id '" + cut + "': use 1-64 of A-Z a-z 0-9 _ -, not starting with -\n");
  const auto env = run(d.path, {"start", "--registry", reg, "--id", "ok", "--env", big, "--", "true"});
  EXPECT_EQ(env.rc, 2);
  EXPECT_EQ(env.err, "task-watchdog: --env '" + cut + "': expected K=V\n");
  const auto status = run(d.path, {"status", big, "--registry", reg});
  EXPECT_EQ(status.rc, 3);
  EXPECT_LT(status.err.size(), 400U) << status.err.substr(0, 400);
  EXPECT_NE(status.err.find("no task '" + cut + "'"), std::string::npos) << status.err.substr(0, 400);
}

TEST(Cli, DuplicateRunningIdIsRefused) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  ASSERT_EQ(run(d.path, {"start", "--registry", reg, "--id", "dup", "--", "sleep", "1000"}).rc, 0);
  auto r = run(d.path, {"start", "--registry", reg, "--id", "dup", "--", "true"});
  EXPECT_EQ(r.rc, 5) << r.err;
  EXPECT_EQ(run(d.path, {"kill", "dup", "--grace", "1s", "--registry", reg}).rc, 0);
  EXPECT_TRUE(eventually([&] {
    auto j = status_json(d.path, reg, "dup");
    return j && (*j)["monitor_pid"].is_number() && gone((*j)["monitor_pid"].get<pid_t>());
  }));
}

TEST(Cli, StatusShowsUsageOfARunningTask) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  ASSERT_EQ(run(d.path, {"start", "--registry", reg, "--id", "busy", "--", "/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"}).rc, 0);
  std::optional<nlohmann::json> st;
  ASSERT_TRUE(eventually([&] {
    st = status_json(d.path, reg, "busy");
    return st && (*st)["processes_alive"] == 3;
  }, 30s));
  EXPECT_TRUE((*st)["cpu_percent"].is_number()) << st->dump();
  EXPECT_GT((*st)["memory_bytes"].get<std::uint64_t>(), 0U) << st->dump();
  auto text = run(d.path, {"status", "busy", "--registry", reg});
  EXPECT_NE(text.out.find("cpu:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("memory:"), std::string::npos) << text.out;
  EXPECT_EQ(run(d.path, {"kill", "busy", "--grace", "1s", "--registry", reg}).rc, 0);
  EXPECT_TRUE(eventually([&] {
    auto j = status_json(d.path, reg, "busy");
    return j && (*j)["monitor_pid"].is_number() && gone((*j)["monitor_pid"].get<pid_t>());
  }));
}

TEST(Cli, OrphansAreReapedWhileTheTaskRuns) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  // Double-forked short-lived children: re-parented to the monitor, then exit.
  ASSERT_EQ(run(d.path, {"start", "--registry", reg, "--id", "orph", "--", "/bin/sh", "-c",
                         "for i in 1 2 3 4 5; do (true &); done; exec sleep 1000"}).rc, 0);
  std::optional<nlohmann::json> st;
  ASSERT_TRUE(eventually([&] {
    st = status_json(d.path, reg, "orph");
    return st && (*st)["monitor_pid"].is_number() && (*st)["pid"].is_number();
  }, 30s));
  const pid_t monitor = (*st)["monitor_pid"].get<pid_t>();
  auto zombie_children = [&] {
    int n = 0;
    for (const auto& p : airssys::watchdog::all_processes()) n += (p.ppid == monitor && p.state == 'Z') ? 1 : 0;
    return n;
  };
  EXPECT_TRUE(eventually([&] { return zombie_children() == 0; }, 30s));
  EXPECT_EQ(run(d.path, {"kill", "orph", "--grace", "1s", "--registry", reg}).rc, 0);
  EXPECT_TRUE(eventually([&] { return gone(monitor); }));
}

TEST(Cli, LogsFollowEndsWithTheTaskAndCleanupRemovesEndedTasks) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  ASSERT_EQ(run(d.path, {"start", "--registry", reg, "--id", "talk", "--", "/bin/sh", "-c",
                         "echo one; sleep 1; echo two; sleep 1; echo three"}).rc, 0);
  auto r = run(d.path, {"logs", "talk", "--follow", "--registry", reg});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "one\ntwo\nthree\n");
  ASSERT_TRUE(eventually([&] { return terminal(d.path, reg, "talk"); }));
  ASSERT_EQ(run(d.path, {"start", "--registry", reg, "--id", "keep", "--", "sleep", "1000"}).rc, 0);
  r = run(d.path, {"cleanup", "--older-than", "1h", "--registry", reg});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "removed 0 ended task(s)\n");
  r = run(d.path, {"cleanup", "--registry", reg});
  EXPECT_EQ(r.out, "removed 1 ended task(s)\n");
  EXPECT_EQ(run(d.path, {"status", "talk", "--registry", reg}).rc, 3);
  EXPECT_FALSE(fs::exists(d.path / "logs" / "talk.stdout.log"));
  EXPECT_EQ(run(d.path, {"status", "keep", "--registry", reg}).rc, 0);
  EXPECT_EQ(run(d.path, {"kill", "keep", "--grace", "1s", "--registry", reg}).rc, 0);
  EXPECT_TRUE(eventually([&] {
    auto j = status_json(d.path, reg, "keep");
    return j && (*j)["monitor_pid"].is_number() && gone((*j)["monitor_pid"].get<pid_t>());
  }));
}

TEST(Cli, RegisteredProcessIsKilledAtItsDeadline) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  Child adopted_child({"sleep", "1000"});  // argv[0] "sleep": the record must show it as given
  const pid_t adopted = adopted_child.pid();
  ASSERT_GT(adopted, 0);
  ASSERT_TRUE(eventually([&] { return slurp("/proc/" + std::to_string(adopted) + "/comm") == "sleep\n"; }, 30s));
  auto r = run(d.path, {"register", "adopted", "--pid", std::to_string(adopted), "--timeout", "2s", "--grace", "1s",
                        "--registry", reg});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "adopted\n");
  auto st = status_json(d.path, reg, "adopted");
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["argv"], nlohmann::json({"sleep", "1000"}));
  EXPECT_TRUE((*st)["pid_start_time"].is_number());
  // It has no logs, and `status` says so rather than print an empty line.
  const auto text = run(d.path, {"status", "adopted", "--registry", reg});
  EXPECT_NE(text.out.find("logs:        none (adopted with register: its output is not captured)\n"), std::string::npos)
      << text.out;
  ASSERT_TRUE(eventually([&] { return terminal(d.path, reg, "adopted"); }, 60s));
  EXPECT_TRUE(state_is(d.path, reg, "adopted", "timed_out"));
  EXPECT_TRUE(gone(adopted));
  EXPECT_EQ(wait_child(adopted_child, 30s), 128 + SIGTERM);
  EXPECT_EQ(run(d.path, {"register", "x", "--pid", "999999999", "--registry", reg}).rc, 7);
}

// Adopting pid 1 would put every process of the namespace under the
// deadline and into the task's cgroup (outside probe, session 11: it was
// accepted). No deadline and no cgroup here, so that a regression only
// leaves a monitor watching init, which the test then ends.
TEST(Cli, RegisteringPid1IsRefused) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  auto r = run(d.path, {"register", "init", "--pid", "1", "--registry", reg}, {"TASK_WATCHDOG_NO_CGROUP=1"});
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("--pid 1 is the init process of this PID namespace"), std::string::npos) << r.err;
  auto st = status_json(d.path, reg, "init");
  if (st && (*st)["monitor_pid"].is_number()) ::kill((*st)["monitor_pid"].get<pid_t>(), SIGKILL);
  EXPECT_FALSE(st) << "a task adopting pid 1 was recorded";
}

// The caller's own session: --pid $PPID (the test, which runs the CLI),
// the test's parent, or the CLI's own pid would move the caller into the
// task's cgroup and kill it at the deadline (reviewer, session 11: only
// pid 1 was refused). The first runs with cgroups on, so that a regression
// shows as this test's own cgroup having changed.
TEST(Cli, RegisteringTheCallerOrAnAncestorIsRefused) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  const std::string cgroup_before = slurp("/proc/self/cgroup");
  const auto refused = [&](const Result& r, pid_t pid, const std::string& id) {
    EXPECT_EQ(r.rc, 2) << id << ": " << r.err;
    EXPECT_NE(r.err.find("--pid " + std::to_string(pid) + " is task-watchdog itself or one of its ancestors"),
              std::string::npos)
        << id << ": " << r.err;
    auto st = status_json(d.path, reg, id);
    if (st && (*st)["monitor_pid"].is_number()) ::kill((*st)["monitor_pid"].get<pid_t>(), SIGKILL);
    EXPECT_FALSE(st) << "a task adopting " << id << " was recorded";
  };
  refused(run(d.path, {"register", "self", "--pid", std::to_string(::getpid()), "--registry", reg}), ::getpid(), "self");
  EXPECT_EQ(slurp("/proc/self/cgroup"), cgroup_before) << "the test was moved into a task's cgroup";
  refused(run(d.path, {"register", "parent", "--pid", std::to_string(::getppid()), "--registry", reg},
              {"TASK_WATCHDOG_NO_CGROUP=1"}),
          ::getppid(), "parent");
  // Its own pid: a shell that execs it knows it beforehand ($$).
  const std::string own = "exec \"$0\" register own --pid $$ --registry \"$1\"";
  auto r = airssys::testing::run({"/bin/sh", "-c", own, bin(), reg}, {.env = {"TASK_WATCHDOG_NO_CGROUP=1"}});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("is task-watchdog itself or one of its ancestors"), std::string::npos) << r.err;
  EXPECT_FALSE(status_json(d.path, reg, "own")) << "a task adopting its own registrar was recorded";
}

// register moves the adopted process into a cgroup of its own, so a child it
// double-forks after the adoption (re-parented away from it and from the
// monitor) still dies at the deadline.
TEST(Cli, RegisteredProcessJoinsACgroupAndItsLaterOrphansDieWithIt) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  const std::string dir = d.path.string();
  const std::string script = "while [ ! -e '" + dir + "/go' ]; do sleep 0.1; done; setsid sh -c 'sleep 1000 & echo $! > \"" +
                             dir + "/orphan.tmp\"; mv \"" + dir + "/orphan.tmp\" \"" + dir + "/orphan\"'; exec sleep 1000";
  // A Child: a failed assertion before "go" must not leave it waiting forever.
  Child adopted_child({"/bin/sh", "-c", script});
  const pid_t adopted = adopted_child.pid();
  ASSERT_GT(adopted, 0);
  auto r = run(d.path, {"register", "adopted", "--pid", std::to_string(adopted), "--timeout", "6s", "--grace", "1s",
                        "--registry", reg});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto st = status_json(d.path, reg, "adopted");
  ASSERT_TRUE(st);
  ASSERT_EQ((*st)["containment"]["kind"], "cgroup2") << st->dump();
  const fs::path cg = (*st)["containment"]["cgroup"].get<std::string>();
  EXPECT_NE(slurp(cg / "cgroup.procs").find(std::to_string(adopted)), std::string::npos);
  std::ofstream(d.path / "go") << "";
  pid_t orphan = 0;
  ASSERT_TRUE(eventually([&] {
    const auto s = slurp(d.path / "orphan");
    if (!s.empty()) orphan = static_cast<pid_t>(std::stol(s));
    return orphan > 0;
  }, 30s));
  ASSERT_TRUE(eventually([&] { return terminal(d.path, reg, "adopted"); }, 60s));
  EXPECT_TRUE(state_is(d.path, reg, "adopted", "timed_out"));
  EXPECT_TRUE(eventually([&] { return gone(orphan); }, 10s)) << "the orphan forked after adoption survived";
  EXPECT_EQ(wait_child(adopted_child, 30s), 128 + SIGTERM);
  EXPECT_TRUE(eventually([&] { return !fs::exists(cg); }, 10s)) << cg;
}

TEST(Cli, RehydrateAndStatsSummariseTheRegistry) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", reg, "--id", "done1", "--", "true"}).rc, 0);
  ASSERT_EQ(run(d.path, {"start", "--registry", reg, "--id", "live1", "--timeout", "1h", "--", "/bin/sh", "-c",
                         "echo ready; exec sleep 1000"}).rc, 0);
  nlohmann::json j;
  ASSERT_TRUE(eventually([&] {
    auto r = run(d.path, {"rehydrate", "--json", "--registry", reg});
    j = nlohmann::json::parse(r.out, nullptr, false);
    return r.rc == 0 && !j.is_discarded() && j["live"].size() == 1 && j["live"][0]["last_output"] == "ready";
  }, 30s)) << j.dump();
  EXPECT_EQ(j["ended"], 1);
  EXPECT_EQ(j["live"][0]["id"], "live1");
  auto text = run(d.path, {"rehydrate", "--registry", reg});
  EXPECT_NE(text.out.find("1 live task(s), 1 ended"), std::string::npos) << text.out;
  auto s = run(d.path, {"stats", "--json", "--registry", reg});
  auto sj = nlohmann::json::parse(s.out, nullptr, false);
  ASSERT_FALSE(sj.is_discarded()) << s.out;
  EXPECT_EQ(sj["tasks"], 2);
  EXPECT_EQ(sj["by_state"]["exited"], 1);
  EXPECT_EQ(sj["by_state"]["running"], 1);
  EXPECT_EQ(run(d.path, {"kill", "live1", "--grace", "1s", "--registry", reg}).rc, 0);
  EXPECT_TRUE(eventually([&] {
    auto st = status_json(d.path, reg, "live1");
    return st && (*st)["monitor_pid"].is_number() && gone((*st)["monitor_pid"].get<pid_t>());
  }));
}

// The log files are opened beneath a checked logs directory, never through a
// symbolic link: the start fails and the link's target is left alone.
TEST(Cli, SymbolicLinksAtTheLogPathsAreRefused) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  const auto victim = d.path / "victim";
  std::ofstream(victim) << "keep\n";
  fs::create_directories(d.path / "logs");
  fs::create_symlink(victim, d.path / "logs" / "a.stdout.log");
  auto r = run(d.path, {"start", "--registry", reg.string(), "--id", "a", "--", "/bin/sh", "-c", "echo overwritten"});
  EXPECT_EQ(r.rc, 6) << r.err;
  EXPECT_NE(r.err.find("a.stdout.log: it is a symbolic link; refused"), std::string::npos) << r.err;
  EXPECT_TRUE(state_is(d.path, reg, "a", "failed"));
  r = run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "a", "--", "/bin/sh", "-c", "echo overwritten"});
  EXPECT_EQ(r.rc, 125) << r.err;
  EXPECT_EQ(slurp(victim), "keep\n");
  // The logs directory itself a symbolic link: refused, nothing lands in its target.
  fs::remove_all(d.path / "logs");
  fs::create_directories(d.path / "elsewhere");
  fs::create_directory_symlink(d.path / "elsewhere", d.path / "logs");
  r = run(d.path, {"start", "--registry", reg.string(), "--id", "b", "--", "/bin/sh", "-c", "echo overwritten"});
  EXPECT_EQ(r.rc, 6) << r.err;
  EXPECT_NE(r.err.find("logs directory"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(d.path / "elsewhere"));
  // A regular start: the logs are 0600 in a 0700 directory.
  fs::remove(d.path / "logs");
  r = run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "c", "--", "/bin/sh", "-c", "echo fine"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(slurp(d.path / "logs" / "c.stdout.log"), "fine\n");
  EXPECT_EQ(fs::status(d.path / "logs").permissions(), fs::perms::owner_all);
  EXPECT_EQ(fs::status(d.path / "logs" / "c.stdout.log").permissions(), fs::perms::owner_read | fs::perms::owner_write);
}

TEST(Cli, IdleTimeoutKillsASilentTask) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  // Talks, then falls silent: killed after 1 s of silence (exit 124 like a deadline).
  auto r = run(d.path, {"start", "--wait", "--registry", reg, "--id", "quiet", "--idle-timeout", "1s", "--grace", "1s",
                        "--", "/bin/sh", "-c", "echo a; sleep 1000"});
  EXPECT_EQ(r.rc, 124) << r.err;
  auto st = status_json(d.path, reg, "quiet");
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["state"], "timed_out");
  EXPECT_NE((*st)["error"].get<std::string>().find("idle-timeout"), std::string::npos) << st->dump();
  EXPECT_EQ((*st)["idle_timeout_ms"], 1000);
  // Output re-arms it: a line every 0.3 s for ~4.5 s outlives a 3 s idle timeout.
  r = run(d.path, {"start", "--wait", "--registry", reg, "--id", "chatty", "--idle-timeout", "3s", "--", "/bin/sh",
                   "-c", "i=0; while [ $i -lt 15 ]; do echo $i >&2; i=$((i+1)); sleep 0.3; done"});
  EXPECT_EQ(r.rc, 0) << r.err;
}

// A user /etc/passwd does not know (a container's --user 1000, DynamicUser=,
// an LDAP account). The release task-watchdog is static: looking such a uid
// up through NSS made its libc dlopen a second libc and crash (139) in
// start, kill, cleanup and run; now it reads /etc/passwd itself and is
// `uid-N` (src/passwd_file.hpp). Needs root to switch users; run it against
// the release binary with TASK_WATCHDOG_BIN (docs/task-watchdog.md, Start-up).
TEST(Cli, AUserWithNoPasswdEntryIsUidN) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run task-watchdog as another uid";
  uid_t uid = 54321;
  while (::getpwuid(uid) != nullptr || ::getgrgid(uid) != nullptr) ++uid;
  TempDir d;
  ASSERT_EQ(::chown(d.path.c_str(), uid, uid), 0);
  const auto reg = (d.path / "registry.json").string();
  const auto as_uid = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"setpriv", "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(uid),
                                  "--clear-groups", fs::absolute(bin()).string(), "--registry", reg};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = airssys::testing::run(argv, {.cwd = d.path});
    return Result{r.status, std::move(r.out), std::move(r.err)};
  };
  auto r = as_uid({"start", "--wait", "--id", "fg", "--", "/bin/true"});
  EXPECT_EQ(r.rc, 0) << r.err;
  r = as_uid({"start", "--id", "bg", "--", "/bin/sleep", "1000"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = as_uid({"kill", "bg", "--grace", "5s"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(state_is(d.path, reg, "bg", "killed"));
  r = as_uid({"cleanup"});
  EXPECT_EQ(r.rc, 0) << r.err;
  const std::string audit = slurp(d.path / "audit.jsonl");
  EXPECT_NE(audit.find("\"principal\":\"uid-" + std::to_string(uid) + "\""), std::string::npos) << audit;
}

// A live task whose main process has no recorded start time (/proc hid it
// once it exec'd a setuid or file-capability program, under hidepid) and
// whose monitor is gone: its pid runs, but nothing says it is the task's.
// status, report and rehydrate say "unverified" (text and JSON), never
// lost; once the pid is free, lost.
TEST(Cli, StatusReportAndRehydrateShowAnUnverifiedTask) {
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", reg, "--id", "t", "--", "true"}).rc, 0);
  Child c({"sleep", "1000"});
  ASSERT_GT(c.pid(), 0);
  const std::string pid = std::to_string(c.pid());
  edit_task_record(reg, "t", [&](nlohmann::json& t) {
    t["state"] = "running";
    t["pid"] = c.pid();
    t["pid_start_time"] = nullptr;
    t["monitor_pid"] = nullptr;
    t["monitor_start_time"] = nullptr;
    t["exit_code"] = nullptr;
    t["ended_ms"] = nullptr;
  });
  const std::string state = "running (unverified: no start time recorded for pid " + pid + ")";
  auto st = status_json(d.path, reg, "t");
  ASSERT_TRUE(st && !st->is_discarded());
  EXPECT_EQ((*st)["effective_state"], state);
  ASSERT_TRUE((*st)["unverified"].is_string()) << st->dump();
  EXPECT_NE((*st)["unverified"].get<std::string>().find("no start time was recorded"), std::string::npos) << st->dump();
  auto text = run(d.path, {"status", "t", "--registry", reg});
  EXPECT_EQ(text.rc, 0);
  EXPECT_NE(text.out.find("state:       " + state + "\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("processes:   0 alive (unverified: pid " + pid + " runs, but no start time"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("monitor:     -\n"), std::string::npos) << text.out;
  auto rep = nlohmann::json::parse(run(d.path, {"report", "--json", "--registry", reg}).out, nullptr, false);
  ASSERT_FALSE(rep.is_discarded());
  EXPECT_EQ(rep["unverified"], 1);
  EXPECT_EQ(rep["by_state"]["running"], 1);
  EXPECT_FALSE(rep["by_state"].contains("lost")) << rep.dump();
  auto rep_text = run(d.path, {"report", "--registry", reg});
  EXPECT_NE(rep_text.out.find("(1 of them unverified"), std::string::npos) << rep_text.out;
  auto re = nlohmann::json::parse(run(d.path, {"rehydrate", "--json", "--registry", reg}).out, nullptr, false);
  ASSERT_FALSE(re.is_discarded());
  ASSERT_EQ(re["live"].size(), 1u) << re.dump();
  EXPECT_EQ(re["live"][0]["state"], state) << re.dump();
  EXPECT_TRUE(re["live"][0]["unverified"].is_string()) << re.dump();
  c.signal(SIGKILL);
  ASSERT_TRUE(c.wait(30s));
  st = status_json(d.path, reg, "t");
  ASSERT_TRUE(st && !st->is_discarded());
  EXPECT_EQ((*st)["effective_state"], "lost");
  EXPECT_TRUE((*st)["unverified"].is_null()) << st->dump();
}
