// osl::proc::Reader against real processes: children this test starts with
// a known argv, cwd and name, read while they run, then after they exited.

#include <airssys/osl/proc.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace airssys::osl::proc {
namespace {

namespace fs = std::filesystem;

using airssys::testing::TempDir;

// A child this test owns: SIGKILLed and reaped when the test ends early.
struct Child {
  pid_t pid = -1;
  int stdin_fd = -1;  // the write end of the child's stdin, or -1
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (stdin_fd >= 0) ::close(stdin_fd);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  // Kills it and leaves a zombie (not reaped).
  void kill_no_reap() {
    ::kill(pid, SIGKILL);
    siginfo_t info{};
    ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
  }
  void reap() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// execv(argv) in `cwd` with stdin a pipe we hold open (so `sh -c 'read x'`
// waits). Returns once the exec happened: a CLOEXEC pipe reaches EOF then.
void spawn(Child& c, const std::vector<std::string>& argv, const fs::path& cwd) {
  int in[2], sync[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(sync, O_CLOEXEC), 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  c.pid = ::fork();
  ASSERT_GE(c.pid, 0);
  if (c.pid == 0) {
    ::dup2(in[0], 0);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    const char e = 1;
    (void)!::write(sync[1], &e, 1);
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(sync[1]);
  c.stdin_fd = in[1];
  char e = 0;
  const ssize_t n = ::read(sync[0], &e, 1);
  ::close(sync[0]);
  ASSERT_EQ(n, 0) << "exec of " << argv[0] << " failed";
}

using airssys::testing::read_file;

Reader reader(ReaderOptions o = {}) {
  auto r = Reader::open(std::move(o));
  EXPECT_TRUE(r) << r.error().to_string();
  return std::move(*r);
}

TEST(ProcReader, ListsPidsAscendingIncludingOurs) {
  Reader r = reader();
  std::vector<pid_t> pids;
  ASSERT_TRUE(r.list_pids(pids));
  ASSERT_FALSE(pids.empty());
  EXPECT_TRUE(std::is_sorted(pids.begin(), pids.end()));
  EXPECT_NE(std::find(pids.begin(), pids.end(), ::getpid()), pids.end());
  EXPECT_TRUE(std::all_of(pids.begin(), pids.end(), [](pid_t p) { return p > 0; }));
  // A second listing reuses the fd (rewound) and sees the same set again.
  std::vector<pid_t> again;
  ASSERT_TRUE(r.list_pids(again));
  EXPECT_NE(std::find(again.begin(), again.end(), ::getpid()), again.end());
}

TEST(ProcReader, ReadsAnExecedChild) {
  TempDir dir;
  Child c;
  const std::vector<std::string> argv{"/bin/sh", "-c", "read x", "arg with spaces", "--password", "s3cret", ""};
  spawn(c, argv, dir.path());
  Reader r = reader();
  auto p = r.open_process(c.pid);
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->pid(), c.pid);

  auto st = r.stat(*p);
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->pid, c.pid);
  EXPECT_EQ(st->comm, "sh");
  EXPECT_EQ(st->ppid, ::getpid());
  EXPECT_EQ(st->pgrp, ::getpgrp());
  EXPECT_EQ(st->session, ::getsid(0));
  EXPECT_EQ(st->num_threads, 1);
  EXPECT_GT(st->starttime, 0u);
  EXPECT_GT(st->vsize, 0u);
  EXPECT_GE(st->rss, 0);  // may still read 0 just after exec (per-CPU RSS counters are folded in lazily)
  EXPECT_FALSE(st->kernel_thread());
  auto self = read_stat(::getpid());
  ASSERT_TRUE(self);
  EXPECT_EQ(st->tty_nr, self->tty_nr);
  EXPECT_GE(st->starttime, self->starttime);

  auto status = r.status(*p);
  ASSERT_TRUE(status) << status.error().to_string();
  EXPECT_EQ(status->uid.real, ::getuid());
  EXPECT_EQ(status->uid.effective, ::geteuid());
  EXPECT_EQ(status->gid.real, ::getgid());
  EXPECT_EQ(status->threads, 1);

  auto cmd = r.cmdline(*p);
  ASSERT_TRUE(cmd) << cmd.error().to_string();
  EXPECT_FALSE(cmd->truncated);
  const auto args = split_args(cmd->args);
  EXPECT_EQ(std::vector<std::string>(args.begin(), args.end()), argv);

  auto cwd = r.link(*p, LinkKind::cwd);
  ASSERT_TRUE(cwd) << cwd.error().to_string();
  EXPECT_EQ(cwd->path, fs::canonical(dir.path()).string());
  EXPECT_FALSE(cwd->deleted);
  auto root = r.link(*p, LinkKind::root);
  ASSERT_TRUE(root);
  EXPECT_EQ(root->path, "/");
  auto exe = r.link(*p, LinkKind::exe);
  ASSERT_TRUE(exe) << exe.error().to_string();
  EXPECT_EQ(exe->path, fs::canonical("/bin/sh").string());
  EXPECT_FALSE(exe->deleted);

  struct ::stat want{};
  ASSERT_EQ(::stat("/bin/sh", &want), 0);
  auto es = r.exe_stat(*p);
  ASSERT_TRUE(es) << es.error().to_string();
  EXPECT_EQ(es->st_dev, want.st_dev);
  EXPECT_EQ(es->st_ino, want.st_ino);
  EXPECT_EQ(es->st_size, want.st_size);
  auto in_root = r.stat_in_root(*p, exe->path);
  ASSERT_TRUE(in_root) << in_root.error().to_string();
  EXPECT_EQ(in_root->st_ino, want.st_ino);
  auto slash = r.stat_in_root(*p, "/");
  ASSERT_TRUE(slash);
  EXPECT_TRUE(S_ISDIR(slash->st_mode));
  auto none = r.stat_in_root(*p, "/nonexistent/file");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().category, ErrorCategory::not_found);
  EXPECT_EQ(r.stat_in_root(*p, "relative").error().category, ErrorCategory::invalid_argument);
  auto fd = r.open_exe(*p);
  ASSERT_TRUE(fd) << fd.error().to_string();
  struct ::stat opened{};
  ASSERT_EQ(::fstat(fd->get(), &opened), 0);
  EXPECT_EQ(opened.st_ino, want.st_ino);
  EXPECT_NE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, 0);

  auto cg = r.cgroup(*p);
  ASSERT_TRUE(cg) << cg.error().to_string();
  EXPECT_EQ(*cg, parse_cgroup_path(read_file("/proc/self/cgroup")));

  auto luid = r.loginuid(*p);
  if (fs::exists("/proc/self/loginuid")) {
    ASSERT_TRUE(luid) << luid.error().to_string();
    EXPECT_EQ(std::to_string(*luid), read_file("/proc/self/loginuid"));
  }
  // Our own child: io is readable as any user.
  auto io = r.io(*p);
  ASSERT_TRUE(io) << io.error().to_string();
}

TEST(ProcReader, CommWithSpacesAndParentheses) {
  int sync[2];
  ASSERT_EQ(::pipe2(sync, O_CLOEXEC), 0);
  Child c;
  c.pid = ::fork();
  ASSERT_GE(c.pid, 0);
  if (c.pid == 0) {
    ::prctl(PR_SET_NAME, "x) S 1 (y) z");
    const char b = 1;
    (void)!::write(sync[1], &b, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(sync[1]);
  char b = 0;
  ASSERT_EQ(::read(sync[0], &b, 1), 1);
  ::close(sync[0]);
  Reader r = reader();
  auto p = r.open_process(c.pid);
  ASSERT_TRUE(p);
  auto st = r.stat(*p);
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->comm, "x) S 1 (y) z");
  EXPECT_EQ(st->ppid, ::getpid());
  EXPECT_EQ(st->pid, c.pid);
}

TEST(ProcReader, DeletedExecutableIsReportedAndStripped) {
  TempDir dir;
  const fs::path copy = dir.path() / "my sleep";
  fs::copy_file("/bin/sleep", copy);
  fs::permissions(copy, fs::perms::owner_all);
  Child c;
  spawn(c, {copy.string(), "1000"}, dir.path());
  Reader r = reader();
  auto p = r.open_process(c.pid);
  ASSERT_TRUE(p);
  auto before = r.link(*p, LinkKind::exe);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->path, fs::canonical(copy).string());
  EXPECT_FALSE(before->deleted);
  const std::string canonical = fs::canonical(copy).string();
  fs::remove(copy);
  auto after = r.link(*p, LinkKind::exe);
  ASSERT_TRUE(after) << after.error().to_string();
  EXPECT_EQ(after->path, canonical);
  EXPECT_TRUE(after->deleted);
  // The image itself is still reachable through the link.
  auto es = r.exe_stat(*p);
  ASSERT_TRUE(es);
  EXPECT_EQ(es->st_nlink, 0u);
}

// stat_in_root follows no symlink: a planted one at the end is stat'ed
// itself, one in a directory component is refused (ELOOP), so neither can
// make a path look like a file it does not name.
TEST(ProcReader, StatInRootFollowsNoSymlink) {
  TempDir dir;
  const fs::path real = fs::canonical(dir.path());
  fs::create_directory(real / "d");
  { std::ofstream(real / "d" / "file") << "x"; }
  fs::create_symlink(real / "d" / "file", real / "link");
  fs::create_directory_symlink(real / "d", real / "dlink");
  struct ::stat file{};
  ASSERT_EQ(::stat((real / "d" / "file").c_str(), &file), 0);
  Reader r = reader();
  auto p = r.open_process(::getpid());
  ASSERT_TRUE(p);

  auto direct = r.stat_in_root(*p, (real / "d" / "file").string());
  ASSERT_TRUE(direct) << direct.error().to_string();
  EXPECT_EQ(direct->st_ino, file.st_ino);
  auto at_end = r.stat_in_root(*p, (real / "link").string());
  ASSERT_TRUE(at_end) << at_end.error().to_string();
  EXPECT_TRUE(S_ISLNK(at_end->st_mode));
  EXPECT_NE(at_end->st_ino, file.st_ino);
  auto in_dir = r.stat_in_root(*p, (real / "dlink" / "file").string());
  ASSERT_FALSE(in_dir);
  EXPECT_EQ(in_dir.error().errno_value, ELOOP);
}

TEST(ProcReader, ExitedProcessIsNotFound) {
  TempDir dir;
  Child c;
  spawn(c, {"/bin/sh", "-c", "read x"}, dir.path());
  Reader r = reader();
  auto p = r.open_process(c.pid);
  ASSERT_TRUE(p);
  ASSERT_TRUE(r.stat(*p));

  c.kill_no_reap();
  auto z = r.stat(*p);
  ASSERT_TRUE(z) << z.error().to_string();
  EXPECT_TRUE(z->zombie());
  auto zexe = r.link(*p, LinkKind::exe);
  ASSERT_FALSE(zexe);
  EXPECT_EQ(zexe.error().category, ErrorCategory::not_found);
  auto zcmd = r.cmdline(*p);
  ASSERT_TRUE(zcmd);
  EXPECT_TRUE(zcmd->args.empty());

  const pid_t pid = c.pid;
  c.reap();
  auto gone = [](const auto& res, const char* what) {
    ASSERT_FALSE(res) << what;
    EXPECT_EQ(res.error().category, ErrorCategory::not_found) << what << ": " << res.error().to_string();
  };
  gone(r.stat(*p), "stat");
  gone(r.status(*p), "status");
  gone(r.io(*p), "io");
  gone(r.cmdline(*p), "cmdline");
  gone(r.cgroup(*p), "cgroup");
  gone(r.link(*p, LinkKind::cwd), "cwd");
  gone(r.exe_stat(*p), "exe_stat");
  gone(r.open_exe(*p), "open_exe");
  auto again = r.open_process(pid);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().category, ErrorCategory::not_found);
  EXPECT_EQ(again.error().message, "no process with pid " + std::to_string(pid));
  auto one_shot = read_stat(pid);
  ASSERT_FALSE(one_shot);
  EXPECT_EQ(one_shot.error().category, ErrorCategory::not_found);
}

TEST(ProcReader, LongCmdlineIsTruncatedAtTheLimit) {
  TempDir dir;
  Child c;
  spawn(c, {"/bin/sh", "-c", "read x", std::string(5000, 'a')}, dir.path());
  Reader small = reader(ReaderOptions{.cmdline_max = 10});
  auto p = small.open_process(c.pid);
  ASSERT_TRUE(p);
  auto cmd = small.cmdline(*p);
  ASSERT_TRUE(cmd);
  EXPECT_TRUE(cmd->truncated);
  EXPECT_EQ(cmd->args, std::string("/bin/sh\0-c", 10));
  Reader big = reader();
  auto full = big.cmdline(*p);
  ASSERT_TRUE(full);
  EXPECT_FALSE(full->truncated);
  EXPECT_EQ(full->args.size(), 8u + 3 + 7 + 5001);
}

TEST(ProcReader, KernelThreadsHaveNoExeAndNoCmdline) {
  Reader r = reader();
  std::vector<pid_t> pids;
  ASSERT_TRUE(r.list_pids(pids));
  for (pid_t pid : pids) {
    auto p = r.open_process(pid);
    if (!p) continue;
    auto st = r.stat(*p);
    if (!st || !st->kernel_thread()) continue;
    auto exe = r.link(*p, LinkKind::exe);
    ASSERT_FALSE(exe);
    EXPECT_EQ(exe.error().category, ErrorCategory::not_found);
    auto cmd = r.cmdline(*p);
    ASSERT_TRUE(cmd);
    EXPECT_TRUE(cmd->args.empty());
    return;
  }
  GTEST_SKIP() << "no kernel thread visible in this pid namespace";
}

TEST(ProcReader, BootTimeMatchesUptime) {
  Reader r = reader();
  auto bt = r.boot_time();
  ASSERT_TRUE(bt) << bt.error().to_string();
  double uptime = 0;
  std::istringstream(read_file("/proc/uptime")) >> uptime;
  const auto now = static_cast<double>(std::time(nullptr));
  // btime is rounded to whole seconds and may drift by NTP adjustments.
  EXPECT_NEAR(static_cast<double>(*bt) + uptime, now, 5.0);
}

TEST(ProcReader, OthersIoIsAPermissionErrorWhenNotPrivileged) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to another uid";
  TempDir dir;
  Child target;
  spawn(target, {"/bin/sh", "-c", "read x"}, dir.path());
  // A child that becomes nobody and reads root's process.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(10);
    auto r = Reader::open();
    if (!r) ::_exit(11);
    auto p = r->open_process(target.pid);
    if (!p) ::_exit(12);
    if (!r->stat(*p)) ::_exit(13);  // stat is world-readable
    auto io = r->io(*p);
    if (io || io.error().category != ErrorCategory::permission) ::_exit(14);
    auto exe = r->link(*p, LinkKind::exe);
    if (exe || exe.error().category != ErrorCategory::permission) ::_exit(15);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ProcReader, BadInput) {
  auto missing = Reader::open(ReaderOptions{.proc_root = "/nonexistent-proc"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().category, ErrorCategory::not_found);
  Reader r = reader();
  auto neg = r.open_process(-1);
  ASSERT_FALSE(neg);
  EXPECT_EQ(neg.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(read_stat(0).error().category, ErrorCategory::invalid_argument);
}

}  // namespace
}  // namespace airssys::osl::proc
