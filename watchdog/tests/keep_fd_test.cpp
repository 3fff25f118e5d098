// start --keep-fd N: `( flock 9; task-watchdog start --keep-fd 9 -- … ) 9>lock`
// hands fd 9 to the task, and the lock is held by the task alone — not by
// its monitor, not after the task ends. Real shells, real flock(1).

#include "harness.hpp"

#include <unistd.h>

using namespace wdtest;

namespace {

// Runs `script` in sh with TW (the watchdog), R (the registry) and L (the
// lock file) in its environment.
Result sh(const TempDir& d, const std::string& script) {
  const auto reg = d.path / "state" / "registry.json";
  auto r = airssys::testing::run({"/bin/sh", "-c", script},
                                 {.env = {"TW=" + bin(), "R=" + reg.string(), "L=" + (d.path / "lock").string()}});
  if (r.status < 0) ADD_FAILURE() << "the shell did not finish within the bound";
  return {r.status, std::move(r.out), std::move(r.err)};
}

// flock -n on the lock file from a fresh open: 0 when it could be taken.
int try_lock(const TempDir& d) {
  return airssys::testing::run({"flock", "-n", (d.path / "lock").string(), "true"}).status;
}

fs::path registry(const TempDir& d) { return d.path / "state" / "registry.json"; }

}  // namespace

TEST(KeepFd, TheTaskSeesAKeptFdAndOnlyThen) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  // The task is sh itself: `test -e /proc/self/fd/9` asks about its own fds.
  auto kept = sh(d, R"(( flock 9; "$TW" --registry "$R" start --wait --id kept --keep-fd 9 -- sh -c 'test -e /proc/self/fd/9 && ls -l /proc/self/fd/9' ) 9>"$L")");
  EXPECT_EQ(kept.rc, 0) << kept.err;
  auto logs = run(d.path, {"--registry", registry(d).string(), "logs", "kept"});
  EXPECT_NE(logs.out.find((d.path / "lock").string()), std::string::npos) << "the task's fd 9 is not the lock: " << logs.out;
  const auto record = nlohmann::json::parse(slurp(registry(d)))["tasks"]["kept"];
  EXPECT_EQ(record["keep_fds"], nlohmann::json::array({9})) << record.dump();

  auto not_kept = sh(d, R"(( flock 9; "$TW" --registry "$R" start --wait --id plain -- sh -c 'test -e /proc/self/fd/9' ) 9>"$L")");
  EXPECT_EQ(not_kept.rc, 1) << "fd 9 reached a task without --keep-fd: " << not_kept.err;
  EXPECT_FALSE(nlohmann::json::parse(slurp(registry(d)))["tasks"]["plain"].contains("keep_fds"));
}

TEST(KeepFd, AClosedFdFailsNamingIt) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  auto r = sh(d, R"(exec 5>&-; "$TW" --registry "$R" start --id closed --keep-fd 5 -- true)");
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("fd 5 is not open"), std::string::npos) << r.err;
  // Refused before anything was recorded: no record at all, in any state.
  if (fs::exists(registry(d))) {
    const auto text = slurp(registry(d));
    EXPECT_FALSE(nlohmann::json::parse(text).value("tasks", nlohmann::json::object()).contains("closed")) << "a task was recorded: " << text;
  }
  for (const auto& bad : {"2", "-1"}) {
    auto low = run(d.path, {"--registry", registry(d).string(), "start", "--id", "low", "--keep-fd", bad, "--", "true"});
    EXPECT_EQ(low.rc, 2) << low.err;
    EXPECT_NE(low.err.find(std::string("--keep-fd ") + bad), std::string::npos) << low.err;
  }
  // Decimal digits only (osl's parse_keep_fd_option): CLI11 read '' as 0 and 0x9 as 9.
  for (const auto& bad : {"", "0x9", "+9"}) {
    auto word = sh(d, std::string(R"("$TW" --registry "$R" start --id word --keep-fd ')") + bad + "' -- true 9>\"$L\"");
    EXPECT_EQ(word.rc, 2) << word.err;
    EXPECT_NE(word.err.find(std::string("--keep-fd '") + bad + "': not an fd number"), std::string::npos) << word.err;
  }
  auto twice = sh(d, R"("$TW" --registry "$R" start --id twice --keep-fd 9 --keep-fd 9 -- true 9>"$L")");
  EXPECT_EQ(twice.rc, 2) << twice.err;
  EXPECT_NE(twice.err.find("--keep-fd 9 is given twice"), std::string::npos) << twice.err;
}

// An fd at the top of a low RLIMIT_NOFILE is handed on: osl checks the fd
// where it is and makes no copy above it (a copy there was refused with
// EINVAL, reported as exit 126 "not executable").
TEST(KeepFd, AnFdAtTheTopOfTheFdLimitIsHandedOn) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  // bash: dash's redirections take one-digit fds only.
  auto r = airssys::testing::run(
      {"/bin/bash", "-c",
       R"(ulimit -n 64 && exec 63>"$L" && "$TW" --registry "$R" start --wait --id top --keep-fd 63 -- sh -c 'test -e /proc/self/fd/63')"},
      {.env = {"TW=" + bin(), "R=" + registry(d).string(), "L=" + (d.path / "lock").string()}});
  EXPECT_EQ(r.status, 0) << r.err;
}

// A request osl refuses as malformed when the task is spawned (here: argv
// and environment above half of ARG_MAX) is a usage error — exit 2, with
// --wait 125 ("task-watchdog itself failed") — not 6/126 "not executable":
// the program was never tried.
TEST(KeepFd, ARequestOslRefusesAsMalformedIsAUsageError) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const long arg_max = ::sysconf(_SC_ARG_MAX);
  ASSERT_GT(arg_max, 0);
  const std::string chunk(100 * 1024, 'x');  // below MAX_ARG_STRLEN (128 KiB)
  for (const bool wait : {false, true}) {
    std::vector<std::string> argv{bin(), "--registry", registry(d).string(), "start", "--id", wait ? "long-wait" : "long"};
    if (wait) argv.emplace_back("--wait");
    argv.insert(argv.end(), {"--", "true"});
    for (long total = 0; total <= arg_max / 2; total += static_cast<long>(chunk.size()) + 1) argv.push_back(chunk);
    auto r = airssys::testing::run(argv);
    EXPECT_EQ(r.status, wait ? 125 : 2) << r.err;
    EXPECT_NE(r.err.find("arguments and environment total"), std::string::npos) << r.err;
  }
}

// The lock is the task's: a second flock -n fails while it runs and succeeds
// once it has ended, though `start` and its shell returned long before.
TEST(KeepFd, TheLockIsHeldByTheRunningTaskAndReleasedWhenItEnds) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto go = d.path / "go";
  auto r = sh(d, R"(( flock 9; "$TW" --registry "$R" start --id held --keep-fd 9 --env G=)" + go.string() +
                     R"( -- sh -c 'while [ ! -e "$G" ]; do sleep 0.05; done' ) 9>"$L")");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(state_is(d.path, registry(d), "held", "running"));
  EXPECT_EQ(try_lock(d), 1) << "the lock was free while the task ran";
  std::ofstream(go.string()) << "go\n";
  EXPECT_TRUE(eventually([&] { return terminal(d.path, registry(d), "held"); }, 60s));
  EXPECT_TRUE(eventually([&] { return try_lock(d) == 0; }, 60s)) << "the lock outlived the task";
}

// The monitor (a fork of `start`, which had fd 9) keeps no copy: once the
// task closes its fd 9, the lock is free while task and monitor still run.
TEST(KeepFd, TheMonitorKeepsNoCopyOfAKeptFd) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto closed = d.path / "closed";
  const auto go = d.path / "go";
  auto r = sh(d, R"(( flock 9; "$TW" --registry "$R" start --id mon --keep-fd 9 --env C=)" + closed.string() + " --env G=" +
                     go.string() + R"( -- sh -c 'exec 9>&-; : > "$C"; while [ ! -e "$G" ]; do sleep 0.05; done' ) 9>"$L")");
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(eventually([&] { return fs::exists(closed); }, 60s)) << "the task did not close its fd 9";
  EXPECT_TRUE(state_is(d.path, registry(d), "mon", "running"));
  EXPECT_EQ(try_lock(d), 0) << "something besides the task still holds fd 9's lock (the monitor?)";
  std::ofstream(go.string()) << "go\n";
  EXPECT_TRUE(eventually([&] { return terminal(d.path, registry(d), "mon"); }, 60s));
}
