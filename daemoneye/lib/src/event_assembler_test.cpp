#include <airssys/daemoneye/event_assembler.hpp>

#include "event_assembler_path.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace airssys::daemoneye {
namespace {

using namespace std::string_literals;

ProcessRecord known(std::int64_t pid, std::string path, std::string cmdline, std::uint64_t ticks = 500) {
  ProcessRecord r;
  r.pid = pid;
  r.parent = 1;
  r.name = path.substr(path.rfind('/') + 1);
  r.path = std::move(path);
  r.cmdline = std::move(cmdline);
  r.cwd = "/srv";
  r.uid = 1000;
  r.sha256 = std::string(64, 'a');
  r.exe_ino = 7;
  r.on_disk = 1;
  r.start_ticks = ticks;
  r.start_time = 1764000000;
  return r;
}

KernelEvent kernel(KernelEvent::Kind kind, std::int64_t pid, std::int64_t ppid, std::uint64_t ticks) {
  KernelEvent k;
  k.kind = kind;
  k.pid = pid;
  k.ppid = ppid;
  k.uid = k.gid = k.euid = k.egid = 1000;
  k.auid = 4294967295;
  k.start_ticks = ticks;
  k.time_ns = 1764000001'250000000;
  return k;
}

// A child that runs /bin/sleep 30 (the caller kills it).
pid_t fork_sleep() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return child;
}

// Whether /proc/PID/exe of `pid` names `real` within 5 s (it has exec'd).
bool exe_becomes(pid_t pid, const std::string& real) {
  const std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  char link[4096] = {};
  for (int i = 0; i < 500; ++i) {
    const auto n = ::readlink(exe.c_str(), link, sizeof link - 1);
    if (n > 0 && std::string(link, static_cast<std::size_t>(n)) == real) return true;
    ::usleep(10000);
  }
  return false;
}

TEST(EventAssembler, ForkStartsAChildThatIsItsParentsImage) {
  EventAssembler a({}, nullptr);
  a.learn(std::vector{known(100, "/usr/sbin/nginx", "nginx: worker process")}, a.mark());
  auto k = kernel(KernelEvent::Kind::fork, 200, 100, 900);
  k.comm = "nginx";
  k.args = "nginx: worker process"s + '\0';
  k.args_total = static_cast<std::int64_t>(k.args.size());
  auto e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::start);
  EXPECT_EQ(e->source, EventSource::ebpf);
  EXPECT_EQ(e->process.pid, 200);
  EXPECT_EQ(e->process.parent, 100);
  EXPECT_EQ(e->process.path, "/usr/sbin/nginx");
  EXPECT_EQ(e->process.cmdline, "nginx: worker process");
  EXPECT_EQ(e->process.cwd, "/srv");
  EXPECT_EQ(e->process.start_ticks, 900u);
  EXPECT_EQ(e->process.threads, -1);  // not the parent's
  EXPECT_EQ(e->time, 1764000001);
  EXPECT_EQ(e->time_ns, 1764000001'250000000);
}

TEST(EventAssembler, ExecTakesTheKernelsPathAndRedactedArgvAndDropsTheOldImage) {
  EventAssembler a({}, nullptr);
  a.learn(std::vector{known(300, "/usr/bin/bash", "bash", 42)}, a.mark());
  auto k = kernel(KernelEvent::Kind::exec, 300, 1, 42);
  k.comm = "mysql";
  k.path = "/usr/bin/mysql";
  k.args = "mysql\0-uroot\0-phunter2\0"s;
  k.args_total = static_cast<std::int64_t>(k.args.size());
  k.cgroup_id = 99;
  auto e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::exec);
  EXPECT_EQ(e->process.path, "/usr/bin/mysql");
  EXPECT_EQ(e->process.cmdline, "mysql -uroot -p***");
  EXPECT_EQ(e->process.name, "mysql");
  // The directory known before (/srv) may be stale (a chdir since): unknown
  // unless the kernel gave it, read at the exec.
  EXPECT_EQ(e->process.cwd, "");
  EXPECT_EQ(e->process.sha256, "");   // but not the old image's hash
  EXPECT_EQ(e->process.exe_ino, 0u);
  EXPECT_EQ(e->cmdline_size, 23);
  EXPECT_FALSE(e->cmdline_truncated);
  EXPECT_EQ(e->cgroup_id, 99u);
  k = kernel(KernelEvent::Kind::exec, 300, 1, 42);
  k.path = "./sC";
  k.cwd = "/tmp/x";
  e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "./sC");
  EXPECT_EQ(e->process.cwd, "/tmp/x");
}

TEST(EventAssembler, TruncatedArgvIsFlaggedAndACutUrlIsDropped) {
  EventAssembler a({.cmdline_max = 64}, nullptr);
  auto k = kernel(KernelEvent::Kind::exec, 301, 1, 43);
  k.path = "/usr/bin/curl";
  k.args = "curl\0-s\0https://user:sec"s;  // cut inside the URL's credentials
  k.args_total = 100000;
  k.args_truncated = true;
  auto e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.cmdline, "curl -s");
  EXPECT_TRUE(e->cmdline_truncated);
  EXPECT_EQ(e->cmdline_size, 100000);

  // Invalid UTF-8 and a long argv are cut at max bytes, never mid-sequence.
  auto big = kernel(KernelEvent::Kind::exec, 302, 1, 44);
  big.path = "/bin/x";
  big.args = "x\0"s + std::string(100, '\xff') + "\xc3\xa9";
  big.args_total = static_cast<std::int64_t>(big.args.size());
  auto b = a.assemble(std::move(big), EventSource::ebpf);
  ASSERT_TRUE(b);
  EXPECT_LE(b->process.cmdline.size(), 64u);
  EXPECT_EQ(b->process.cmdline.substr(0, 2), "x ");
}

TEST(EventAssembler, ExitStopsTheLastKnownStateWithItsStatusAndForgetsIt) {
  EventAssembler a({}, nullptr);
  a.learn(std::vector{known(400, "/usr/bin/sleep", "sleep 100", 77)}, a.mark());
  auto k = kernel(KernelEvent::Kind::exit, 400, 1, 77);
  k.exit_signal = 9;
  auto e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::stop);
  EXPECT_EQ(e->process.cmdline, "sleep 100");
  EXPECT_EQ(e->exit_signal, 9);
  EXPECT_EQ(e->exit_code, -1);
  EXPECT_EQ(a.counters().known, 0u);

  // A process never seen before still gets a stop with what the kernel gave.
  auto unknown = kernel(KernelEvent::Kind::exit, 401, 1, 78);
  unknown.comm = "true";
  unknown.exit_code = 0;
  auto u = a.assemble(std::move(unknown), EventSource::ebpf);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->process.name, "true");
  EXPECT_EQ(u->process.pid, 401);
  EXPECT_EQ(u->exit_code, 0);
}

TEST(EventAssembler, OverTheBudgetEventsAreDroppedAndCounted) {
  EventAssembler a({.budget_per_second = 50}, nullptr);
  int published = 0;
  for (int i = 0; i < 500; ++i) {
    auto k = kernel(KernelEvent::Kind::exec, 1000 + i, 1, 5);
    k.path = "/bin/true";
    k.args_total = 0;
    if (a.assemble(std::move(k), EventSource::ebpf)) ++published;
  }
  const auto c = a.counters();
  EXPECT_EQ(c.assembled + c.dropped, 500u);
  EXPECT_GE(published, 50);
  EXPECT_LT(published, 500);  // 500 events cannot take fewer than 9 s here
  EXPECT_EQ(c.assembled, static_cast<std::uint64_t>(published));
  EXPECT_GT(c.dropped, 0u);
}

TEST(EventAssembler, PollEventsAlreadyReportedAreFilteredOthersKept) {
  EventAssembler a({}, nullptr);
  const auto m1 = a.mark();
  a.learn({}, m1);
  std::vector<ProcessEvent> none;
  a.filter_reported(none, m1);  // first collection: nothing to diff
  auto k = kernel(KernelEvent::Kind::fork, 500, 1, 10);
  k.args_total = 0;
  ASSERT_TRUE(a.assemble(std::move(k), EventSource::ebpf));
  const auto m2 = a.mark();
  std::vector<ProcessEvent> poll{
      {EventKind::start, EventSource::poll, 1, known(500, "/bin/a", "a", 10)},  // reported by the kernel
      {EventKind::start, EventSource::poll, 1, known(501, "/bin/b", "b", 11)},  // missed (dropped): kept
      {EventKind::start, EventSource::poll, 1, known(500, "/bin/a", "a", 12)},  // same pid, another process
  };
  a.filter_reported(poll, m2);
  ASSERT_EQ(poll.size(), 2u);
  EXPECT_EQ(poll[0].process.pid, 501);
  EXPECT_EQ(poll[1].process.start_ticks, 12u);
}

TEST(EventAssembler, LearnKeepsWhatEventsReportedAfterTheCollectionBegan) {
  EventAssembler a({}, nullptr);
  const auto m = a.mark();
  auto k = kernel(KernelEvent::Kind::exec, 600, 1, 3);
  k.path = "/usr/bin/new";
  k.args = "new\0"s;
  k.args_total = 4;
  ASSERT_TRUE(a.assemble(std::move(k), EventSource::ebpf));
  a.learn(std::vector{known(1, "/sbin/init", "init", 1)}, m);  // the collection did not see pid 600
  EXPECT_EQ(a.counters().known, 2u);
  auto exit = kernel(KernelEvent::Kind::exit, 600, 1, 3);
  auto e = a.assemble(std::move(exit), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/usr/bin/new");
}

TEST(EventAssembler, APidsOnlyEventIsCompletedFromProcWhileTheProcessLives) {
  auto reader = Collector::create(CollectorOptions{.hash = false, .keep_open = 0});
  ASSERT_TRUE(reader);
  EventAssembler a({}, std::move(*reader));
  const pid_t child = fork_sleep();
  ASSERT_GE(child, 0);
  // Wait until the child has exec'd (its exe link names sleep).
  std::string cmdline;
  for (int i = 0; i < 500 && cmdline != "sleep 30"; ++i) {
    KernelEvent k;
    k.kind = KernelEvent::Kind::exec;
    k.pid = child;
    k.time_ns = 1;
    auto e = a.assemble(std::move(k), EventSource::proc_connector);
    ASSERT_TRUE(e);
    cmdline = e->process.cmdline;
    if (cmdline != "sleep 30") ::usleep(10000);
  }
  EXPECT_EQ(cmdline, "sleep 30");
  EXPECT_GT(a.counters().proc_reads, 0u);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  // Gone: the event keeps what the kernel gave (the pid); never the previous
  // image's path or argv (for a fresh child that would be its parent's),
  // nor the directory known before (a chdir between may have changed it).
  KernelEvent gone;
  gone.kind = KernelEvent::Kind::exec;
  gone.pid = child;
  gone.time_ns = 1;
  auto e = a.assemble(std::move(gone), EventSource::proc_connector);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.pid, child);
  EXPECT_EQ(e->process.cmdline, "");
  EXPECT_EQ(e->process.path, "");
  EXPECT_EQ(e->process.cwd, "");
  EXPECT_TRUE(e->process.partial);
}

TEST(EventAssembler, AForkedChildThatExecsAndExitsBeforeProcIsReadDoesNotGetItsParentsArgv) {
  EventAssembler a({}, nullptr);  // no /proc: as if every process were already gone
  a.learn(std::vector{known(700, "/usr/bin/bash", "bash -c for i in 1 2 3")}, a.mark());
  KernelEvent fork;
  fork.kind = KernelEvent::Kind::fork;
  fork.pid = 701;
  fork.ppid = 700;
  fork.time_ns = 1;
  auto start = a.assemble(std::move(fork), EventSource::proc_connector);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->process.cmdline, "bash -c for i in 1 2 3");  // the fork runs the parent's image
  KernelEvent exec;
  exec.kind = KernelEvent::Kind::exec;
  exec.pid = 701;
  exec.time_ns = 2;
  auto e = a.assemble(std::move(exec), EventSource::proc_connector);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "");
  EXPECT_EQ(e->process.cmdline, "");
  EXPECT_EQ(e->process.parent, 700);
  EXPECT_TRUE(e->process.partial);
}

// Probe 14 finding 2: "//tmp/x" and "/tmp/./x" are /tmp/x to the kernel; a
// rule on `path LIKE '/tmp/%'` must see them so even when the process is gone.
TEST(EventAssembler, AGoneExecsPathIsCleanedAndWhatItAskedForIsKept) {
  EventAssembler a({}, nullptr);  // no /proc: as if every process were already gone
  a.learn(std::vector{known(800, "/usr/bin/bash", "bash")}, a.mark());
  const auto exec_of = [&](std::string path) {
    auto k = kernel(KernelEvent::Kind::exec, 800, 1, 500);
    k.path = std::move(path);
    k.args = "sl\0"s;
    k.args_total = 3;
    return a.assemble(std::move(k), EventSource::ebpf);
  };
  auto e = exec_of("//tmp/p14/atk//sl");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/tmp/p14/atk/sl");
  EXPECT_EQ(e->path_given, "//tmp/p14/atk//sl");
  e = exec_of("/tmp/./././x/.//sl");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/tmp/x/sl");
  // ".." through a symlink is not the lexical parent: kept as given.
  e = exec_of("/usr/bin/X11/../../tmp/sl");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/usr/bin/X11/../../tmp/sl");
  // Relative and gone: the known cwd (/srv) may be stale, so it is not joined.
  e = exec_of("./sl");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "./sl");
  EXPECT_EQ(e->path_given, "./sl");
  // A fork or exit has no path given.
  auto exit = a.assemble(kernel(KernelEvent::Kind::exit, 800, 1, 500), EventSource::ebpf);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->path_given, "");
}

TEST(EventAssembler, CollapseKeepsTheSameFileAndNothingElse) {
  EXPECT_EQ(exec_path::collapse("/"), "/");
  EXPECT_EQ(exec_path::collapse("//"), "/");
  EXPECT_EQ(exec_path::collapse("/."), "/");
  EXPECT_EQ(exec_path::collapse("/a/."), "/a");
  EXPECT_EQ(exec_path::collapse("/a/.b/..c/..."), "/a/.b/..c/...");
  EXPECT_EQ(exec_path::collapse("/a/../b"), "/a/../b");
  EXPECT_EQ(exec_path::collapse("a//b"), "a//b");  // relative: as given
  EXPECT_TRUE(exec_path::needs_kernel_path("sl"));
  EXPECT_TRUE(exec_path::needs_kernel_path("/proc/self/cwd/sl"));
  EXPECT_TRUE(exec_path::needs_kernel_path("/dev/fd/3"));
  EXPECT_TRUE(exec_path::needs_kernel_path("/a/.."));
  EXPECT_TRUE(exec_path::needs_kernel_path("/a/../b"));
  EXPECT_FALSE(exec_path::needs_kernel_path("/a/..b"));
  EXPECT_FALSE(exec_path::needs_kernel_path("/usr/bin/sleep"));
}

// A live process's magic or relative path is replaced by the kernel's own
// (/proc/PID/exe): a real child that ran /proc/self/cwd/sleep from /usr/bin.
TEST(EventAssembler, ALiveExecsIndirectPathIsTheKernelsOwn) {
  auto reader = Collector::create(CollectorOptions{.hash = false, .keep_open = 0});
  ASSERT_TRUE(reader);
  EventAssembler a({}, std::move(*reader));
  char real[4096] = {};
  ASSERT_NE(::realpath("/usr/bin/sleep", real), nullptr);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::chdir("/usr/bin") == 0) ::execl("/proc/self/cwd/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  exe_becomes(child, real);
  for (const std::string given : {"/proc/self/cwd/sleep", "./sleep", "sleep"}) {
    auto k = kernel(KernelEvent::Kind::exec, child, 1, 0);
    k.path = given;
    k.args = "sleep\0" "30\0"s;
    k.args_total = static_cast<std::int64_t>(k.args.size());
    auto e = a.assemble(std::move(k), EventSource::ebpf);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->process.path, real) << given;
    EXPECT_EQ(e->path_given, given);
    EXPECT_EQ(e->process.cmdline, "sleep 30");
  }
  const auto reads = a.counters().proc_reads;
  EXPECT_GE(reads, 3u);
  // A clean absolute path is taken as given, without a /proc read.
  auto k = kernel(KernelEvent::Kind::exec, child, 1, 0);
  k.path = "/usr/bin/sleep";
  k.args = "sleep\0"s;
  k.args_total = 6;
  auto e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/usr/bin/sleep");
  EXPECT_EQ(a.counters().proc_reads, reads);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

// The kernel's path of the image, read by the eBPF program at the exec, is
// the path, without a /proc read: /proc/PID/exe read later may show the
// image of a later exec (the payload run through /dev/fd/3 that at once
// execs sleep) or nothing (gone). Its root flag, read at the exec too, is
// root_is_host. Here a live child runs sleep: its /proc says sleep, but
// what the kernel captured at this exec is what the event says.
TEST(EventAssembler, TheKernelsPathCapturedAtTheExecIsThePathAndNoProcIsRead) {
  auto reader = Collector::create(CollectorOptions{.hash = false, .keep_open = 0});
  ASSERT_TRUE(reader);
  EventAssembler a({}, std::move(*reader));
  char real[4096] = {};
  ASSERT_NE(::realpath("/usr/bin/sleep", real), nullptr);
  const pid_t child = fork_sleep();
  ASSERT_GE(child, 0);
  ASSERT_TRUE(exe_becomes(child, real));
  // The exec event of `child` given `given`, the kernel's path `exe`.
  const auto exec = [&](std::string given, std::string exe) {
    auto k = kernel(KernelEvent::Kind::exec, child, 1, 0);
    k.path = std::move(given);
    k.exe_path = std::move(exe);
    k.args = "x\0"s;
    k.args_total = 2;
    return k;
  };
  auto k = exec("/dev/fd/3", "/tmp/payload");
  k.root_is_host = 1;
  auto e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/tmp/payload");
  EXPECT_EQ(e->path_given, "/dev/fd/3");
  EXPECT_EQ(e->path_from, PathFrom::exec);
  EXPECT_EQ(e->process.root_is_host, 1);
  EXPECT_EQ(a.counters().proc_reads, 0u);
  // A symbolic link's text: the file it named.
  k = exec("/home/u/l", "/tmp/x");
  k.root_is_host = 0;
  e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/tmp/x");
  EXPECT_EQ(e->process.root_is_host, 0);
  EXPECT_EQ(a.counters().proc_reads, 0u);
  // Deleted (a memfd always is): the path without the suffix, not on disk.
  k = exec("/dev/fd/4", "/memfd:x");
  k.exe_deleted = true;
  e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/memfd:x");
  EXPECT_EQ(e->process.on_disk, 0);
  EXPECT_EQ(e->path_from, PathFrom::exec);
  // A mount attached nowhere: kept, said.
  k = exec("/dev/fd/6", "/");
  k.exe_detached = true;
  e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/");
  EXPECT_EQ(e->path_from, PathFrom::detached);
  EXPECT_EQ(a.counters().proc_reads, 0u);
  // A script: the kernel's path is its interpreter's, the image that runs:
  // kept as the path, said interp (before, it was dropped and the path read
  // from /proc later: here sleep's). The script is path_given's text.
  k = exec("/dev/fd/5", "/usr/bin/dash");
  k.exe_interpreted = true;
  e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/usr/bin/dash");
  EXPECT_EQ(e->path_given, "/dev/fd/5");
  EXPECT_EQ(e->path_from, PathFrom::interp);
  EXPECT_EQ(a.counters().proc_reads, 0u);
  // "#!/proc/self/fd/3" with a memfd there: the memfd, not on disk.
  k = exec("/home/u/sA", "/memfd:x");
  k.exe_interpreted = true;
  k.exe_deleted = true;
  e = a.assemble(std::move(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/memfd:x");
  EXPECT_EQ(e->path_given, "/home/u/sA");
  EXPECT_EQ(e->path_from, PathFrom::interp);
  EXPECT_EQ(e->process.on_disk, 0);
  EXPECT_EQ(a.counters().proc_reads, 0u);
  // No capture (the proc connector, an older procmond's, a path too deep):
  // as before, the text when it is clean.
  e = a.assemble(exec("/usr/bin/sleep", ""), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/usr/bin/sleep");
  EXPECT_EQ(e->path_from, PathFrom::given);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

// The image's identity is kept, and its path in its filesystem named by
// the host's path through procmond's own mount table (this test's): what
// the process mounted where only it sees does not change it. A device the
// host has not mounted: no host path, the event kept.
TEST(EventAssembler, AnExecsImageIsNamedByTheHostsPathOfItsFilesystem) {
  EventAssembler a({}, nullptr);
  struct stat st{};
  ASSERT_EQ(::stat("/usr/bin/true", &st), 0);
  char real[4096] = {};
  ASSERT_NE(::realpath("/usr/bin/true", real), nullptr);
  auto k = kernel(KernelEvent::Kind::exec, 4242, 1, 0);
  k.path = "/mnt/true";
  k.exe_path = "/mnt/true";  // a bind mount of /usr/bin the process made
  k.image_known = true;
  k.image_dev = st.st_dev;
  k.image_ino = st.st_ino;
  k.image_fs_path = real;
  k.args = "x\0"s;
  k.args_total = 2;
  auto e = a.assemble(KernelEvent(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->process.path, "/mnt/true");
  EXPECT_EQ(e->host_path, real);
  EXPECT_EQ(e->image_dev, st.st_dev);
  EXPECT_EQ(e->image_ino, st.st_ino);
  k.image_dev = makedev(0, 0xfffff);  // no such mount
  e = a.assemble(KernelEvent(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host_path, "");
  EXPECT_EQ(e->image_ino, st.st_ino);
  // Inode number 0 (FUSE can report it) is still an identity read: the
  // host path is found.
  k.image_dev = st.st_dev;
  k.image_ino = 0;
  e = a.assemble(KernelEvent(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host_path, real);
  // Without the identity (the proc connector): none of it.
  k.image_known = false;
  k.image_dev = k.image_ino = 0;
  e = a.assemble(KernelEvent(k), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host_path, "");
  EXPECT_EQ(e->image_dev, 0u);
}

}  // namespace
}  // namespace airssys::daemoneye
