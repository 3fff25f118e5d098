// airssys::testing against real things: directories on disk, real child
// processes (sh, sleep, cat), their exit statuses and output.

#include <airssys/testing/child.hpp>
#include <airssys/testing/eventually.hpp>
#include <airssys/testing/run.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <string>
#include <thread>

namespace at = airssys::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

TEST(TempDir, IsPrivateCanonicalAndRemovedWithItsContents) {
  fs::path where;
  {
    at::TempDir d("testing-support");
    where = d.path();
    struct stat st {};
    ASSERT_EQ(::lstat(d.path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_EQ(fs::canonical(d.path()), d.path());
    EXPECT_NE(d.path().filename().string().find("testing-support-"), std::string::npos);
    fs::create_directories(d / "a" / "b");
    std::ofstream(d / "a" / "b" / "f") << "x";
    EXPECT_EQ(d.str(), d.path().string());
  }
  EXPECT_FALSE(fs::exists(where));
}

TEST(Eventually, SeesWhatAnotherThreadDoes) {
  std::atomic<bool> flag{false};
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    flag = true;
  });
  EXPECT_TRUE(at::eventually([&] { return flag.load(); }));
  t.join();
}

TEST(Eventually, GivesUpWhenItNeverHolds) {
  int calls = 0;
  EXPECT_FALSE(at::eventually([&] { return ++calls < 0; }, 50ms));
  EXPECT_GE(calls, 2);
}

TEST(Run, CapturesStdoutStderrAndExitCode) {
  auto r = at::run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(Run, PassesEnvCwdAndInputAndSearchesPath) {
  at::TempDir d;
  auto r = at::run({"sh", "-c", "pwd; echo \"$AIRSSYS_T\"; cat"},
                   {.env = {"AIRSSYS_T=hello"}, .cwd = d.path(), .input = "from stdin"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, d.str() + "\nhello\nfrom stdin");
}

TEST(Run, ReportsASignalAsAShellWould) {
  EXPECT_EQ(at::run({"/bin/sh", "-c", "kill -TERM $$"}).status, 128 + SIGTERM);
}

TEST(Run, AProgramThatCannotBeFoundExits127) {
  auto r = at::run({"/nonexistent/airssys-no-such-program"});
  EXPECT_EQ(r.status, 127);
}

TEST(Run, AnOverrunIsKilledAndReportedAsMinusOne) {
  auto r = at::run({"/bin/sh", "-c", "echo started; exec sleep 30"}, {.timeout = 200ms});
  EXPECT_EQ(r.status, -1);
  EXPECT_EQ(r.out, "started\n");
}

TEST(Run, ABackgroundProcessHoldingStdoutDoesNotBlockIt) {
  auto r = at::run({"/bin/sh", "-c", "sleep 30 & echo $!"});
  ASSERT_EQ(r.status, 0);
  const pid_t bg = std::stoi(r.out);
  EXPECT_TRUE(alive(bg));
  ::kill(bg, SIGKILL);  // ours (our child's child): started by this test
}

TEST(Child, IsKilledAndReapedWhenItGoesOutOfScope) {
  pid_t pid = -1;
  {
    at::Child c({"/bin/sleep", "30"});
    pid = c.pid();
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(c.exited());
  }
  EXPECT_FALSE(alive(pid));  // reaped, not a zombie
}

TEST(Child, WaitReturnsTheStatusAndWritesOutputToFiles) {
  at::TempDir d;
  at::Child c({"/bin/sh", "-c", "echo hi; echo oops >&2; exit 5"},
              {.stdout_path = d / "out", .stderr_path = d / "err"});
  EXPECT_EQ(c.wait(), 5);
  EXPECT_EQ(c.wait(), 5);
  std::ifstream out(d / "out"), err(d / "err");
  std::string o, e;
  std::getline(out, o);
  std::getline(err, e);
  EXPECT_EQ(o, "hi");
  EXPECT_EQ(e, "oops");
  struct stat st {};
  ASSERT_EQ(::stat((d / "out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Child, WaitTimesOutOnARunningChildAndSignalEndsIt) {
  at::Child c({"/bin/sleep", "30"});
  EXPECT_EQ(c.wait(50ms), std::nullopt);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 128 + SIGTERM);
}

TEST(Child, AdoptsAForkedChild) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  { auto c = at::Child::adopt(pid); }
  EXPECT_FALSE(alive(pid));
}

}  // namespace
