// airssys-osl given what an outside probe tried: FIFOs and devices as the
// policy or audit log, an audit log that cannot take the start record, and
// programs that cannot start for reasons the errno alone misnames. Each case
// ends at once with a message naming the cause, and nothing runs unaudited.

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <airssys/testing/run.hpp>
#include <airssys/testing/temp_dir.hpp>

namespace {

namespace stdfs = std::filesystem;
using ::testing::HasSubstr;

std::string binary() {
  const char* v = std::getenv("AIRSSYS_OSL_BIN");
  return v == nullptr ? std::string() : std::string(v);
}

void write_file(const stdfs::path& p, const std::string& content, stdfs::perms perms = stdfs::perms::owner_read | stdfs::perms::owner_write) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
  stdfs::permissions(p, perms);
}

class CliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(binary().empty()) << "AIRSSYS_OSL_BIN is not set (run the test through ctest)";
    policy_ = (tmp_.path() / "policy.yaml").string();
    write_file(policy_,
               "version: 1\n"
               "principals:\n"
               "  tester: {}\n"
               "rules:\n"
               "  - id: run-anything\n"
               "    effect: allow\n"
               "    principals: [tester]\n"
               "    operations: [process.spawn]\n");
    marker_ = tmp_.path() / "ran";
  }

  // exec as tester; a hang is a failure here (the run is ended after 30 s).
  airssys::testing::RunResult exec(std::vector<std::string> before, std::vector<std::string> program) {
    std::vector<std::string> argv{binary(), "exec", "--policy", policy_, "--principal", "tester"};
    argv.insert(argv.end(), before.begin(), before.end());
    argv.push_back("--");
    argv.insert(argv.end(), program.begin(), program.end());
    return airssys::testing::run(argv, {.timeout = std::chrono::seconds(30)});
  }
  std::vector<std::string> touch_marker() const { return {"/usr/bin/touch", marker_.string()}; }

  airssys::testing::TempDir tmp_;
  std::string policy_;
  stdfs::path marker_;
};

TEST_F(CliBadInput, FifoAsPolicyIsRefusedWithoutWaiting) {
  const auto fifo = tmp_.path() / "policy.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  policy_ = fifo.string();
  const auto r = exec({}, touch_marker());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(fifo.string() + ": not a regular file (a FIFO)"));
  EXPECT_FALSE(stdfs::exists(marker_));
}

TEST_F(CliBadInput, DirectoryAsPolicyIsNamed) {
  policy_ = tmp_.path().string();
  const auto r = exec({}, touch_marker());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("not a regular file (a directory)"));
}

TEST_F(CliBadInput, FifoAsAuditLogIsRefusedWithoutWaiting) {
  const auto fifo = tmp_.path() / "audit.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto r = exec({"--audit-log", fifo.string()}, touch_marker());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--audit-log " + fifo.string() + ": not a regular file (a FIFO)"));
  EXPECT_FALSE(stdfs::exists(marker_));
}

TEST_F(CliBadInput, DevFullAsAuditLogRunsNothing) {
  const auto r = exec({"--audit-log", "/dev/full"}, touch_marker());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--audit-log /dev/full: not a regular file (a character device)"));
  EXPECT_FALSE(stdfs::exists(marker_));
}

// A regular audit log that cannot grow (RLIMIT_FSIZE at its current size,
// as on a full disk): the start record is never written, so the program
// must not run. Before, it ran and airssys-osl exited 0 with a warning.
TEST_F(CliBadInput, StartRecordThatCannotBeWrittenRunsNothing) {
  const auto log = tmp_.path() / "audit.log";
  write_file(log, std::string(4096, '\n'));
  std::vector<std::string> args{binary(), "exec",        "--policy", policy_, "--principal", "tester",
                                "--audit-log", log.string(), "--"};
  for (auto& a : touch_marker()) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int err_pipe[2];
  ASSERT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead of killing
    const rlimit lim{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    ::dup2(err_pipe[1], 2);
    ::execv(argv[0], argv.data());
    ::_exit(99);
  }
  ::close(err_pipe[1]);
  int status = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(pid, SIGKILL);  // our own child
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "airssys-osl did not end";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string err;
  char buf[4096];
  for (ssize_t n; (n = ::read(err_pipe[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<std::size_t>(n));
  ::close(err_pipe[0]);
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 126) << err;
  EXPECT_THAT(err, HasSubstr("audit log stalled, operation not executed"));
  EXPECT_THAT(err, HasSubstr("File too large"));
  EXPECT_FALSE(stdfs::exists(marker_)) << "the program ran without its start record";
  EXPECT_EQ(stdfs::file_size(log), 4096u);
}

TEST_F(CliBadInput, ScriptWithoutShebangIsExplained) {
  const auto script = tmp_.path() / "noshebang";
  write_file(script, "touch " + marker_.string() + "\n", stdfs::perms::owner_all);
  const auto r = exec({}, {script.string()});
  EXPECT_EQ(r.status, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr(script.string() + " cannot be executed: it is not a program for this system and has "
                                                 "no '#!' line naming an interpreter"));
}

TEST_F(CliBadInput, MissingInterpreterIsNamed) {
  const auto script = tmp_.path() / "badinterp";
  write_file(script, "#!/nonexistent/interpreter -x\necho hi\n", stdfs::perms::owner_all);
  const auto r = exec({}, {script.string()});
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.err, HasSubstr(script.string() + ": its interpreter /nonexistent/interpreter (named on its '#!' line) "
                                                 "does not exist"));
}

TEST_F(CliBadInput, DirectoryAsProgramIsNamed) {
  const auto dir = tmp_.path() / "adir";
  stdfs::create_directory(dir);
  const auto r = exec({}, {dir.string()});
  EXPECT_EQ(r.status, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr(dir.string() + " is a directory, not a program"));
}

TEST_F(CliBadInput, MissingWorkingDirectoryIsNamedNotTheProgram) {
  const auto cwd = tmp_.path() / "no-such-dir";
  const auto r = exec({"--cwd", cwd.string()}, touch_marker());
  EXPECT_EQ(r.status, 127) << r.err;  // ENOENT, as the exit code table says
  EXPECT_THAT(r.err, HasSubstr("working directory " + cwd.string() + " does not exist"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("/usr/bin/touch")));
  EXPECT_FALSE(stdfs::exists(marker_));
}

TEST_F(CliBadInput, LongWorkingDirectoryIsShownCutWithItsLength) {
  const std::string cwd = tmp_.path().string() + "/" + std::string(100'000, 'd');
  const auto r = exec({"--cwd", cwd}, touch_marker());
  EXPECT_NE(r.status, 0) << r.err.substr(0, 500);
  EXPECT_THAT(r.err, HasSubstr("working directory " + cwd.substr(0, 128) + "… (" + std::to_string(cwd.size()) +
                               " bytes) …" + cwd.substr(cwd.size() - 128)));
  EXPECT_LT(r.err.size(), 2000u) << "the 100 KB path is not echoed whole";
  EXPECT_FALSE(stdfs::exists(marker_));
}

// Program names, '#!' interpreters and --env names are shown as the working
// directory is: cut with their length, control bytes as \xNN.
TEST_F(CliBadInput, LongProgramNameIsShownCutWithItsLength) {
  const std::string name(100'000, 'p');
  const auto r = exec({}, {name});
  EXPECT_NE(r.status, 0) << r.err.substr(0, 500);
  EXPECT_THAT(r.err, HasSubstr("program '" + name.substr(0, 256) + "… (100000 bytes)' not found in PATH"));
  EXPECT_LT(r.err.size(), 2000u) << "the 100 KB name is not echoed whole";
}

TEST_F(CliBadInput, ControlBytesInProgramAndInterpreterAreEscaped) {
  const auto script = tmp_.path() / "a\x1b[31mb";
  write_file(script, "#!/nonexistent/\x1b]0;title\x07 -x\n", stdfs::perms::owner_all);
  const auto r = exec({}, {script.string()});
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.err, HasSubstr(tmp_.path().string() + "/a\\x1b[31mb: its interpreter /nonexistent/\\x1b]0;title\\x07 "
                                                      "(named on its '#!' line) does not exist"));
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;

  // Missing, in a missing directory: the resolver's message, shown the same way.
  const auto missing = tmp_.path() / "no\x1b" / "x";
  const auto m = exec({}, {missing.string()});
  EXPECT_NE(m.status, 0);
  EXPECT_THAT(m.err, HasSubstr(tmp_.path().string() + "/no\\x1b: No such file or directory"));
  EXPECT_EQ(m.err.find('\x1b'), std::string::npos) << m.err;
}

TEST_F(CliBadInput, ControlBytesInEnvNamesAreEscaped) {
  const auto bad = exec({"--env", "A\x1b[2J"}, touch_marker());
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("--env 'A\\x1b[2J': expected KEY=VALUE"));
  const auto dropped = exec({"--env", "LD_\x1b=1"}, touch_marker());
  EXPECT_THAT(dropped.err, HasSubstr("--env LD_\\x1b is not passed on"));
  EXPECT_EQ(bad.err.find('\x1b'), std::string::npos) << bad.err;
  EXPECT_EQ(dropped.err.find('\x1b'), std::string::npos) << dropped.err;
}

}  // namespace
