// Reading cgroup.procs (cgroup::pids, detail::cgroup_pids) and the
// every-directory-first rule of detail::cgroup_signal_all, on plain files in
// a temp dir standing in for cgroup directories: what is read is the file,
// so no root or cgroup hierarchy is needed. cgroup_test.cpp drives real
// cgroups.
#include "platform/linux_cgroup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include <gtest/gtest.h>

#include <airssys/testing/temp_dir.hpp>

namespace airssys::osl {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

TEST(CgroupPids, ZeroIsSkippedAndANonNumberEndsTheList) {
  const airssys::testing::TempDir tmp("osl-cgroup-pids");
  // cgroup.procs lists a process outside the reader's pid namespace as 0.
  write(tmp / "cgroup.procs", "12\n0\n34\n0\n56\nxyz\n78\n");
  EXPECT_EQ(cgroup::pids(tmp.path()), (std::vector<pid_t>{12, 34, 56}));
  write(tmp / "cgroup.procs", "");
  EXPECT_TRUE(cgroup::pids(tmp.path()).empty());
}

TEST(CgroupPids, AGoneDirectoryHoldsNothingButANonCgroupIsAnError) {
  const airssys::testing::TempDir tmp("osl-cgroup-pids");
  const auto gone = detail::cgroup_pids(tmp / "gone");
  ASSERT_TRUE(gone) << gone.error().to_string();
  EXPECT_TRUE(gone->empty());
  const auto plain = detail::cgroup_pids(tmp.path());  // no cgroup.procs
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message.find("cgroup.procs"), std::string::npos) << plain.error().to_string();
  EXPECT_TRUE(cgroup::pids(tmp.path()).empty());
}

// A cgroup directory may come from a registry record: a FIFO planted at its
// cgroup.procs must not hang the reader (it did: open() waited for a writer).
TEST(CgroupPids, AFifoIsRefusedWithoutWaitingForAWriter) {
  const airssys::testing::TempDir tmp("osl-cgroup-pids");
  ASSERT_EQ(::mkfifo((tmp / "cgroup.procs").c_str(), 0600), 0);
  EXPECT_TRUE(cgroup::pids(tmp.path()).empty());
  const auto r = detail::cgroup_pids(tmp.path());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos) << r.error().to_string();
}

// Review of 0082308: a cgroup directory (from a caller or a registry record)
// was echoed raw in these messages, an ESC in its name reaching the terminal.
// Now shown as osl shows paths: escaped, unquoted.
TEST(CgroupPids, ADirectoryNameInErrorsIsEscaped) {
  const airssys::testing::TempDir tmp("osl-cgroup-pids");
  const fs::path dir = tmp / "c\x1b[31m";
  const std::string shown = (tmp / "c\\x1b[31m").string();
  fs::create_directories(dir / "sub");
  ASSERT_EQ(::mkfifo((dir / "cgroup.procs").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo((dir / "cgroup.kill").c_str(), 0600), 0);
  const auto read = detail::cgroup_pids(dir);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message, "cannot read " + shown + "/cgroup.procs: not a regular file");
  const auto kill = detail::cgroup_kill_all(dir);
  ASSERT_FALSE(kill);
  EXPECT_EQ(kill.error().message, "cannot open " + shown + "/cgroup.kill: No such device or address");
  const auto rm = detail::cgroup_rmdir(dir);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().message, "cannot remove " + shown + ": Directory not empty");
}

// The same for a control file written: a FIFO with no reader at cgroup.kill
// fails the kill instead of hanging it.
TEST(CgroupKillAll, AFifoAtCgroupKillFailsWithoutWaitingForAReader) {
  const airssys::testing::TempDir tmp("osl-cgroup-pids");
  ASSERT_EQ(::mkfifo((tmp / "cgroup.kill").c_str(), 0600), 0);
  const auto r = detail::cgroup_kill_all(tmp.path());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cgroup.kill"), std::string::npos) << r.error().to_string();
}

// Without cgroup.kill or a freezer the kill falls back to SIGKILL per
// listed member; a cgroup.procs that cannot be read (here a planted FIFO,
// then none at all) fails the kill instead of reporting nobody to kill.
TEST(CgroupKillAll, AnUnreadableListFailsTheSignalFallback) {
  const airssys::testing::TempDir tmp("osl-cgroup-pids");
  ASSERT_EQ(::mkfifo((tmp / "cgroup.procs").c_str(), 0600), 0);
  const auto fifo = detail::cgroup_kill_all(tmp.path());
  ASSERT_FALSE(fifo) << "method " << fifo->method << ", signalled " << fifo->signalled;
  EXPECT_NE(fifo.error().message.find("not a regular file"), std::string::npos) << fifo.error().to_string();
  fs::remove(tmp / "cgroup.procs");
  const auto none = detail::cgroup_kill_all(tmp.path());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("cgroup.procs"), std::string::npos) << none.error().to_string();
  const auto gone = detail::cgroup_kill_all(tmp / "gone");
  ASSERT_TRUE(gone) << gone.error().to_string();
  EXPECT_EQ(gone->signalled, 0u);
}

// A child with SIGTERM blocked that, once told, exits 1 if SIGTERM is
// pending: whether it was signalled is then known without any waiting.
class BlockedChild {
 public:
  BlockedChild() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &term, &old);
    pid = ::fork();
    if (pid == 0) {
      ::close(fds[1]);
      char c = 0;
      while (::read(fds[0], &c, 1) < 0 && errno == EINTR) {
      }
      sigset_t pending;
      sigpending(&pending);
      ::_exit(sigismember(&pending, SIGTERM) == 1 ? 1 : 0);
    }
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::close(fds[0]);
    go_ = fds[1];
  }
  ~BlockedChild() {
    if (pid > 0 && go_ >= 0) (void)signalled();
  }
  BlockedChild(const BlockedChild&) = delete;
  BlockedChild& operator=(const BlockedChild&) = delete;

  // Tells it to look, and reaps it: whether SIGTERM reached it.
  bool signalled() {
    ::close(go_);  // EOF ends its read
    go_ = -1;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 1;
  }

  pid_t pid = -1;

 private:
  int go_ = -1;
};

TEST(CgroupSignalAll, SignalsEachListedProcess) {
  const airssys::testing::TempDir tmp("osl-cgroup-pids");
  BlockedChild child;
  ASSERT_GT(child.pid, 0);
  fs::create_directory(tmp / "a");
  write(tmp / "a" / "cgroup.procs", std::to_string(child.pid) + "\n0\n");
  auto r = detail::cgroup_signal_all({tmp / "a", tmp / "gone"}, SIGTERM);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->signalled, 1u);
  EXPECT_TRUE(child.signalled());
}

// Every directory is read before anyone is signalled: one whose cgroup.procs
// cannot be read (here: not a cgroup) fails the call with nobody signalled,
// so a caller may fall back to signalling by pid. It used to count as empty.
TEST(CgroupSignalAll, AnUnreadableDirectoryFailsTheCallAndSignalsNobody) {
  const airssys::testing::TempDir tmp("osl-cgroup-pids");
  BlockedChild child;
  ASSERT_GT(child.pid, 0);
  fs::create_directory(tmp / "a");
  write(tmp / "a" / "cgroup.procs", std::to_string(child.pid) + "\n");
  fs::create_directory(tmp / "not-a-cgroup");
  auto r = detail::cgroup_signal_all({tmp / "a", tmp / "not-a-cgroup"}, SIGTERM);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not-a-cgroup"), std::string::npos) << r.error().to_string();
  EXPECT_FALSE(child.signalled());
}

}  // namespace
}  // namespace airssys::osl
