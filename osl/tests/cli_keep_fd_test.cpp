// airssys-osl exec --keep-fd N: `( flock 9; airssys-osl exec --keep-fd 9 -- … ) 9>lock`
// hands fd 9 to the program (osl Options::keep_fds), and a lock taken through
// it is held while the program runs and free once it has ended; a bad list is
// a usage error naming the fd, in the words task-watchdog start uses (one
// check, osl/keep_fd_option.hpp), before anything is opened or run. The real
// binary (AIRSSYS_OSL_BIN) under real shells, with real flock(1) locks.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <airssys/testing/child.hpp>
#include <airssys/testing/eventually.hpp>
#include <airssys/testing/run.hpp>
#include <airssys/testing/temp_dir.hpp>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string osl_bin() {
  const char* v = std::getenv("AIRSSYS_OSL_BIN");
  return v ? v : "";
}

// A temp dir with policy.yaml (tester may spawn /usr/bin/* and /bin/*) and
// the path of a lock file; sh() runs a script with OSL, P (the policy) and
// L (the lock) in its environment. The programs get paths as arguments: exec
// passes on only the environment the policy allows.
class ExecKeepFd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(osl_bin().empty()) << "AIRSSYS_OSL_BIN is not set (run the test through ctest)";
    std::ofstream(policy) << "version: 1\nprincipals:\n  tester: {}\nrules:\n  - id: spawn-system\n    effect: allow\n"
                             "    principals: [tester]\n    operations: [process.spawn]\n"
                             "    resources: [\"/usr/bin/*\", \"/bin/*\"]\n";
  }

  std::vector<std::string> env() const {
    return {"OSL=" + osl_bin(), "P=" + policy.string(), "L=" + lock.string()};
  }
  airssys::testing::RunResult sh(const std::string& script) const {
    return airssys::testing::run({"/bin/sh", "-c", script}, {.env = env()});
  }
  // flock -n on the lock file from a fresh open: 0 when it could be taken.
  int try_lock() const { return airssys::testing::run({"flock", "-n", lock.string(), "true"}).status; }

  airssys::testing::TempDir dir{"osl-keep-fd"};
  fs::path policy = dir.path() / "policy.yaml";
  fs::path lock = dir.path() / "lock";
};

// The program locks fd 9 and names what it is; without --keep-fd it has no fd 9.
TEST_F(ExecKeepFd, TheProgramGetsTheFdAndOnlyWithTheOption) {
  auto kept = sh(R"("$OSL" exec --policy "$P" --principal tester --keep-fd 9 -- /bin/sh -c 'flock -n 9 && readlink /proc/self/fd/9' 9>"$L")");
  EXPECT_EQ(kept.status, 0) << kept.err;
  EXPECT_EQ(kept.out, lock.string() + "\n") << kept.err;

  auto not_kept = sh(R"("$OSL" exec --policy "$P" --principal tester -- /bin/sh -c 'test -e /proc/self/fd/9' 9>"$L")");
  EXPECT_EQ(not_kept.status, 1) << "fd 9 reached a program without --keep-fd: " << not_kept.err;
}

// A lock the program takes through the kept fd is held while it runs - a
// second flock -n on the file fails - and free once it has ended. The shell
// execs airssys-osl, so nothing else holds the file open meanwhile.
TEST_F(ExecKeepFd, ALockTakenThroughTheKeptFdIsHeldWhileTheProgramRuns) {
  const fs::path ready = dir.path() / "ready", go = dir.path() / "go";
  std::vector<std::string> e = env();
  e.push_back("READY=" + ready.string());
  e.push_back("GO=" + go.string());
  airssys::testing::Child prog(
      {"/bin/sh", "-c",
       R"(exec "$OSL" exec --policy "$P" --principal tester --keep-fd 9 -- /bin/sh -c 'flock -n 9 && : > "$1" && while [ ! -e "$2" ]; do sleep 0.05; done' sh "$READY" "$GO" 9>"$L")"},
      {.env = e});
  ASSERT_TRUE(airssys::testing::eventually([&] { return fs::exists(ready) || prog.exited(); }, 60s));
  ASSERT_TRUE(fs::exists(ready)) << "the program could not lock fd 9";
  EXPECT_EQ(try_lock(), 1) << "the lock was free while the program ran";
  std::ofstream(go) << "go\n";
  EXPECT_EQ(prog.wait(60s), 0);
  EXPECT_EQ(try_lock(), 0) << "the lock outlived the program";
}

// Each bad list is refused, exit 2, naming the fd (or the word that is not
// one), and nothing runs.
TEST_F(ExecKeepFd, ABadListIsAUsageErrorNamingTheFdAndRunsNothing) {
  const fs::path marker = dir.path() / "ran";
  const std::string program = R"( -- /bin/sh -c ': > "$1"' sh "$M")";
  struct Case {
    std::string script;
    std::string message;
  };
  const Case cases[] = {
      {R"(exec 5>&-; "$OSL" exec --policy "$P" --principal tester --keep-fd 5)" + program,
       "airssys-osl: --keep-fd 5: fd 5 is not open (open it where airssys-osl is started, e.g. `5>FILE`)\n"},
      {R"("$OSL" exec --policy "$P" --principal tester --keep-fd 2)" + program,
       "airssys-osl: --keep-fd 2: the program's stdin, stdout and stderr are set by exec, name an fd above 2\n"},
      {R"("$OSL" exec --policy "$P" --principal tester --keep-fd -1)" + program,
       "airssys-osl: --keep-fd -1: the program's stdin, stdout and stderr are set by exec, name an fd above 2\n"},
      {R"("$OSL" exec --policy "$P" --principal tester --keep-fd 9 --keep-fd 9)" + program + R"( 9>"$L")",
       "airssys-osl: --keep-fd 9 is given twice\n"},
      // Decimal digits only: CLI11 read '' as 0 and 0x9 as 9 (with fd 9 open, the program ran).
      {R"("$OSL" exec --policy "$P" --principal tester --keep-fd 0x9)" + program + R"( 9>"$L")",
       "airssys-osl: --keep-fd '0x9': not an fd number (write it in decimal digits, e.g. 9)\n"},
      {R"("$OSL" exec --policy "$P" --principal tester --keep-fd '')" + program,
       "airssys-osl: --keep-fd '': not an fd number (write it in decimal digits, e.g. 9)\n"},
      {R"("$OSL" exec --policy "$P" --principal tester --keep-fd +9)" + program + R"( 9>"$L")",
       "airssys-osl: --keep-fd '+9': not an fd number (write it in decimal digits, e.g. 9)\n"},
      {R"("$OSL" exec --policy "$P" --principal tester --sandbox --keep-fd 9)" + program + R"( 9>"$L")",
       "airssys-osl: --keep-fd cannot be combined with --sandbox: an open fd would carry access past the Landlock "
       "ruleset\n"},
  };
  for (const auto& c : cases) {
    fs::remove(marker);  // each case answers for itself
    std::vector<std::string> e = env();
    e.push_back("M=" + marker.string());
    auto r = airssys::testing::run({"/bin/sh", "-c", c.script}, {.env = e});
    EXPECT_EQ(r.status, 2) << c.script << "\n" << r.err;
    EXPECT_EQ(r.err, c.message) << c.script;
    EXPECT_FALSE(fs::exists(marker)) << "the program ran: " << c.script;
  }
}

// Why the list is checked before airssys-osl opens anything: with fd 3
// closed in the caller, the audit log is the first file opened and would get
// fd 3; checked after that, `--keep-fd 3` would find fd 3 open and hand the
// audit log to the program as the caller's fd. Checked first, it is the
// usage error for a closed fd, the program never runs and the log is not
// even created.
TEST_F(ExecKeepFd, AClosedFdIsRefusedBeforeTheAuditLogCanTakeItsNumber) {
  const fs::path marker = dir.path() / "ran", audit = dir.path() / "audit.jsonl";
  std::vector<std::string> e = env();
  e.push_back("M=" + marker.string());
  e.push_back("A=" + audit.string());
  auto r = airssys::testing::run(
      {"/bin/sh", "-c",
       R"(exec 3>&-; "$OSL" exec --policy "$P" --principal tester --audit-log "$A" --keep-fd 3 -- /bin/sh -c ': > "$1"' sh "$M")"},
      {.env = e});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err, "airssys-osl: --keep-fd 3: fd 3 is not open (open it where airssys-osl is started, e.g. `3>FILE`)\n");
  EXPECT_FALSE(fs::exists(marker)) << "the program ran";
  EXPECT_FALSE(fs::exists(audit)) << "the audit log was opened before the check";
}

}  // namespace
