// Collector against real processes (our own, children with known argv, cwd
// and executables, a busy loop), and against a hand-made /proc tree for the
// fields a test cannot produce for real (containers, terminals, kernel
// threads, a kernel without some files).

#include <airssys/daemoneye/collector.hpp>
#include <airssys/daemoneye/exe_hasher.hpp>
#include <airssys/osl/unique_fd.hpp>

#include "test_temp_dir.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A child of this test: exec'd with `argv` in `cwd`, stdin a pipe we hold.
// SIGKILLed and reaped when the test ends early.
struct Child {
  pid_t pid = -1;
  int in = -1;
  Child(const std::vector<std::string>& argv, const fs::path& cwd) {
    int p[2], sync[2];
    if (::pipe2(p, O_CLOEXEC) != 0 || ::pipe2(sync, O_CLOEXEC) != 0) return;
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid = ::fork();
    if (pid == 0) {
      ::dup2(p[0], 0);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(p[0]);
    ::close(sync[1]);
    in = p[1];
    char b;
    (void)!::read(sync[0], &b, 1);  // EOF once exec'd
    ::close(sync[0]);
  }
  ~Child() {
    if (in >= 0) ::close(in);
    reap();
  }
  void reap() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// These tests check what is collected; the stall and slow-call bounds have
// their own test (collector_stall_test). On a busy machine one read of a
// cold binary can take longer than the 250 ms that makes a device "slow",
// and the rest of the collection would then skip every image on it.
CollectorOptions patient(CollectorOptions o = {}) {
  o.fs_stall = std::chrono::minutes(2);
  o.fs_slow = std::chrono::minutes(1);
  o.fs_budget = std::chrono::minutes(10);
  return o;
}

std::unique_ptr<Collector> collector(CollectorOptions o = {}) {
  auto c = Collector::create(patient(std::move(o)));
  EXPECT_TRUE(c) << c.error().to_string();
  return c ? std::move(*c) : nullptr;
}

const ProcessRecord* find(const CollectResult& r, pid_t pid) {
  for (const auto& p : r.processes) {
    if (p.pid == pid) return &p;
  }
  return nullptr;
}

// The sha256 of `pid`'s image as the collector gives it: from `r`, or, when
// r's collection left it "" because its hashing budget (ExeHasherOptions:
// 2 s, 512 MiB per collection) ran out before that pid (images are hashed in
// pid order, and a busy machine runs many big ones; the image is then
// deferred, counted, and hashed in a later collection), from the next
// collection that has it (at most 50; "" if none does).
std::string hash_of(Collector& c, const CollectResult& r, pid_t pid) {
  const ProcessRecord* p = find(r, pid);
  if (p && !p->sha256.empty()) return p->sha256;
  EXPECT_GT(c.hash_stats().deferred, 0u) << "pid " << pid << " not hashed, yet nothing was deferred";
  for (int i = 0; i < 50; ++i) {
    auto later = c.collect();
    if (!later) return "";
    if (const ProcessRecord* q = find(*later, pid); q && !q->sha256.empty()) return q->sha256;
  }
  return "";
}

std::string sha256_of(const fs::path& file) {
  return sha256_fd(osl::UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC)).get());
}

std::string user_name(uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw ? pw->pw_name : "";
}

TEST(Collector, SeesItselfCorrectly) {
  auto c = collector();
  ASSERT_TRUE(c);
  const auto before = static_cast<std::int64_t>(std::time(nullptr));
  auto res = c->collect();
  ASSERT_TRUE(res) << res.error().to_string();
  EXPECT_EQ(res->stats.total, res->processes.size());
  EXPECT_GE(res->time, before);
  EXPECT_TRUE(std::is_sorted(res->processes.begin(), res->processes.end(),
                             [](const auto& a, const auto& b) { return a.pid < b.pid; }));
  const ProcessRecord* me = find(*res, ::getpid());
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(me->parent, ::getppid());
  EXPECT_EQ(me->pgroup, ::getpgrp());
  EXPECT_EQ(me->sid, ::getsid(0));
  EXPECT_EQ(me->uid, ::getuid());
  EXPECT_EQ(me->euid, ::geteuid());
  EXPECT_EQ(me->gid, ::getgid());
  EXPECT_EQ(me->egid, ::getegid());
  EXPECT_EQ(me->username, user_name(::getuid()));
  EXPECT_EQ(me->path, fs::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(me->cwd, fs::current_path().string());
  EXPECT_EQ(me->root, "/");
  EXPECT_EQ(me->on_disk, 1);
  EXPECT_EQ(me->state, "R");  // we are the one reading
  EXPECT_GE(me->threads, 1);
  EXPECT_LE(me->start_time, before);
  EXPECT_GE(me->start_time, before - 24 * 3600);
  EXPECT_GT(me->resident_size, 0);
  EXPECT_GE(me->total_size, me->resident_size);
  EXPECT_GE(me->user_time + me->system_time, 0);
  EXPECT_NE(me->exe_ino, 0u);
  EXPECT_FALSE(me->partial);
  EXPECT_EQ(me->cpu_percent, 0.0);  // first sight
  EXPECT_NE(me->cmdline.find(fs::read_symlink("/proc/self/exe").filename().string()), std::string::npos);
  EXPECT_EQ(hash_of(*c, *res, ::getpid()), sha256_of("/proc/self/exe"));
}

TEST(Collector, ChildWithSecretsAndChosenCwd) {
  testing::TempDir dir;
  const std::string marker = "de-collector-marker-" + std::to_string(::getpid());
  Child child({"/bin/sh", "-c", "read x", marker, "--password", "s3cret", "--api-key=abc"}, dir.path());
  ASSERT_GT(child.pid, 0);
  auto c = collector();
  ASSERT_TRUE(c);
  auto r = c->read_process(child.pid);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->cmdline, "/bin/sh -c read x " + marker + " --password *** --api-key=***");
  EXPECT_EQ(r->cmdline.find("s3cret"), std::string::npos);
  EXPECT_EQ(r->parent, ::getpid());
  EXPECT_EQ(r->name, "sh");
  EXPECT_EQ(r->path, fs::canonical("/bin/sh").string());
  EXPECT_EQ(r->cwd, fs::canonical(dir.path()).string());
  EXPECT_EQ(r->on_disk, 1);
  EXPECT_TRUE(r->state == "S" || r->state == "R") << r->state;  // it may not have reached read(2) yet
  EXPECT_EQ(r->threads, 1);
  EXPECT_FALSE(r->partial);
  struct ::stat sh{};
  ASSERT_EQ(::stat("/bin/sh", &sh), 0);
  EXPECT_EQ(r->exe_ino, sh.st_ino);
  EXPECT_EQ(r->exe_dev, sh.st_dev);

  auto all = c->collect();
  ASSERT_TRUE(all);
  const ProcessRecord* seen = find(*all, child.pid);
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->cmdline, r->cmdline);
  EXPECT_EQ(seen->sha256, r->sha256);

  const pid_t pid = child.pid;
  child.reap();
  auto gone = c->read_process(pid);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().category, osl::ErrorCategory::not_found);
  auto later = c->collect();
  ASSERT_TRUE(later);
  EXPECT_EQ(find(*later, pid), nullptr);
}

TEST(Collector, DeletedAndReplacedExecutables) {
  testing::TempDir dir;
  const fs::path a = dir.path() / "del sleep", b = dir.path() / "repl-sleep";
  fs::copy_file("/bin/sleep", a);
  fs::copy_file("/bin/sleep", b);
  Child deleted({a.string(), "1000"}, dir.path()), replaced({b.string(), "1000"}, dir.path());
  ASSERT_GT(deleted.pid, 0);
  ASSERT_GT(replaced.pid, 0);
  auto c = collector();
  ASSERT_TRUE(c);
  auto before = c->read_process(replaced.pid);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->on_disk, 1);

  fs::remove(a);
  // Replaced: another file renamed over the same path (how package managers update).
  testing::write_file(dir.path() / "new", "#!/bin/sh\n");
  fs::rename(dir.path() / "new", b);

  auto d = c->read_process(deleted.pid);
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->path, fs::weakly_canonical(a).string());  // " (deleted)" stripped
  EXPECT_EQ(d->on_disk, 0);
  EXPECT_EQ(d->sha256, before->sha256);  // the same bytes, hashed through the link
  auto r = c->read_process(replaced.pid);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, fs::canonical(b).string());
  EXPECT_EQ(r->on_disk, 0);
  EXPECT_FALSE(d->partial);
  EXPECT_FALSE(r->partial);
}

TEST(Collector, CpuPercentFromTheDeltaBetweenCollections) {
  testing::TempDir dir;
  Child busy({"/bin/sh", "-c", "while :; do :; done"}, dir.path());
  Child idle({"/bin/sh", "-c", "read x"}, dir.path());
  ASSERT_GT(busy.pid, 0);
  auto c = collector();
  ASSERT_TRUE(c);
  auto first = c->collect();
  ASSERT_TRUE(first);
  ASSERT_NE(find(*first, busy.pid), nullptr);
  EXPECT_EQ(find(*first, busy.pid)->cpu_percent, 0.0);
  // The busy loop accrues clock ticks; how many depends on the machine's load,
  // so wait (bounded) until one collection shows some.
  double busy_pct = 0, idle_pct = -1;
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (busy_pct == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(200ms);
    auto next = c->collect();
    ASSERT_TRUE(next);
    const ProcessRecord* b = find(*next, busy.pid);
    const ProcessRecord* i = find(*next, idle.pid);
    ASSERT_TRUE(b && i);
    busy_pct = b->cpu_percent;
    idle_pct = i->cpu_percent;
  }
  EXPECT_GT(busy_pct, 0.0);
  EXPECT_LE(busy_pct, 110.0);  // one thread: at most one core (clock-tick rounding aside)
  EXPECT_EQ(idle_pct, 0.0);
}

TEST(Collector, HashingCanBeOffAndIsCached) {
  auto off = collector(CollectorOptions{.hash = false});
  ASSERT_TRUE(off);
  auto res = off->collect();
  ASSERT_TRUE(res);
  EXPECT_TRUE(std::all_of(res->processes.begin(), res->processes.end(), [](const auto& p) { return p.sha256.empty(); }));

  auto on = collector();
  ASSERT_TRUE(on);
  ASSERT_TRUE(on->collect());
  const auto misses = on->hash_stats().misses;
  ASSERT_TRUE(on->collect());
  EXPECT_GT(on->hash_stats().hits, 0u);
  const auto me = on->read_process(::getpid());
  ASSERT_TRUE(me) << me.error().to_string();
  EXPECT_EQ(me->sha256.size(), 64u);
  EXPECT_GE(on->hash_stats().misses, misses);

  auto tiny = collector(CollectorOptions{.hash_max_size = 16});
  ASSERT_TRUE(tiny);
  auto small = tiny->read_process(::getpid());
  ASSERT_TRUE(small);
  EXPECT_EQ(small->sha256, "");
  EXPECT_FALSE(small->partial);  // not hashed by choice, not for lack of permission
}

TEST(Collector, LongCmdlineIsRedactedThenCut) {
  testing::TempDir dir;
  Child child({"/bin/sh", "-c", "read x", "--token", "secret-token", std::string(100 * 1024, 'a'),
               "https://u:pw@host"},
              dir.path());
  ASSERT_GT(child.pid, 0);
  auto c = collector(CollectorOptions{.cmdline_max = 1024});
  ASSERT_TRUE(c);
  auto r = c->read_process(child.pid);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cmdline.size(), 1024u);
  EXPECT_TRUE(r->cmdline.starts_with("/bin/sh -c read x --token *** aaaa")) << r->cmdline.substr(0, 60);
  EXPECT_EQ(r->cmdline.find("secret-token"), std::string::npos);
}

TEST(Collector, CutUrlIsDroppedNotLeaked) {
  // The read window is 4 x cmdline_max = 4096 bytes; a long secret shrinks to
  // "***" under redaction, pulling what follows into the column, including a
  // URL that /proc cut before its '@'.
  testing::TempDir dir;
  // "/bin/sh\0-c\0read x\0--password\0" is 29 bytes; the URL starts 16 bytes
  // before the cut: /proc gives "https://user:pas".
  const std::size_t secret_len = 4096 - 29 - 1 - 16;
  Child child({"/bin/sh", "-c", "read x", "--password", std::string(secret_len, 's'), "https://user:password@h"},
              dir.path());
  ASSERT_GT(child.pid, 0);
  auto c = collector(CollectorOptions{.cmdline_max = 1024});
  ASSERT_TRUE(c);
  auto r = c->read_process(child.pid);
  ASSERT_TRUE(r);
  // The rest of argv (past the read window) is read apart and joined before
  // redaction: the URL is whole, and its password redacted.
  EXPECT_EQ(r->cmdline, "/bin/sh -c read x --password *** https://user:***@h");
}

TEST(Collector, NotRootMeansPartialForOthers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  testing::TempDir dir;
  Child root_owned({"/bin/sh", "-c", "read x"}, dir.path());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(10);
    ::prctl(PR_SET_DUMPABLE, 1);  // changing uid cleared it; our own /proc entries stay ours
    const bool exe_readable = ::access("/proc/self/exe", R_OK) == 0;
    auto c = Collector::create(patient());
    if (!c) ::_exit(11);
    auto res = (*c)->collect();
    if (!res) ::_exit(12);
    const ProcessRecord* other = find(*res, root_owned.pid);
    const ProcessRecord* self = find(*res, ::getpid());
    if (!other || !self) ::_exit(13);
    // Root's process: identity and cmdline are public, exe/cwd/io are not.
    if (!other->partial || other->path != "" || other->cwd != "" || other->disk_bytes_read != -1) ::_exit(14);
    if (other->on_disk != -1 || other->sha256 != "" || other->cmdline != "/bin/sh -c read x") ::_exit(15);
    if (other->uid != 0 || other->username != "root") ::_exit(16);
    // Our own process: complete.
    if (self->partial || self->path.empty() || (exe_readable && hash_of(**c, *res, ::getpid()).size() != 64)) ::_exit(17);
    if (res->stats.partial == 0 || res->stats.partial > res->stats.total) ::_exit(18);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A hand-made /proc: what no test process can be made to look like for real.
struct FakeProc {
  testing::TempDir dir;
  FakeProc() { testing::write_file(dir.path() / "stat", "cpu  1 2 3\nintr 1 2 3\nbtime 1700000000\nprocesses 9\n"); }
  fs::path add(int pid, const std::string& stat, const std::string& cgroup, const std::string& cmdline,
               bool with_io = true, bool kthread = false) {
    const fs::path d = dir.path() / std::to_string(pid);
    fs::create_directory(d);
    testing::write_file(d / "stat", stat);
    testing::write_file(d / "status", "Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t2\n");
    if (with_io) testing::write_file(d / "io", "rchar: 1\nwchar: 2\nread_bytes: 4096\nwrite_bytes: 8192\n");
    testing::write_file(d / "cgroup", cgroup);
    testing::write_file(d / "cmdline", cmdline);
    testing::write_file(d / "loginuid", "4294967295");
    // The kernel's exe text is a resolved path: canonical, as /bin/sh is not
    // (a symlink to dash, under /bin -> usr/bin).
    if (!kthread) fs::create_symlink(fs::canonical("/bin/sh"), d / "exe");
    fs::create_symlink("/", d / "cwd");
    fs::create_symlink("/", d / "root");
    return d;
  }
};

TEST(Collector, FakeProcFieldsAndUnits) {
  FakeProc fp;
  const std::string id(64, 'c');
  const long hz = osl::proc::clock_ticks_per_second();
  const long page = osl::proc::page_size();
  // comm with ") " inside; tty pts/3; utime 2*hz ticks; start 10*hz ticks after boot; rss 5 pages.
  fp.add(4242,
         "4242 (evil) S 1 (x) S 1 4242 4242 " + std::to_string((136 << 8) | 3) + " -1 4194304 0 0 0 0 " +
             std::to_string(2 * hz) + " " + std::to_string(hz / 2) + " 0 0 20 5 2 0 " + std::to_string(10 * hz) +
             " 123456 5 0\n",
         "9:name=systemd:/\n4:memory:/docker/" + id + "\n0::/\n", std::string("sleep\0--secret\0x\0", 17),
         /*with_io=*/false);
  fp.add(2, "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0\n", "0::/\n", "", true, true);
  auto c = collector(CollectorOptions{.proc_root = fp.dir.path()});
  ASSERT_TRUE(c);
  auto res = c->collect();
  ASSERT_TRUE(res) << res.error().to_string();
  ASSERT_EQ(res->processes.size(), 2u);
  const ProcessRecord& k = res->processes[0];
  EXPECT_EQ(k.pid, 2);
  EXPECT_EQ(k.name, "kthreadd");
  EXPECT_EQ(k.path, "");
  EXPECT_EQ(k.cmdline, "");
  EXPECT_EQ(k.on_disk, -1);
  EXPECT_EQ(k.sha256, "");
  EXPECT_FALSE(k.partial);

  const ProcessRecord& r = res->processes[1];
  EXPECT_EQ(r.pid, 4242);
  EXPECT_EQ(r.name, "evil) S 1 (x");
  EXPECT_EQ(r.parent, 1);
  EXPECT_EQ(r.pgroup, 4242);
  EXPECT_EQ(r.sid, 4242);
  EXPECT_EQ(r.tty, "pts/3");
  EXPECT_EQ(r.nice, 5);
  EXPECT_EQ(r.threads, 2);
  EXPECT_EQ(r.user_time, 2000);
  EXPECT_EQ(r.system_time, (hz / 2) * 1000 / hz);
  EXPECT_EQ(r.start_time, 1700000000 + 10);
  EXPECT_EQ(r.start_ticks, static_cast<std::uint64_t>(10 * hz));
  EXPECT_EQ(r.total_size, 123456);
  EXPECT_EQ(r.resident_size, 5 * page);
  EXPECT_EQ(r.uid, 0);
  EXPECT_EQ(r.username, "root");
  EXPECT_EQ(r.auid, 4294967295);
  EXPECT_EQ(r.cgroup_path, "/docker/" + id);
  EXPECT_EQ(r.container_id, id);
  EXPECT_EQ(r.cmdline, "sleep --secret ***");
  EXPECT_EQ(r.path, fs::canonical("/bin/sh").string());  // a plain symlink here; the kernel's magic link in real life
  EXPECT_EQ(r.on_disk, 1);
  EXPECT_EQ(r.sha256.size(), 64u);
  // No io file (a kernel without task I/O accounting): unknown, not partial.
  EXPECT_EQ(r.disk_bytes_read, -1);
  EXPECT_FALSE(r.partial);
  EXPECT_EQ(res->stats.partial, 0u);
}

// A symlink sitting at the exe path is a replacement even when it points to
// the running image: neither our lookup nor the one under the process's root
// follows it. The kernel cannot show this for real (replacing the path
// unlinks the image's name, so the link says deleted), hence a fake exe link
// whose text names the symlink.
TEST(Collector, FakeProcSymlinkAtTheExePathIsReplaced) {
  FakeProc fp;
  const fs::path real = fs::canonical(fp.dir.path());
  fs::copy_file("/bin/true", real / "image");
  fs::create_symlink(real / "image", real / "link");
  const fs::path d = fp.add(4242, "4242 (x) S 1 4242 4242 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 5 123456 5 0\n",
                            "0::/\n", std::string("x\0", 2));
  fs::remove(d / "exe");
  fs::create_symlink(real / "link", d / "exe");
  auto c = collector(CollectorOptions{.proc_root = fp.dir.path()});
  ASSERT_TRUE(c);
  auto r = c->read_process(4242);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->path, (real / "link").string());
  EXPECT_EQ(r->on_disk, 0);

  // The same with the image itself at the path: on disk.
  fs::remove(d / "exe");
  fs::create_symlink(real / "image", d / "exe");
  auto c2 = collector(CollectorOptions{.proc_root = fp.dir.path()});
  ASSERT_TRUE(c2);
  auto same = c2->read_process(4242);
  ASSERT_TRUE(same) << same.error().to_string();
  EXPECT_EQ(same->on_disk, 1);
}

// A real child whose executable's path is replaced by a symlink to the very
// same file (kept under another name): not on disk.
TEST(Collector, ExePathReplacedBySymlinkToTheSameFile) {
  testing::TempDir dir;
  const fs::path real = fs::canonical(dir.path());
  const fs::path exe = real / "run-sleep", kept = real / "kept";
  fs::copy_file("/bin/sleep", exe);
  fs::create_hard_link(exe, kept);
  Child child({exe.string(), "1000"}, real);
  ASSERT_GT(child.pid, 0);
  auto c = collector();
  ASSERT_TRUE(c);
  auto before = c->read_process(child.pid);
  ASSERT_TRUE(before) << before.error().to_string();
  EXPECT_EQ(before->on_disk, 1);
  fs::create_symlink(kept, real / "new");
  fs::rename(real / "new", exe);
  struct ::stat followed{};
  ASSERT_EQ(::stat(exe.c_str(), &followed), 0);
  EXPECT_EQ(followed.st_ino, static_cast<ino_t>(before->exe_ino));  // the path still leads to the image
  auto after = c->read_process(child.pid);
  ASSERT_TRUE(after) << after.error().to_string();
  EXPECT_EQ(after->path, exe.string());
  EXPECT_EQ(after->on_disk, 0);
}

TEST(Collector, FakeProcMalformedStatIsCountedNotFatal) {
  FakeProc fp;
  fp.add(10, "garbage\n", "0::/\n", "x");
  fp.add(11, "11 (ok) S 1 11 11 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n", "0::/\n", std::string("ok\0", 3));
  auto c = collector(CollectorOptions{.proc_root = fp.dir.path()});
  ASSERT_TRUE(c);
  auto res = c->collect();
  ASSERT_TRUE(res);
  ASSERT_EQ(res->processes.size(), 1u);
  EXPECT_EQ(res->processes[0].pid, 11);
  EXPECT_EQ(res->stats.failed, 1u);
  EXPECT_EQ(res->stats.vanished, 0u);
}

TEST(Collector, ExecShowsAtTheNextCollection) {
  testing::TempDir dir;
  // sh waits for a line, then becomes sleep (same pid, same start time).
  Child child({"/bin/sh", "-c", "read x; exec /bin/sleep 1000"}, dir.path());
  ASSERT_GT(child.pid, 0);
  auto c = collector();
  ASSERT_TRUE(c);
  auto before = c->collect();
  ASSERT_TRUE(before);
  const ProcessRecord* b = find(*before, child.pid);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->path, fs::canonical("/bin/sh").string());
  const ProcessRecord was = *b;
  const std::string was_hash = hash_of(*c, *before, child.pid);  // before the exec
  EXPECT_EQ(was_hash, sha256_of("/bin/sh"));
  ASSERT_EQ(::write(child.in, "\n", 1), 1);
  // Exec'd once its comm says so (bounded wait; the collector is not involved).
  ASSERT_TRUE([&] {
    for (int i = 0; i < 1000; ++i) {
      if (testing::read_file("/proc/" + std::to_string(child.pid) + "/comm") == "sleep\n") return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }());
  auto after = c->collect();
  ASSERT_TRUE(after);
  const ProcessRecord* a = find(*after, child.pid);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->start_ticks, was.start_ticks);
  EXPECT_EQ(a->path, fs::canonical("/bin/sleep").string());
  EXPECT_EQ(a->cmdline, "/bin/sleep 1000");
  EXPECT_NE(a->exe_ino, was.exe_ino);
  EXPECT_EQ(a->on_disk, 1);
  const std::string now_hash = hash_of(*c, *after, child.pid);
  EXPECT_EQ(now_hash, sha256_of("/bin/sleep"));
  EXPECT_NE(now_hash, was_hash);
}

// An exec of another file under the same exe link text, by the same pid:
// the image read at the last collection must not be reused. (A file
// mounted over the path in a private mount namespace does this; so, with
// no privilege or namespace, does a deleted file's path: both images read
// "PATH (deleted)".) Each child runs `x` (a copy of sh), which the test
// deletes; then a copy of sleep is put at x, the child execs it, and it is
// deleted too. Images are re-read anyway on a process's refresh turn (pid
// plus the collection's count, modulo 10), so two children whose pids differ
// modulo 10: the collection after their exec is a refresh turn for one of
// them at most.
TEST(Collector, AnotherImageUnderTheSameExeTextShowsAtTheNextCollection) {
  testing::TempDir dir;
  struct Run {
    fs::path x;
    std::string text;  // its exe link's text, " (deleted)" stripped
    std::unique_ptr<Child> child;
  };
  std::vector<Run> runs;
  for (int i = 0; i < 12 && (runs.size() < 2 || runs[0].child->pid % 10 == runs[1].child->pid % 10); ++i) {
    if (runs.size() == 2) runs.pop_back();
    const fs::path x = dir.path() / ("x" + std::to_string(i));
    fs::copy_file("/bin/sh", x);
    ::chmod(x.c_str(), 0755);
    auto child = std::make_unique<Child>(std::vector<std::string>{x.string(), "-c", R"(read l; exec "$0" 1000)",
                                                                  x.string()},
                                         dir.path());
    ASSERT_GT(child->pid, 0);
    runs.push_back({x, fs::canonical(x).string(), std::move(child)});
  }
  ASSERT_EQ(runs.size(), 2u);
  ASSERT_NE(runs[0].child->pid % 10, runs[1].child->pid % 10);
  for (auto& r : runs) fs::remove(r.x);
  auto c = collector();
  ASSERT_TRUE(c);
  auto before = c->collect();
  ASSERT_TRUE(before);
  std::vector<ProcessRecord> was;
  for (auto& r : runs) {
    const ProcessRecord* b = find(*before, r.child->pid);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->path, r.text);
    EXPECT_EQ(b->on_disk, 0);
    EXPECT_EQ(hash_of(*c, *before, r.child->pid), sha256_of("/bin/sh"));
    was.push_back(*b);
  }
  for (auto& r : runs) {
    fs::copy_file("/bin/sleep", r.x);
    ::chmod(r.x.c_str(), 0755);
    ASSERT_EQ(::write(r.child->in, "\n", 1), 1);
    // Exec'd once its cmdline says so (bounded wait; the collector is not involved).
    ASSERT_TRUE([&] {
      for (int i = 0; i < 1000; ++i) {
        using namespace std::string_literals;
        if (testing::read_file("/proc/" + std::to_string(r.child->pid) + "/cmdline") == r.x.string() + "\0"s + "1000\0"s)
          return true;
        std::this_thread::sleep_for(10ms);
      }
      return false;
    }());
    fs::remove(r.x);
  }
  auto after = c->collect();
  ASSERT_TRUE(after);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    SCOPED_TRACE(runs[i].child->pid);
    const ProcessRecord* a = find(*after, runs[i].child->pid);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->start_ticks, was[i].start_ticks);
    EXPECT_EQ(a->path, runs[i].text);  // the same text as before the exec
    EXPECT_EQ(a->cmdline, runs[i].x.string() + " 1000");
    EXPECT_NE(a->exe_ino, was[i].exe_ino);
    EXPECT_EQ(hash_of(*c, *after, runs[i].child->pid), sha256_of("/bin/sleep"));
  }
}

// Field 22 of /proc/PID/stat (start time in clock ticks since boot), or 0
// when there is no such process.
std::uint64_t start_ticks_of(pid_t pid) {
  const std::string stat = testing::read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  std::istringstream fields(stat.substr(close + 2));  // from field 3, the state
  std::string field;
  for (int i = 3; i < 22; ++i) fields >> field;
  std::uint64_t ticks = 0;
  return fields >> ticks ? ticks : 0;
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(Collector, KeepsDirectoriesOpenWithinItsBudget) {
  const std::size_t base = open_fds();
  {
    auto none = collector(CollectorOptions{.hash = false, .keep_open = 0});
    ASSERT_TRUE(none);
    ASSERT_TRUE(none->collect());
    EXPECT_LE(open_fds(), base + 2);
  }
  {
    auto some = collector(CollectorOptions{.hash = false, .keep_open = 5});
    ASSERT_TRUE(some);
    ASSERT_TRUE(some->collect());
    EXPECT_GE(open_fds(), base + 5);
    EXPECT_LE(open_fds(), base + 5 + 2);
    // A second collection through the kept fds sees the same processes.
    auto again = some->collect();
    ASSERT_TRUE(again);
    EXPECT_NE(find(*again, ::getpid()), nullptr);
    // A second collector shares the same budget: no more kept in total.
    auto other = collector(CollectorOptions{.hash = false, .keep_open = 5});
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->collect());
    EXPECT_LE(open_fds(), base + 5 + 2 + 1);
  }
  EXPECT_EQ(open_fds(), base);  // all closed with the collector
}

TEST(Collector, FakeProcStickyFieldsRefreshWithinTenCollections) {
  FakeProc fp;
  const fs::path d = fp.add(4242, "4242 (x) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n",
                            "0::/system.slice/a.service\n", std::string("x\0", 2));
  auto c = collector(CollectorOptions{.proc_root = fp.dir.path()});
  ASSERT_TRUE(c);
  auto first = c->collect();  // collection 0: everything read
  ASSERT_TRUE(first);
  ASSERT_EQ(first->processes.size(), 1u);
  EXPECT_EQ(first->processes[0].cgroup_path, "/system.slice/a.service");
  EXPECT_EQ(first->processes[0].path, fs::canonical("/bin/sh").string());

  testing::write_file(d / "cgroup", "0::/system.slice/b.service\n");
  fs::remove(d / "exe");
  fs::create_symlink(fs::canonical("/bin/sleep"), d / "exe");
  auto second = c->collect();  // collection 1: (4242 + 1) % 10 != 0, cgroup reused
  ASSERT_TRUE(second);
  EXPECT_EQ(second->processes[0].cgroup_path, "/system.slice/a.service");
  // The exe link is read every time: the new image shows at once.
  EXPECT_EQ(second->processes[0].path, fs::canonical("/bin/sleep").string());
  struct ::stat sl{};
  ASSERT_EQ(::stat("/bin/sleep", &sl), 0);
  EXPECT_EQ(second->processes[0].exe_ino, sl.st_ino);

  int collections = 2;
  for (; collections <= 11; ++collections) {
    auto next = c->collect();
    ASSERT_TRUE(next);
    if (next->processes[0].cgroup_path == "/system.slice/b.service") break;
  }
  EXPECT_EQ(collections, 8);  // (4242 + 8) % 10 == 0: its refresh turn
}

TEST(Collector, RunningOutOfFdsReleasesTheKeptOnes) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  const std::size_t base = open_fds();
  {
    // A budget far above what the limit leaves: the collector must notice
    // EMFILE, give its kept fds back and still return every process.
    auto c = collector(CollectorOptions{.hash = false, .keep_open = 0});
    ASSERT_TRUE(c);
    auto reference = c->collect();
    ASSERT_TRUE(reference);
    rlimit tight = old;
    tight.rlim_cur = open_fds() + 8;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
    auto c2 = collector(CollectorOptions{.hash = false, .keep_open = 1'000'000});
    ASSERT_TRUE(c2);
    auto res = c2->collect();
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->stats.failed, 0u);
    EXPECT_NE(find(*res, ::getpid()), nullptr);
    // Every process of the reference still there after res's collection
    // (same pid, same start) was there all through it, so res lists it.
    // Others come and go: a busy machine (CI's compiles beside the tests)
    // ends dozens between two collections, more than a fixed allowance.
    std::size_t stayed = 0;
    for (const auto& p : reference->processes) {
      if (start_ticks_of(p.pid) != p.start_ticks) continue;
      ++stayed;
      EXPECT_NE(find(*res, p.pid), nullptr) << "pid " << p.pid << " (" << p.name << ") is missing";
    }
    EXPECT_GT(stayed, 0u);
  }
  EXPECT_EQ(open_fds(), base);
}

TEST(Collector, BadProcRoot) {
  auto c = Collector::create(CollectorOptions{.proc_root = "/nonexistent"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().category, osl::ErrorCategory::not_found);
}


// A process tree over the socket budget (the review's flood: socketpair fds
// in many processes): the collection still lists every process, the rows are
// bounded by max_rows + max_low_rows, and the "shells" (a TCP socket on fds
// 0-2) keep their fds 0-2 rows past the budget.
TEST(Collector, ASocketFloodIsBoundedAndShellsKeepFdsZeroToTwo) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::vector<int> pairs;
  for (int i = 0; i < 100; ++i) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pairs.insert(pairs.end(), {sv[0], sv[1]});
  }
  // go: the children wait on it until the collections are done. ready:
  // each child writes a byte once its fds are in place. Before, the parent
  // collected at once after its forks, and on a busy machine a shell not yet
  // scheduled still had its fds 0-2 of before the dup2 ("shell N fd 0").
  int go[2], ready[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  constexpr int kChildren = 8;
  std::vector<pid_t> flood, shells;
  for (int i = 0; i < kChildren; ++i) {
    const bool shell = i % 2 == 1;
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      ::close(ready[0]);
      if (shell) {
        for (int fd = 0; fd < 3; ++fd) ::dup2(client, fd);
      }
      (void)!::write(ready[1], "r", 1);
      ::close(ready[1]);
      char x = 0;
      (void)!::read(go[0], &x, 1);
      ::_exit(0);
    }
    (shell ? shells : flood).push_back(pid);
  }
  ::close(go[0]);
  ::close(ready[1]);
  int set_up = 0;  // until every child said so, or EOF: every child's end closed
  for (char b[kChildren]; set_up < kChildren;) {
    const ssize_t n = ::read(ready[0], b, sizeof b);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    set_up += static_cast<int>(n);
  }
  ::close(ready[0]);
  ASSERT_EQ(set_up, kChildren) << "a child ended before its fds were in place";
  auto collect = [](osl::proc::SocketLimits limits) {
    auto c = Collector::create(CollectorOptions{.hash = false, .sockets = true, .socket_limits = limits});
    EXPECT_TRUE(c);
    return c ? (*c)->collect() : std::unexpected(c.error());
  };
  // Spent at once; then fds 0-2 only, with room for all of them.
  auto wide = collect({.max_rows = 1, .max_low_rows = 100000});
  // Spent at once, and then a small reserve.
  auto tight = collect({.max_rows = 5, .max_low_rows = 3});
  ::close(go[1]);
  for (pid_t pid : flood) ::waitpid(pid, nullptr, 0);
  for (pid_t pid : shells) ::waitpid(pid, nullptr, 0);
  for (int fd : pairs) ::close(fd);
  ::close(client);
  ::close(listener);
  ASSERT_TRUE(wide);
  ASSERT_TRUE(tight);
  for (const auto* r : {&*wide, &*tight}) {
    for (pid_t pid : flood) EXPECT_NE(find(*r, pid), nullptr) << pid;
    for (pid_t pid : shells) EXPECT_NE(find(*r, pid), nullptr) << pid;
    EXPECT_EQ(r->stats.sockets.rows, r->sockets.size());
    EXPECT_GT(r->stats.sockets.truncated, 0u);
  }
  EXPECT_LE(tight->sockets.size(), 8u);
  for (pid_t pid : flood) {
    EXPECT_LE(std::ranges::count(wide->sockets, pid, &osl::proc::OpenSocket::pid), 3) << pid;
  }
  for (pid_t pid : shells) {
    for (int fd = 0; fd < 3; ++fd) {
      auto it = std::ranges::find_if(wide->sockets, [&](const auto& s) { return s.pid == pid && s.fd == fd; });
      ASSERT_NE(it, wide->sockets.end()) << "shell " << pid << " fd " << fd;
      EXPECT_EQ(it->entry.state, "ESTABLISHED");
    }
  }
}

}  // namespace
}  // namespace airssys::daemoneye
