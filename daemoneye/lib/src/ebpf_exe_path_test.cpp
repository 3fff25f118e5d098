// What the eBPF exec program reads of the new image at the exec, against the
// real kernel (root): the kernel's path of its file, walked from its dentry
// and mount as d_path does, and whether the task's root directory is ours.
// Each child exits at once: there is no /proc left to read afterwards, so
// what the event says was read at the exec.
//
// The children are forked from this multithreaded test and make only raw
// system calls before they exec.

#include <airssys/daemoneye/kernel_events.hpp>

#include "mount_table.hpp"
#include "test_temp_dir.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

char* const kArgv[] = {const_cast<char*>("exe-path-test"), nullptr};

// execveat(fd, "", AT_EMPTY_PATH): how airssys-osl runs every program, and
// fexecve; the exec is given "/dev/fd/N".
[[noreturn]] void exec_fd(int fd) {
  ::syscall(SYS_execveat, fd, "", kArgv, environ, AT_EMPTY_PATH);
  ::_exit(127);
}

// The exec event of a child that runs `child` and exits; nullopt when none
// came within 10 s.
template <class Child>
std::optional<KernelEvent> exec_event_of(KernelEventSource& source, Child child) {
  const pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    child();
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "child " << pid << " status " << status << " (exit " << WEXITSTATUS(status) << ")";
  std::optional<KernelEvent> exec;
  bool exited = false;
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (!exited && Clock::now() < until) {
    pollfd p{source.fd(), POLLIN, 0};
    ::poll(&p, 1, 100);
    auto n = source.drain([&](KernelEvent&& k) {
      if (k.pid != pid) return;
      if (k.kind == KernelEvent::Kind::exec) exec = std::move(k);
      if (k.kind == KernelEvent::Kind::exit) exited = true;
    });
    EXPECT_TRUE(n) << n.error();
  }
  return exec;
}

class EbpfExePath : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "eBPF needs root";
    auto s = open_ebpf_source({});
    ASSERT_TRUE(s) << s.error();
    source = std::move(*s);
    fs::copy_file("/usr/bin/true", payload);
    fs::permissions(payload, fs::perms::owner_all);
  }

  testing::TempDir dir;
  fs::path payload = fs::canonical(dir.path()) / "payload";
  std::unique_ptr<KernelEventSource> source;
};

TEST_F(EbpfExePath, ADescriptorRunIsTheFileItsDescriptorNamesAndTheRootIsOurs) {
  for (const fs::path& file : {fs::path("/usr/bin/true"), payload}) {
    const int fd = ::open(file.c_str(), O_PATH | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const auto e = exec_event_of(*source, [&] { exec_fd(fd); });
    ::close(fd);
    ASSERT_TRUE(e) << file;
    EXPECT_TRUE(e->path.starts_with("/dev/fd/")) << e->path;
    EXPECT_EQ(e->exe_path, fs::canonical(file).string());
    EXPECT_FALSE(e->exe_deleted);
    EXPECT_FALSE(e->exe_detached);
    EXPECT_FALSE(e->exe_interpreted);
    EXPECT_EQ(e->root_is_host, 1);
  }
}

TEST_F(EbpfExePath, ASymbolicLinkIsTheFileItNames) {
  const fs::path link = dir.path() / "link";
  fs::create_symlink(payload, link);
  const auto e = exec_event_of(*source, [&] { ::execve(link.c_str(), kArgv, environ); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, link.string());
  EXPECT_EQ(e->exe_path, payload.string());
}

TEST_F(EbpfExePath, AnUnlinkedFileAndAMemfdAreDeletedWithoutTheSuffix) {
  const int fd = ::open(payload.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  fs::remove(payload);
  auto e = exec_event_of(*source, [&] { exec_fd(fd); });
  ::close(fd);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exe_path, payload.string());
  EXPECT_TRUE(e->exe_deleted);

  const int mfd = ::memfd_create("exe-path-test", MFD_CLOEXEC);
  ASSERT_GE(mfd, 0);
  const std::string image = testing::read_file("/usr/bin/true");
  ASSERT_EQ(::write(mfd, image.data(), image.size()), static_cast<ssize_t>(image.size()));
  e = exec_event_of(*source, [&] { exec_fd(mfd); });
  ::close(mfd);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exe_path, "/memfd:exe-path-test");
  EXPECT_TRUE(e->exe_deleted);
  EXPECT_FALSE(e->exe_detached);
}

TEST_F(EbpfExePath, AScriptSaysItsInterpreterRan) {
  const fs::path script = dir.path() / "script";
  testing::write_file(script, "#!/bin/sh\nexit 0\n");
  fs::permissions(script, fs::perms::owner_all);
  const auto e = exec_event_of(*source, [&] { ::execve(script.c_str(), kArgv, environ); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, script.string());
  EXPECT_TRUE(e->exe_interpreted);
  EXPECT_EQ(e->exe_path, fs::canonical("/bin/sh").string());
}

// A relative path given to execve is resolved against the working
// directory at the exec: the program reads that too, so a child that
// chdir()s and execs "./payload" at once is not judged by the directory
// procmond knew before (its parent's). One on a mount attached nowhere
// names no place: unknown.
TEST_F(EbpfExePath, TheWorkingDirectoryIsReadAtTheExec) {
  const fs::path sub = fs::canonical(dir.path()) / "sub";
  fs::create_directory(sub);
  fs::copy_file(payload, sub / "payload");
  auto e = exec_event_of(*source, [&] {
    if (::chdir(sub.c_str()) != 0) ::_exit(120);
    ::execve("./payload", kArgv, environ);
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, "./payload");
  EXPECT_EQ(e->exe_path, (sub / "payload").string());
  EXPECT_EQ(e->cwd, sub.string());
  e = exec_event_of(*source, [&] {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(120);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(121);
    if (::mount(dir.path().c_str(), sub.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(122);
    if (::chdir(sub.c_str()) != 0 || ::umount2(sub.c_str(), MNT_DETACH) != 0) ::_exit(123);
    ::execve("./payload", kArgv, environ);
  });
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->exe_detached);
  EXPECT_EQ(e->cwd, "");
}

// A file on a mount attached nowhere has no place: runc 1.1's re-exec runs
// a bind mount of itself that it lazily unmounted (the kernel's path "/"),
// and anyone can do the same to a payload in mount namespaces of their own.
TEST_F(EbpfExePath, AFileOnALazilyUnmountedMountIsDetached) {
  const fs::path over = dir.path() / "over", sub = dir.path() / "sub";
  testing::write_file(over, "");
  fs::create_directory(sub);
  for (const bool whole_file : {true, false}) {
    const auto e = exec_event_of(*source, [&] {
      if (::unshare(CLONE_NEWNS) != 0) ::_exit(120);
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(121);
      const fs::path& at = whole_file ? over : sub;
      const fs::path& what = whole_file ? payload : dir.path();
      if (::mount(what.c_str(), at.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(122);
      const std::string file = whole_file ? over.string() : (sub / "payload").string();
      const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::umount2(at.c_str(), MNT_DETACH) != 0) ::_exit(123);
      exec_fd(fd);
    });
    ASSERT_TRUE(e) << whole_file;
    EXPECT_EQ(e->exe_path, whole_file ? "/" : "/payload");
    EXPECT_TRUE(e->exe_detached);
    EXPECT_EQ(e->root_is_host, 1);
  }
  // Still mounted (in the child's own namespace): a place, the host's view.
  const auto e = exec_event_of(*source, [&] {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(120);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(121);
    if (::mount(dir.path().c_str(), sub.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(122);
    ::execve((sub / "payload").c_str(), kArgv, environ);
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exe_path, (fs::canonical(sub) / "payload").string());
  EXPECT_FALSE(e->exe_detached);
}

// A chrooted child's root is not ours (0), read at its exec. The chroot is
// a directory of the temp dir with the host's /usr bound into it, in a
// mount namespace of the child's own; the path is the host's view.
TEST_F(EbpfExePath, AChrootedExecHasAnotherRoot) {
  const fs::path root = fs::canonical(dir.path()) / "root";
  fs::create_directories(root / "usr");
  for (const char* d : {"bin", "lib", "lib64"}) {
    const fs::path host = fs::path("/") / d;
    std::error_code ec;
    if (!fs::is_symlink(host, ec)) GTEST_SKIP() << host << " is not merged into /usr here";
    fs::create_symlink(fs::read_symlink(host), root / d);
  }
  const auto e = exec_event_of(*source, [&] {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(120);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(121);
    if (::mount("/usr", (root / "usr").c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) ::_exit(122);
    if (::chroot(root.c_str()) != 0 || ::chdir("/") != 0) ::_exit(123);
    ::execve("/usr/bin/true", kArgv, environ);
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->path, "/usr/bin/true");
  EXPECT_EQ(e->exe_path, (root / fs::canonical("/usr/bin/true").relative_path()).string());
  EXPECT_EQ(e->root_is_host, 0);
}

// Raw system calls only (a forked child of this multithreaded test): into
// user and mount namespaces of its own, as `unshare -Urm` does (root of
// the new user namespace is our uid), mounts private. False on a refusal.
bool enter_user_and_mount_namespaces() {
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return false;
  const auto put = [](const char* file, const char* text) {
    const int fd = ::open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const auto n = static_cast<ssize_t>(std::char_traits<char>::length(text));
    const bool ok = ::write(fd, text, n) == n;
    ::close(fd);
    return ok;
  };
  if (!put("/proc/self/setgroups", "deny") || !put("/proc/self/uid_map", "0 0 1") ||
      !put("/proc/self/gid_map", "0 0 1")) {
    return false;
  }
  return ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
}

// The host's path of an event's image from its device and its path in its
// filesystem, through our mount table (procmond's mapping).
std::optional<std::string> host_path_in_our_table(const KernelEvent& e) {
  const auto mounts = parse_mountinfo(testing::read_file("/proc/self/mountinfo"));
  return host_path_of(mounts, e.image_dev, e.image_fs_path, e.exe_path);
}

// The exec'ing task's mount namespace is read at the exec: ours for a child
// that stays in it, another for one in namespaces of its own, whose own
// path of the image procmond then does not take as the host's.
TEST_F(EbpfExePath, TheExecsMountNamespaceIsReadAtTheExec) {
  const std::uint64_t ours = own_mount_namespace();
  ASSERT_NE(ours, 0u);
  auto e = exec_event_of(*source, [&] { ::execve("/usr/bin/true", kArgv, environ); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->mnt_ns, ours);
  e = exec_event_of(*source, [&] {
    if (!enter_user_and_mount_namespaces()) ::_exit(120);
    ::execve("/usr/bin/true", kArgv, environ);
  });
  ASSERT_TRUE(e);
  EXPECT_NE(e->mnt_ns, 0u);
  EXPECT_NE(e->mnt_ns, ours);
}

// A payload deeper than the walk stores (2,100 directories "a" under the
// temp dir: 4,200 bytes), its directory bound onto sub/ in namespaces of
// the child's own, as an unprivileged user can: the path in its filesystem
// is cut to its top directory, and the host's path names that directory,
// so the temp directory it is in still shows.
TEST_F(EbpfExePath, AnImageDeeperThanTheWalkStoresIsNamedByItsTopDirectory) {
  const fs::path top = fs::canonical(dir.path());
  if (!in_temporary_directory(top.string() + "/")) GTEST_SKIP() << top << " is not in a temporary directory";
  constexpr int kDepth = 2100;
  std::vector<int> fds{::open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  ASSERT_GE(fds.back(), 0);
  for (int i = 0; i < kDepth; ++i) {
    ASSERT_EQ(::mkdirat(fds.back(), "a", 0700), 0) << i;
    fds.push_back(::openat(fds.back(), "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_GE(fds.back(), 0) << i;
  }
  const int image = ::open("/usr/bin/true", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(image, 0);
  const int out = ::openat(fds.back(), "p", O_WRONLY | O_CREAT | O_CLOEXEC, 0700);
  ASSERT_GE(out, 0);
  const auto size = static_cast<std::size_t>(fs::file_size("/usr/bin/true"));
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::sendfile(out, image, nullptr, size - done);
    ASSERT_GT(n, 0);
    done += static_cast<std::size_t>(n);
  }
  ::close(out);
  ::close(image);
  const fs::path sub = top / "sub";
  fs::create_directory(sub);
  const std::string bound = (sub / "p").string();
  const int deepest = fds.back();
  auto e = exec_event_of(*source, [&] {
    // Into the directory first: unshare() moves the working directory to
    // the new namespace's copy of its mount; a descriptor stays on ours,
    // which the new namespace may not bind from.
    if (::fchdir(deepest) != 0) ::_exit(121);
    if (!enter_user_and_mount_namespaces()) ::_exit(120);
    if (::mount(".", sub.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(122);
    ::execve(bound.c_str(), kArgv, environ);
  });
  // Removed from the bottom up through the descriptors: its path is longer
  // than PATH_MAX, which fs::remove_all cannot take.
  ::unlinkat(fds.back(), "p", 0);
  for (std::size_t i = fds.size() - 1; i > 0; --i) {
    ::close(fds[i]);
    EXPECT_EQ(::unlinkat(fds[i - 1], "a", AT_REMOVEDIR), 0) << i;
  }
  ::close(fds[0]);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exe_path, bound);
  EXPECT_TRUE(e->image_known);
  EXPECT_TRUE(e->image_fs_path_cut);
  // The top directory below the filesystem's root: /tmp on a root
  // filesystem, the temp dir's own on a tmpfs mounted at /tmp.
  EXPECT_TRUE(e->image_fs_path.starts_with("/")) << e->image_fs_path;
  EXPECT_EQ(e->image_fs_path.find('/', 1), std::string::npos) << e->image_fs_path;
  MountTable table;
  const auto host = table.image_host_path(*e, own_mount_namespace());
  ASSERT_TRUE(host);
  EXPECT_TRUE(host->ends_with("/\u2026")) << *host;
  EXPECT_TRUE(in_temporary_directory(*host)) << *host;
  EXPECT_TRUE(top.string().starts_with(host->substr(0, host->size() - 4))) << *host << " " << top;
}

// An image's (device, inode) as the event gives them equal stat()'s; on
// btrfs stat()'s device is the subvolume's, not the superblock's the kernel
// records (docs/daemoneye.md), so there only the inode is compared.
void expect_identity(const KernelEvent& e, const char* file) {
  struct stat st{};
  struct statfs sf{};
  ASSERT_EQ(::stat(file, &st), 0) << file;
  ASSERT_EQ(::statfs(file, &sf), 0) << file;
  EXPECT_TRUE(e.image_known);
  EXPECT_EQ(e.image_ino, st.st_ino) << file;
  if (sf.f_type != BTRFS_SUPER_MAGIC) {
    EXPECT_EQ(e.image_dev, st.st_dev) << file;
  }
}

// The image's device and inode as stat() gives them, and its path in its
// filesystem, read at the exec: a bind mount made in namespaces of the
// process's own (a temp dir's directory bound elsewhere) changes the
// kernel's path, not these, so procmond finds the host's path of the file
// from them; a tmpfs mounted where only the process sees it has none.
TEST_F(EbpfExePath, TheImagesDeviceInodeAndPathInItsFilesystemAreReadAtTheExec) {
  const auto identity = [](const fs::path& file) {
    struct stat st{};
    EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
    return std::pair<std::uint64_t, std::uint64_t>{st.st_dev, st.st_ino};
  };
  // Directly: the host's path is the path.
  auto e = exec_event_of(*source, [&] { ::execve("/usr/bin/true", kArgv, environ); });
  ASSERT_TRUE(e);
  expect_identity(*e, "/usr/bin/true");
  EXPECT_TRUE(e->image_fs_path.ends_with("/bin/true")) << e->image_fs_path;
  EXPECT_EQ(host_path_in_our_table(*e), fs::canonical("/usr/bin/true").string());

  // The temp dir bound onto its own sub/ in namespaces of the child's own.
  const fs::path sub = fs::canonical(dir.path()) / "sub";
  fs::create_directory(sub);
  const std::string bound = (sub / "payload").string(), from = fs::canonical(dir.path()).string();
  e = exec_event_of(*source, [&] {
    if (!enter_user_and_mount_namespaces()) ::_exit(120);
    if (::mount(from.c_str(), sub.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(121);
    ::execve(bound.c_str(), kArgv, environ);
  });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exe_path, bound);
  EXPECT_FALSE(e->exe_detached);
  expect_identity(*e, payload.c_str());
  EXPECT_TRUE(e->image_fs_path.ends_with(payload.filename().string())) << e->image_fs_path;
  EXPECT_EQ(host_path_in_our_table(*e), payload.string());

  // A tmpfs the host never sees: an identity, a path in it, no host path.
  const int image = ::open("/usr/bin/true", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(image, 0);
  const auto size = static_cast<std::size_t>(fs::file_size("/usr/bin/true"));
  e = exec_event_of(*source, [&] {
    if (!enter_user_and_mount_namespaces()) ::_exit(120);
    if (::mount("none", sub.c_str(), "tmpfs", 0, nullptr) != 0) ::_exit(121);
    const int out = ::open(bound.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0700);
    if (out < 0) ::_exit(122);
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::sendfile(out, image, nullptr, size - done);
      if (n <= 0) ::_exit(123);
      done += static_cast<std::size_t>(n);
    }
    ::close(out);
    ::execve(bound.c_str(), kArgv, environ);
  });
  ::close(image);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exe_path, bound);
  EXPECT_NE(e->image_ino, 0u);
  EXPECT_NE(e->image_dev, identity(payload).first);
  EXPECT_EQ(e->image_fs_path, "/payload");
  EXPECT_EQ(host_path_in_our_table(*e), std::nullopt);
}

// A kernel that refuses the walk (no bpf_loop before Linux 5.17, or a
// stricter verifier) still gets exec events, with the path given only, and
// the source says why: made here by a program the verifier must reject.
TEST(EbpfExePathRefused, ExecEventsKeepComingWithThePathGivenAndTheSourceSaysWhy) {
  if (::geteuid() != 0) GTEST_SKIP() << "eBPF needs root";
  auto s = open_ebpf_source({.test_reject_exe_walk = true});
  ASSERT_TRUE(s) << s.error();
  auto& source = **s;
  EXPECT_TRUE(source.limits().starts_with("exec events carry only the path given to execve, not the image's path "
                                          "read at the exec: loading the eBPF programs failed"))
      << source.limits();
  EXPECT_NE(source.limits().find("the verifier rejected a program"), std::string::npos) << source.limits();
  const int fd = ::open("/usr/bin/true", O_PATH | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const auto e = exec_event_of(source, [&] { exec_fd(fd); });
  ::close(fd);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->path.starts_with("/dev/fd/")) << e->path;
  EXPECT_EQ(e->exe_path, "");
  EXPECT_EQ(e->cwd, "");
  EXPECT_EQ(e->root_is_host, 1);
  // The image's identity needs no walk; its path in its filesystem does.
  expect_identity(*e, "/usr/bin/true");
  EXPECT_EQ(e->image_fs_path, "");
  // The full programs say nothing.
  auto full = open_ebpf_source({});
  ASSERT_TRUE(full) << full.error();
  EXPECT_EQ((*full)->limits(), "");
}

// The second load's error is its own: the walk refused by the verifier,
// then the load without it refused for another reason (the kernel will not
// make a map). Before, one captured log served both loads, and
// the error repeated the first load's verifier verdict.
TEST(EbpfExePathRefused, ASecondLoadFailureNamesItsOwnCause) {
  if (::geteuid() != 0) GTEST_SKIP() << "eBPF needs root";
  auto s = open_ebpf_source({.test_reject_exe_walk = true, .test_fail_given_load = true});
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().message.starts_with("loading the eBPF programs failed")) << s.error();
  EXPECT_EQ(s.error().message.find("the verifier rejected a program"), std::string::npos) << s.error();
  EXPECT_NE(s.error().message.find("'lost'"), std::string::npos) << s.error();  // the map libbpf names
}

// The pids cgroup that holds this process (v1's pids hierarchy or v2's
// unified one), if it can make a child with pids.max there.
std::optional<fs::path> pids_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  std::optional<fs::path> v1, v2;
  while (std::getline(in, line)) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers == "pids" || controllers.find("pids,") != std::string::npos ||
        controllers.ends_with(",pids")) {
      v1 = fs::path("/sys/fs/cgroup/pids") / fs::path(path).relative_path();
    }
    if (controllers.empty()) v2 = fs::path("/sys/fs/cgroup") / fs::path(path).relative_path();
  }
  return v1 ? v1 : v2;
}

// A clone the kernel refuses (pids exhausted, a unit's TasksMax) while the
// source starts: the source runs, root_is_host unknown until procmond's
// next thread, and says so. Before, std::thread threw out of
// open_ebpf_source and ended procmond (here the child died by SIGABRT).
TEST(EbpfExePathRefused, AThreadTheKernelRefusesLeavesTheSourceRunningAndSaid) {
  if (::geteuid() != 0) GTEST_SKIP() << "eBPF needs root";
  const auto parent = pids_cgroup();
  if (!parent) GTEST_SKIP() << "no pids cgroup here";
  const fs::path cg = *parent / ("ebpf-exe-path-" + std::to_string(::getpid()));
  std::error_code ec;
  if (!fs::create_directory(cg, ec) || !fs::exists(cg / "pids.max")) {
    fs::remove(cg, ec);
    GTEST_SKIP() << "cannot make a pids cgroup under " << *parent;
  }
  testing::write_file(cg / "pids.max", "1");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Alone in a cgroup that allows one task: no thread can be made.
    { std::ofstream(cg / "cgroup.procs") << ::getpid() << "\n"; }
    auto s = open_ebpf_source({});
    if (!s) ::_exit(3);
    if ((*s)->limits().find("making a thread to record procmond's root directory failed") == std::string::npos) ::_exit(4);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  fs::remove(cg, ec);
  EXPECT_TRUE(WIFEXITED(status)) << "child ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (WIFEXITED(status)) {
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

}  // namespace
}  // namespace airssys::daemoneye
