// Black-box tests of the airssys-osl command line: each test runs the real
// binary (AIRSSYS_OSL_BIN) with an argv array — never through a shell — in a
// fresh temporary directory with a policy written by the test.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>
#include <airssys/testing/child.hpp>
#include <airssys/testing/run.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>

namespace {

namespace stdfs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int code = -1;  // exit code, or 128+signal
  std::string out;
  std::string err;
};

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name << " is not set (run the test through ctest)";
    return {};
  }
  return v;
}

const std::string& binary() {
  static const std::string bin = env_or_fail("AIRSSYS_OSL_BIN");
  return bin;
}

// Runs the CLI with `args`, feeding `input` on stdin; captures stdout/stderr.
Result run(const std::vector<std::string>& args, const std::string& input = {}) {
  std::vector<std::string> argv{binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = airssys::testing::run(argv, {.input = input});
  return {r.status, std::move(r.out), std::move(r.err)};
}

using airssys::testing::read_file;

void write_file(const stdfs::path& p, const std::string& content) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << content;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Each test gets a temporary directory: TMP/work (allowed for fs.* to
// "tester", TMP/work/secret denied) and TMP/policy.yaml.
class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(binary().empty());
    tmp_ = dir_.path();
    work_ = tmp_ / "work";
    stdfs::create_directories(work_ / "secret");
    write_file(work_ / "secret" / "key", "hunter2");
    policy_ = (tmp_ / "policy.yaml").string();
    write_file(policy_, policy_text());
  }
  std::string policy_text() const {
    const std::string w = work_.string();
    return "version: 1\n"
           "principals:\n"
           "  tester: {}\n"
           "rules:\n"
           "  - id: work-fs\n"
           "    effect: allow\n"
           "    principals: [tester]\n"
           "    operations: [\"fs.*\"]\n"
           "    resources: [\"" + w + "/**\"]\n"
           "  - id: no-secret\n"
           "    effect: deny\n"
           "    principals: [\"*\"]\n"
           "    operations: [\"fs.*\"]\n"
           "    resources: [\"" + w + "/secret/**\"]\n"
           "  - id: spawn-system\n"
           "    effect: allow\n"
           "    principals: [tester]\n"
           "    operations: [process.spawn, process.signal]\n"
           "    resources: [\"/usr/bin/*\", \"/bin/*\"]\n"
           "  - id: no-touch\n"
           "    effect: deny\n"
           "    principals: [tester]\n"
           "    operations: [process.spawn]\n"
           "    resources: [\"/usr/bin/touch\", \"/bin/touch\"]\n";
  }

  // "--policy P --principal tester" plus `more`.
  std::vector<std::string> as_tester(std::vector<std::string> cmd, const std::vector<std::string>& more = {}) const {
    cmd.insert(cmd.end(), {"--policy", policy_, "--principal", "tester"});
    cmd.insert(cmd.end(), more.begin(), more.end());
    return cmd;
  }

  std::string path(const std::string& rel) const { return (work_ / rel).string(); }

  airssys::testing::TempDir dir_{"airssys-cli"};
  stdfs::path tmp_, work_;
  std::string policy_;
};

// `policy check P > /dev/full` exited 0 with nothing written, an explain
// "allow" too, and a long enough output aborted (fmt's exception): stdout
// that cannot be written is exit 1 with the reason, as for the fs commands.
TEST_F(Cli, PolicyOutputThatCannotBeWrittenIsAnError) {
  const std::vector<std::string> many(400, policy_);  // ~30 KB of "P: ok, 4 rules"
  std::vector<std::string> check_many{binary(), "policy", "check"};
  check_many.insert(check_many.end(), many.begin(), many.end());
  int n = 0;
  for (const auto& argv :
       {std::vector<std::string>{binary(), "policy", "check", policy_}, check_many,
        std::vector<std::string>{binary(), "policy", "explain", "--policy", policy_, "--principal", "tester", "--op",
                                 "fs.read", "--resource", path("a")}}) {
    const auto err = tmp_ / ("err" + std::to_string(n++));
    airssys::testing::Child child(argv, {.stdout_path = "/dev/full", .stderr_path = err});
    EXPECT_EQ(child.wait(), std::optional<int>(1)) << argv[1] << " " << argv[2] << ": " << read_file(err);
    EXPECT_EQ(read_file(err), "airssys-osl: io: writing standard output: No space left on device\n") << argv.size();
    // `>/dev/full 2>&1`: the message cannot be written either. It aborted
    // (134): fmt::print(stderr, ...) threw from stdout_failed.
    airssys::testing::Child both(argv, {.stdout_path = "/dev/full", .stderr_path = "/dev/full"});
    EXPECT_EQ(both.wait(), std::optional<int>(1)) << argv[1] << " " << argv[2] << " 2>/dev/full";
  }
}

// An error or warning that cannot be written to stderr (`2>/dev/full`) does
// not abort: fmt::print(stderr, ...) threw and main re-threw it (134, like a
// crash). The command still fails with a non-zero code of its own.
TEST_F(Cli, AnErrorThatCannotBeWrittenToStderrDoesNotAbort) {
  const auto bad = path("bad.yaml");
  write_file(bad, "rules: [\n");
  int n = 0;
  for (const auto& argv : {std::vector<std::string>{binary(), "policy", "check", bad},
                           std::vector<std::string>{binary(), "fs", "read", "--policy", policy_, "--principal",
                                                    "tester", path("missing")}}) {
    const auto out = tmp_ / ("out" + std::to_string(n++));
    airssys::testing::Child child(argv, {.stdout_path = out, .stderr_path = "/dev/full"});
    const auto rc = child.wait();
    ASSERT_TRUE(rc.has_value()) << argv[1] << " " << argv[2] << " did not end";
    EXPECT_GT(*rc, 0) << argv[1] << " " << argv[2];
    EXPECT_LT(*rc, 128) << argv[1] << " " << argv[2] << ": killed by signal " << *rc - 128 << " (134: aborted)";
  }
}

// With stderr unwritable (`2>/dev/full`) every command still exits with its
// documented code (the --help footer, docs/osl.md): the message is lost,
// the code is not. Each case exited 1 before detail::print_stderr: the
// first message to stderr threw, and main's catch took its place.
TEST_F(Cli, DocumentedExitCodesHoldWhenStderrCannotBeWritten) {
  const auto bad = path("bad.yaml");
  write_file(bad, "rules: [\n");
  struct Case {
    std::vector<std::string> args;
    int code;
  };
  const std::vector<Case> cases = {
      {{"policy", "check", bad}, 2},                                                   // invalid policy
      {{"policy", "explain", "--policy", policy_, "--principal", "tester", "--op", "fs.nope",
        "--resource", path("a")}, 2},                                                  // usage
      {as_tester({"exec"}, {"--timeout", "soon", "--", "/bin/true"}), 2},              // usage
      {as_tester({"fs", "write"}, {"--append", "--atomic", path("a")}), 2},            // usage
      {as_tester({"fs", "read"}, {path("secret/key")}), 126},                          // denied
      {as_tester({"exec"}, {"--", "/usr/bin/touch", path("t")}), 126},                 // denied
      {as_tester({"exec"}, {"--", "/usr/bin/airssys-no-such-program"}), 127},          // not found
      {as_tester({"exec"}, {"--timeout", "300ms", "--", "/bin/sleep", "60"}), 124},    // timeout
      {as_tester({"fs", "read"}, {path("missing")}), 1},                               // failed
  };
  int n = 0;
  for (const auto& c : cases) {
    std::vector<std::string> argv{binary()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto out = tmp_ / ("out" + std::to_string(n++));
    airssys::testing::Child child(argv, {.stdout_path = out, .stderr_path = "/dev/full"});
    EXPECT_EQ(child.wait(), std::optional<int>(c.code)) << c.args[0] << " " << c.args[1] << " " << c.args.back();
  }
}

// A reader that went away (`airssys-osl policy check P | head -0`) is not an
// error for these short outputs: since 6af7fac it was "Broken pipe", exit
// 1; now the program ends quietly by SIGPIPE, as task-watchdog and most
// Unix tools do. `fs read` keeps exit 1 with the message (its documented
// rule: the operation's result could not be delivered).
TEST_F(Cli, PolicyOutputToAReaderThatWentAwayEndsBySigpipe) {
  write_file(path("a"), "data");
  int n = 0;
  for (const auto& argv :
       {std::vector<std::string>{binary(), "policy", "check", policy_},
        std::vector<std::string>{binary(), "policy", "explain", "--policy", policy_, "--principal", "tester", "--op",
                                 "fs.read", "--resource", path("a")},
        as_tester({binary(), "fs", "read"}, {path("a")})}) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ::close(fds[0]);  // the reader is gone before anything is written
    const auto err = tmp_ / ("err" + std::to_string(n++));
    airssys::testing::Child child(argv, {.stderr_path = err, .stdout_fd = fds[1]});
    ::close(fds[1]);
    const bool fs_read = argv[1] == "fs";
    EXPECT_EQ(child.wait(), std::optional<int>(fs_read ? 1 : 128 + SIGPIPE)) << argv[2] << ": " << read_file(err);
    EXPECT_EQ(read_file(err), fs_read ? "airssys-osl: io: writing standard output: Broken pipe\n" : "") << argv[2];
  }
  // A command that already failed keeps its exit code: `policy check good
  // bad | head -0` ended by SIGPIPE (141), hiding the invalid policy's 2.
  const std::string bad = (tmp_ / "bad.yaml").string();
  write_file(bad, "version: 1\nrules: [oops\n");
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);
  const auto err = tmp_ / "err-good-bad";
  airssys::testing::Child child({binary(), "policy", "check", policy_, bad}, {.stderr_path = err, .stdout_fd = fds[1]});
  ::close(fds[1]);
  EXPECT_EQ(child.wait(), std::optional<int>(2)) << read_file(err);
  EXPECT_THAT(read_file(err), StartsWith(bad + ":")) << read_file(err);
  EXPECT_THAT(read_file(err), Not(HasSubstr("writing standard output"))) << read_file(err);
}

// `fs read --audit-log A F >&-`: the audit log opened as fd 1 and the file's
// contents went into it between its JSON records, exit 0. A closed fd 1 is
// now /dev/null read-only: the write fails, exit 1, and the audit log holds
// only its records.
TEST_F(Cli, AClosedStdoutIsAnErrorNotAnotherFile) {
  write_file(path("a"), "the file's contents\n");
  const auto audit = tmp_ / "audit.jsonl";
  auto r = airssys::testing::run(
      {"/bin/sh", "-c", R"(exec "$0" fs read --policy "$1" --principal tester --audit-log "$2" "$3" >&-)", binary(), policy_,
       audit.string(), path("a")});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.err, "airssys-osl: io: writing standard output: Bad file descriptor\n");
  const auto records = lines_of(read_file(audit));
  EXPECT_EQ(records.size(), 2U) << read_file(audit);
  for (const auto& line : records) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  // stdin and stderr closed too: nothing else takes their numbers either
  // (stderr is /dev/null write-only: the message is lost, not an abort).
  auto all = airssys::testing::run(
      {"/bin/sh", "-c", R"(exec "$0" fs read --policy "$1" --principal tester --audit-log "$2" "$3" <&- >&- 2>&-)", binary(),
       policy_, audit.string(), path("a")});
  EXPECT_EQ(all.status, 1);
  const auto after = lines_of(read_file(audit));
  EXPECT_EQ(after.size(), 4U) << read_file(audit);
  for (const auto& line : after) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

// `fs write F <&-`: since 77a5572 a closed stdin was /dev/null read-only,
// read as empty: F was emptied, exit 0. fd 0 is now /dev/null write-only, so
// the read fails with EBADF, as it did on the closed fd: exit 1, F kept.
TEST_F(Cli, FsWriteFromAClosedStdinIsAnErrorAndKeepsTheFile) {
  write_file(path("kept"), "the old contents\n");
  auto r = airssys::testing::run({"/bin/sh", "-c", R"(exec "$0" fs write --policy "$1" --principal tester "$2" <&-)",
                                  binary(), policy_, path("kept")});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("reading standard input: Bad file descriptor")) << r.err;
  EXPECT_EQ(read_file(path("kept")), "the old contents\n");
}

// ---- policy check -----------------------------------------------------------

TEST_F(Cli, PolicyCheckAcceptsAValidPolicy) {
  const Result r = run({"policy", "check", policy_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, policy_ + ": ok, 4 rules\n");
}

TEST_F(Cli, PolicyCheckAcceptsTheBundledExample) {
  const std::string example = env_or_fail("AIRSSYS_SOURCE_DIR") + "/osl/policies/example.yaml";
  const Result r = run({"policy", "check", example});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith(example + ": ok, "));
}

TEST_F(Cli, PolicyCheckReportsFileLineColumn) {
  const std::string bad = (tmp_ / "bad.yaml").string();
  write_file(bad,
             "version: 1\n"
             "rules:\n"
             "  - id: r1\n"
             "    effect: allow\n"
             "    principalz: [bob]\n"
             "    operations: [fs.read]\n");
  const Result r = run({"policy", "check", bad});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, StartsWith(bad + ":5:5: ")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("principalz"));
  EXPECT_EQ(r.out, "");
}

TEST_F(Cli, PolicyCheckOfAMissingFileIsAUsageError) {
  const Result r = run({"policy", "check", (tmp_ / "nope.yaml").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("nope.yaml"));
}

// ---- policy explain -----------------------------------------------------------

TEST_F(Cli, ExplainAllowNamesTheRule) {
  const Result r = run({"policy", "explain", "--policy", policy_, "--principal", "tester", "--op", "fs.read",
                        "--resource", path("notes.txt")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "allow (rule work-fs)\n");
}

TEST_F(Cli, ExplainDenyByRule) {
  const Result r = run({"policy", "explain", "--policy", policy_, "--principal", "tester", "--op", "fs.read",
                        "--resource", path("secret/key")});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out, "deny (rule no-secret)\n");
}

TEST_F(Cli, ExplainDenyWithoutARule) {
  const Result r = run({"policy", "explain", "--policy", policy_, "--principal", "alice", "--op", "fs.read",
                        "--resource", "/etc/shadow"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out, "deny (no rule allows fs.read on /etc/shadow for alice)\n");
}

TEST_F(Cli, ExplainCanonicalisesPathsLexically) {
  // "work/./x/../secret/key" relative to TMP is TMP/work/secret/key.
  const Result r = run({"policy", "explain", "--policy", policy_, "--principal", "tester", "--op", "fs.read",
                        "--resource", (tmp_ / "work/./x/../secret/key").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "deny (rule no-secret)\n");
}

TEST_F(Cli, ExplainBadInputIsExit2) {
  EXPECT_EQ(run({"policy", "explain", "--policy", policy_, "--principal", "tester", "--op", "fs.reed", "--resource",
                 "/x"})
                .code,
            2);
  write_file(tmp_ / "bad.yaml", "rules: 3\n");
  EXPECT_EQ(run({"policy", "explain", "--policy", (tmp_ / "bad.yaml").string(), "--principal", "tester", "--op",
                 "fs.read", "--resource", "/x"})
                .code,
            2);
  EXPECT_EQ(run({"policy", "explain", "--policy", policy_, "--op", "fs.read"}).code, 2);  // no --principal
}

// The pipeline never asks about a rename of one path, nor about fs.read of
// nothing: explain answered both ("allow (rule work-fs)" for the rename,
// "deny (no rule allows ...)" for the read); now a usage error saying what
// to give. net.socket has no resource and still gets its answer.
TEST_F(Cli, ExplainRefusesAResourceCountThePipelineNeverAsksAbout) {
  const auto explain = [&](const std::string& op, const std::vector<std::string>& resources) {
    std::vector<std::string> args{"policy", "explain", "--policy", policy_, "--principal", "tester", "--op", op};
    for (const auto& r : resources) args.insert(args.end(), {"--resource", r});
    return run(args);
  };
  const Result one = explain("fs.rename", {path("a")});
  EXPECT_EQ(one.code, 2) << one.out;
  EXPECT_EQ(one.err, "airssys-osl: --op fs.rename takes --resource twice (the path, then its new name); got 1\n");
  EXPECT_EQ(one.out, "");
  const Result two = explain("fs.rename", {path("a"), path("b")});
  EXPECT_EQ(two.code, 0) << two.err;
  EXPECT_EQ(two.out, "allow (rule work-fs)\n");
  const Result none = explain("fs.read", {});
  EXPECT_EQ(none.code, 2) << none.out;
  EXPECT_THAT(none.err, HasSubstr("--op fs.read needs a --resource"));
  const Result socket = explain("net.socket", {});
  EXPECT_EQ(socket.code, 1) << socket.err;
  EXPECT_EQ(socket.out, "deny (no rule allows net.socket for tester)\n");
}

// ---- exec ---------------------------------------------------------------------

TEST_F(Cli, ExecPassesOnTheExitCode) {
  const Result r = run(as_tester({"exec"}, {"--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST_F(Cli, ExecReportsASignalAs128PlusSignal) {
  const Result r = run(as_tester({"exec"}, {"--", "/bin/sh", "-c", "kill -TERM $$"}));
  EXPECT_EQ(r.code, 128 + SIGTERM) << r.err;
}

// The child sends SIGTERM to its parent, airssys-osl, which passes it on
// through process.signal: the child's trap turns it into exit code 7.
TEST_F(Cli, ExecPassesSignalsOnToTheProgram) {
  const Result r = run(as_tester(
      {"exec"}, {"--timeout", "60s", "--", "/bin/sh", "-c",
                 "trap 'exit 7' TERM; kill -TERM $PPID; while :; do sleep 0.1; done"}));
  EXPECT_EQ(r.code, 7) << r.err;
}

// Without process.signal the signal cannot be passed on: the program is
// killed and airssys-osl reports 128+SIGTERM.
TEST_F(Cli, ExecKillsTheProgramWhenASignalCannotBePassedOn) {
  std::string text = policy_text();
  text.replace(text.find("process.spawn, process.signal"), 29, "process.spawn");
  write_file(policy_, text);
  const Result r =
      run(as_tester({"exec"}, {"--timeout", "60s", "--", "/bin/sh", "-c", "kill -TERM $PPID; exec sleep 60"}));
  EXPECT_EQ(r.code, 128 + SIGTERM) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot pass SIGTERM"));
}

TEST_F(Cli, ExecDeniedByRuleRunsNothing) {
  const std::string marker = path("marker");
  const Result r = run(as_tester({"exec"}, {"--", "/usr/bin/touch", marker}));
  EXPECT_EQ(r.code, 126);
  EXPECT_THAT(r.err, HasSubstr("denied"));
  EXPECT_THAT(r.err, HasSubstr("no-touch"));
  EXPECT_FALSE(stdfs::exists(marker));
}

TEST_F(Cli, ExecOfAProgramOutsideTheAllowlistRunsNothing) {
  const std::string marker = path("marker");
  const std::string script = path("evil.sh");
  write_file(script, "#!/bin/sh\n: > '" + marker + "'\n");
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  const Result r = run(as_tester({"exec"}, {"--", script}));
  EXPECT_EQ(r.code, 126);
  EXPECT_THAT(r.err, HasSubstr("no rule allows process.spawn on " + script + " for tester"));
  EXPECT_FALSE(stdfs::exists(marker));
}

TEST_F(Cli, ExecOfAMissingProgramIs127) {
  const Result r = run(as_tester({"exec"}, {"--", "/usr/bin/airssys-no-such-program"}));
  EXPECT_EQ(r.code, 127);
  EXPECT_THAT(r.err, HasSubstr("not_found"));
}

TEST_F(Cli, ExecWithAnInvalidPolicyRunsNothing) {
  write_file(policy_, "version: 1\nrules: [ {id: x} ]\n");
  const std::string marker = path("marker");
  const Result r = run(as_tester({"exec"}, {"--", "/bin/sh", "-c", ": > '" + marker + "'"}));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, StartsWith(policy_ + ":2:"));
  EXPECT_FALSE(stdfs::exists(marker));
}

TEST_F(Cli, ExecTimeoutIs124) {
  const Result r = run(as_tester({"exec"}, {"--timeout", "300ms", "--", "/bin/sleep", "60"}));
  EXPECT_EQ(r.code, 124) << r.err;
  EXPECT_THAT(r.err, HasSubstr("timed out"));
}

TEST_F(Cli, ExecRejectsABadTimeout) {
  const Result r = run(as_tester({"exec"}, {"--timeout", "soon", "--", "/bin/true"}));
  EXPECT_EQ(r.code, 2);
  // The one parser's message (osl/duration.hpp), as in every other CLI.
  EXPECT_THAT(r.err, HasSubstr("--timeout: 'soon' is not a duration; use e.g."));
  EXPECT_EQ(run(as_tester({"exec"}, {"--timeout", "0", "--", "/bin/true"})).code, 2);
  EXPECT_EQ(run(as_tester({"exec"}, {"--timeout", "1.5s", "--", "/bin/true"})).code, 0) << "fractions as before";
}

// `--audit-log "$LOG"` with LOG unset ran the program unaudited, and
// `--timeout "$T"` without a timeout: an option given '' is a usage error
// before anything runs (exit 2, the option named). --traceparent '' stays
// "unset", as documented.
TEST_F(Cli, AnOptionGivenAnEmptyValueRunsNothing) {
  const auto marker = path("ran");
  const std::vector<std::string> program{"--", "/bin/sh", "-c", ": > '" + marker + "'"};
  for (const std::vector<std::string>& given :
       {std::vector<std::string>{"--audit-log", ""}, {"--timeout", ""}, {"--cwd", ""}, {"--audit-ledger", ""},
        {"--audit-syslog", ""}, {"--audit-syslog-facility", ""}}) {
    std::vector<std::string> more = given;
    more.insert(more.end(), program.begin(), program.end());
    const Result r = run(as_tester({"exec"}, more));
    EXPECT_EQ(r.code, 2) << given[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(given[0] + ": no value given")) << given[0];
    EXPECT_FALSE(stdfs::exists(marker)) << given[0];
  }
  for (const auto& who : {std::vector<std::string>{"--policy", "", "--principal", "tester"},
                          std::vector<std::string>{"--policy", policy_, "--principal", ""}}) {
    std::vector<std::string> args{"exec"};
    args.insert(args.end(), who.begin(), who.end());
    args.insert(args.end(), program.begin(), program.end());
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr(": no value given"));
    EXPECT_FALSE(stdfs::exists(marker));
  }
  const Result read = run(as_tester({"fs", "read", "--audit-log", ""}, {path("x")}));
  EXPECT_EQ(read.code, 2) << read.err;
  EXPECT_THAT(read.err, HasSubstr("--audit-log: no value given"));
  const Result trace = run(as_tester({"exec"}, {"--traceparent", "", "--", "/bin/true"}));
  EXPECT_EQ(trace.code, 0) << trace.err;
}

TEST_F(Cli, ExecEnvAndCwd) {
  const Result r = run(as_tester({"exec"}, {"--env", "AIRSSYS_A=1", "--env", "AIRSSYS_B=two", "--cwd", work_.string(),
                                            "--", "/bin/sh", "-c", "echo \"$AIRSSYS_A $AIRSSYS_B $(pwd)\""}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1 two " + work_.string() + "\n");
}

TEST_F(Cli, ExecClearEnv) {
  const Result r = run(as_tester({"exec"}, {"--clear-env", "--env", "ONLY=1", "--", "/usr/bin/env"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ONLY=1\n");
}

TEST_F(Cli, ExecEnvDoesNotPassLoaderVariables) {
  // A bogus LD_PRELOAD that reached the child would make ld.so complain on
  // stderr; the policy names no loader variable, so none is passed.
  const Result r = run(as_tester({"exec"}, {"--clear-env", "--env", "LD_PRELOAD=/nonexistent/evil.so", "--env",
                                            "GCONV_PATH=/nonexistent", "--env", "OK=1", "--", "/usr/bin/env"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "OK=1\n");
  EXPECT_THAT(r.err, HasSubstr("warning: --env LD_PRELOAD is not passed on"));
  EXPECT_THAT(r.err, HasSubstr("warning: --env GCONV_PATH is not passed on"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("ld.so")));
}

TEST_F(Cli, ExecEnvPassesALoaderVariableThePolicyNames) {
  std::string text = policy_text();
  text.replace(text.find("  tester: {}\n"), 13, "  tester: { env: [LD_LIBRARY_PATH] }\n");
  write_file(policy_, text);
  const Result r = run(as_tester({"exec"}, {"--clear-env", "--env", "LD_LIBRARY_PATH=/nonexistent", "--", "/usr/bin/env"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "LD_LIBRARY_PATH=/nonexistent\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(Cli, ExecPassesStdinThrough) {
  const Result r = run(as_tester({"exec"}, {"--", "/bin/cat"}), "piped input\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "piped input\n");
}

TEST_F(Cli, ExecSandboxConfinesTheProgramToThePolicysPaths) {
  write_file(work_ / "in.txt", "inside\n");
  // Inside TMP/work: readable. /etc/passwd: not in any allow rule nor in the
  // default system paths, so Landlock refuses it even to a direct open().
  const Result r = run(as_tester(
      {"exec"}, {"--sandbox", "--", "/bin/sh", "-c", "cat '" + path("in.txt") + "' && ! cat /etc/passwd 2>/dev/null"}));
  if (r.code == 126 && r.err.find("unsupported") != std::string::npos) GTEST_SKIP() << "no Landlock here: " << r.err;
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "inside\n");
}

// ---- audit log ----------------------------------------------------------------

TEST_F(Cli, AuditLogRecordsEveryOperationAsJsonLines) {
  const std::string log = (tmp_ / "audit.jsonl").string();
  EXPECT_EQ(run(as_tester({"fs", "write"}, {path("a.txt"), "hello", "--audit-log", log})).code, 0);
  EXPECT_EQ(run(as_tester({"fs", "read"}, {path("secret/key"), "--audit-log", log})).code, 126);
  EXPECT_EQ(run(as_tester({"exec"}, {"--audit-log", log, "--", "/bin/true"})).code, 0);
  EXPECT_EQ(run(as_tester({"exec"}, {"--audit-log", log, "--", "/usr/bin/touch", path("m")})).code, 126);

  const auto lines = lines_of(read_file(log));
  ASSERT_EQ(lines.size(), 6u) << read_file(log);  // start+end, denied, start+end, denied
  const std::regex ts_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");
  std::vector<nlohmann::json> recs;
  for (const auto& line : lines) {
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << line;
    for (const char* field :
         {"ts", "op_id", "event", "op", "principal", "resources", "decision", "rule", "outcome", "error", "duration_ns"}) {
      EXPECT_TRUE(j.contains(field)) << field << " missing in " << line;
    }
    EXPECT_TRUE(std::regex_match(j.value("ts", std::string()), ts_re)) << line;
    EXPECT_EQ(j["principal"], "tester");
    EXPECT_TRUE(j["resources"].is_array());
    recs.push_back(std::move(j));
  }
  EXPECT_EQ(recs[0]["event"], "start");
  EXPECT_EQ(recs[0]["op"], "fs.write");
  EXPECT_EQ(recs[0]["resources"], nlohmann::json::array({path("a.txt")}));
  EXPECT_EQ(recs[0]["decision"], "allow");
  EXPECT_EQ(recs[0]["rule"], "work-fs");
  EXPECT_EQ(recs[1]["event"], "end");
  EXPECT_EQ(recs[1]["op_id"], recs[0]["op_id"]);
  EXPECT_EQ(recs[1]["outcome"], "ok");
  EXPECT_TRUE(recs[1]["error"].is_null());

  EXPECT_EQ(recs[2]["event"], "denied");
  EXPECT_EQ(recs[2]["op"], "fs.read");
  EXPECT_EQ(recs[2]["decision"], "deny");
  EXPECT_EQ(recs[2]["rule"], "no-secret");
  EXPECT_EQ(recs[2]["outcome"], "denied");
  EXPECT_EQ(recs[2]["error"]["category"], "denied");

  EXPECT_EQ(recs[3]["op"], "process.spawn");
  EXPECT_EQ(recs[3]["detail"]["argv"], nlohmann::json::array({"/bin/true"}));
  EXPECT_EQ(recs[4]["outcome"], "ok");
  EXPECT_EQ(recs[5]["event"], "denied");
  EXPECT_EQ(recs[5]["op"], "process.spawn");
  EXPECT_EQ(recs[5]["rule"], "no-touch");
  EXPECT_FALSE(stdfs::exists(path("m")));
}

TEST_F(Cli, NonUtf8NamesAreWrittenAsReplacementCharacters) {
  const std::string log = (tmp_ / "audit.jsonl").string();
  const std::string odd = path("caf\xff.txt");
  EXPECT_EQ(run(as_tester({"fs", "write"}, {odd, "x", "--audit-log", log})).code, 0);
  const auto lines = lines_of(read_file(log));
  ASSERT_EQ(lines.size(), 2u);
  const auto rec = nlohmann::json::parse(lines[0]);  // throws on invalid UTF-8
  EXPECT_EQ(rec["resources"][0], path("caf\xef\xbf\xbd.txt"));  // U+FFFD

  const Result r = run(as_tester({"fs", "list"}, {work_.string(), "--json"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(nlohmann::json::parse(r.out).dump(), HasSubstr("caf\xef\xbf\xbd.txt"));
}

TEST_F(Cli, WithoutAnAuditLogEnforcementIsIdentical) {
  const Result r = run(as_tester({"fs", "read"}, {path("secret/key")}));
  EXPECT_EQ(r.code, 126);
  EXPECT_THAT(r.err, HasSubstr("denied by rule no-secret"));
  EXPECT_EQ(r.out, "");
}

TEST_F(Cli, AuditStderrWritesRecordsToStderr) {
  const Result r = run(as_tester({"fs", "stat"}, {work_.string(), "--audit-stderr"}));
  EXPECT_EQ(r.code, 0) << r.err;
  const auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 2u) << r.err;
  EXPECT_EQ(nlohmann::json::parse(lines[0])["op"], "fs.stat");
}

TEST_F(Cli, UnopenableAuditLogIsAUsageError) {
  const Result r = run(as_tester({"fs", "stat"}, {work_.string(), "--audit-log", (tmp_ / "no/such/dir/log").string()}));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("audit log"));
}

// ---- fs -----------------------------------------------------------------------

TEST_F(Cli, FsRoundTrip) {
  EXPECT_EQ(run(as_tester({"fs", "mkdir"}, {path("a/b"), "--parents"})).code, 0);
  EXPECT_TRUE(stdfs::is_directory(work_ / "a/b"));
  EXPECT_EQ(run(as_tester({"fs", "mkdir"}, {path("a/b")})).code, 1);  // exists, no --parents

  const std::string f = path("a/b/f.txt");
  EXPECT_EQ(run(as_tester({"fs", "write"}, {f, "line 1\n"})).code, 0);
  EXPECT_EQ(run(as_tester({"fs", "write"}, {f, "--append"}), "line 2\n").code, 0);
  Result r = run(as_tester({"fs", "read"}, {f}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "line 1\nline 2\n");

  EXPECT_EQ(run(as_tester({"fs", "write"}, {f, "--atomic", "replaced"})).code, 0);
  EXPECT_EQ(read_file(f), "replaced");

  r = run(as_tester({"fs", "list"}, {path("a")}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "dir b\n");
  r = run(as_tester({"fs", "list"}, {path("a/b"), "--json"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(R"([{"name":"f.txt","type":"file"}])"));

  r = run(as_tester({"fs", "stat"}, {f}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("type: file\n"));
  EXPECT_THAT(r.out, HasSubstr("size: 8\n"));
  r = run(as_tester({"fs", "stat"}, {f, "--json"}));
  EXPECT_EQ(r.code, 0) << r.err;
  const auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["type"], "file");
  EXPECT_EQ(st["size"], 8);
  EXPECT_EQ(st["mode"], "0600");

  EXPECT_EQ(run(as_tester({"fs", "delete"}, {path("a")})).code, 1);  // not empty
  EXPECT_EQ(run(as_tester({"fs", "delete"}, {path("a"), "--recursive"})).code, 0);
  EXPECT_FALSE(stdfs::exists(work_ / "a"));
}

TEST_F(Cli, FsRecursiveDeleteKeepsWhatADenyRuleProtects) {
  // work-fs allows the whole tree, no-secret protects work/secret inside it.
  write_file(work_ / "plain", "p");
  const Result r = run(as_tester({"fs", "delete"}, {work_.string(), "--recursive"}));
  EXPECT_EQ(r.code, 1) << "it ran (and removed the rest), so not 126";
  EXPECT_THAT(r.err, HasSubstr("denied: " + work_.string() + ": kept 1 entry"));
  EXPECT_THAT(r.err, HasSubstr(path("secret") + " (denied by rule no-secret)"));
  EXPECT_EQ(read_file(work_ / "secret/key"), "hunter2");
  EXPECT_FALSE(stdfs::exists(work_ / "plain"));
}

TEST_F(Cli, FsFailureNamesTheCategory) {
  const Result r = run(as_tester({"fs", "read"}, {path("missing.txt")}));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("not_found"));
}

TEST_F(Cli, FsDeniedIs126AndChangesNothing) {
  EXPECT_EQ(run(as_tester({"fs", "write"}, {path("secret/key"), "overwritten"})).code, 126);
  EXPECT_EQ(run(as_tester({"fs", "delete"}, {path("secret/key")})).code, 126);
  EXPECT_EQ(read_file(work_ / "secret/key"), "hunter2");
  EXPECT_EQ(run(as_tester({"fs", "list"}, {"/etc"})).code, 126);
}

// ---- usage --------------------------------------------------------------------

TEST_F(Cli, UsageErrorsAreExit2) {
  EXPECT_EQ(run({}).code, 2);
  EXPECT_EQ(run({"frobnicate"}).code, 2);
  EXPECT_EQ(run({"fs", "read", "--policy", policy_, path("x")}).code, 2);  // no --principal
  EXPECT_EQ(run(as_tester({"fs", "write"}, {path("x"), "--append", "--atomic", "d"})).code, 2);
}

TEST_F(Cli, HelpDocumentsTheExitCodes) {
  const Result r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* code : {"124", "125", "126", "127"}) EXPECT_THAT(r.out, HasSubstr(code));
}

// ---- tamper-evident audit trail -------------------------------------------

// --audit-ledger appends every activity record to an airssys-ledger: the
// ledger verifies, and its entries are exactly the records, in order.
TEST_F(Cli, AuditLedgerRecordsEveryOperationTamperEvidently) {
  const auto ledger_dir = tmp_ / "audit-ledger";
  const Result ok = run(as_tester({"exec"}, {"--audit-ledger", ledger_dir.string(), "--", "/bin/true"}));
  EXPECT_EQ(ok.code, 0) << ok.err;
  const Result denied = run(as_tester({"fs", "read"}, {"--audit-ledger", ledger_dir.string(), path("secret/key")}));
  EXPECT_EQ(denied.code, 126) << denied.err;

  auto report = airssys::ledger::verify(ledger_dir);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->intact) << report->problem;
  ASSERT_EQ(report->size, 3u) << "spawn start + end, and one denied record";
  auto ledger = airssys::ledger::Ledger::open(ledger_dir, {.read_only = true});
  ASSERT_TRUE(ledger) << ledger.error().message;
  std::vector<nlohmann::json> recs;
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto e = (*ledger)->entry(i);
    ASSERT_TRUE(e);
    recs.push_back(nlohmann::json::parse(std::string(e->begin(), e->end())));
  }
  EXPECT_EQ(recs[0]["op"], "process.spawn");
  EXPECT_EQ(recs[0]["event"], "start");
  EXPECT_EQ(recs[1]["event"], "end");
  EXPECT_EQ(recs[2]["op"], "fs.read");
  EXPECT_EQ(recs[2]["event"], "denied");
  EXPECT_EQ(recs[2]["rule"], "no-secret");
}

}  // namespace
