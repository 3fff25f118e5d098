// Collector against a real stalled file system: a FUSE server (the raw
// kernel protocol, <linux/fuse.h>, no library) that serves one executable to
// the process it starts from the mount, and never answers anyone else — the
// collector's stat of that process's image waits for ever, as on a FUSE
// daemon that hangs or a hard NFS mount whose server is gone. The collection
// must still finish, with that process partial and every other one read.
//
// The server runs in a child, in a private mount namespace of its own (the
// mount never shows on the host), and ends when the test closes its control
// pipe: it kills the process it started and exits, which aborts the FUSE
// connection, so the collector's stuck call returns.

#include <airssys/daemoneye/collector.hpp>
#include <airssys/daemoneye/exe_hasher.hpp>

#include "test_temp_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- the FUSE server (runs in a forked child: system calls and static
// buffers only) ----

constexpr std::uint64_t kRoot = FUSE_ROOT_ID;
constexpr std::uint64_t kExe = 2;  // "exe"; "exe1".."exe4" are kExe + 1..4
constexpr int kMaxRunners = 5;

struct Served {
  int fuse = -1;
  int content = -1;  // the executable's bytes
  off_t size = 0;
  pid_t runners[kMaxRunners] = {-1, -1, -1, -1, -1};  // the only processes answered (and pid 0: the kernel's own)
  int count = 0;
  int delay_ms = -1;  // for everyone else: -1 never answered, else answered this late
  bool answered(pid_t pid) const {
    for (int i = 0; i < count; ++i)
      if (runners[i] == pid) return true;
    return pid == 0 || pid == ::getpid();
  }
};

void reply(int fd, std::uint64_t unique, int error, const void* body, std::size_t len) {
  fuse_out_header oh{};
  oh.len = static_cast<std::uint32_t>(sizeof oh + (error == 0 ? len : 0));
  oh.error = -error;
  oh.unique = unique;
  iovec iov[2] = {{&oh, sizeof oh}, {const_cast<void*>(body), len}};
  (void)!::writev(fd, iov, error == 0 && len > 0 ? 2 : 1);
}

fuse_attr attr_of(const Served& s, std::uint64_t node) {
  fuse_attr a{};
  a.ino = node;
  a.atime = a.mtime = a.ctime = 1700000000;
  a.blksize = 4096;
  if (node == kRoot) {
    a.mode = S_IFDIR | 0755;
    a.nlink = 2;
  } else {
    a.mode = S_IFREG | 0755;
    a.nlink = 1;
    a.size = static_cast<std::uint64_t>(s.size);
    a.blocks = (a.size + 511) / 512;
  }
  return a;
}

void handle(const Served& s, const unsigned char* msg) {
  static unsigned char data[128 * 1024];
  fuse_in_header h{};
  std::memcpy(&h, msg, sizeof h);
  const unsigned char* in = msg + sizeof h;
  switch (h.opcode) {
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT:
      return;  // never answered, by the protocol
    case FUSE_INIT:
      break;
    default:
      // The stall itself: requests from anyone but the process we started
      // (and the kernel's own) stay unanswered for ever.
      if (!s.answered(static_cast<pid_t>(h.pid))) {
        if (s.delay_ms < 0) return;
        timespec t{s.delay_ms / 1000, (s.delay_ms % 1000) * 1000000L};
        while (::nanosleep(&t, &t) != 0 && errno == EINTR) {
        }
      }
  }
  switch (h.opcode) {
    case FUSE_INIT: {
      fuse_init_in ii{};
      std::memcpy(&ii, in, sizeof ii < h.len - sizeof h ? sizeof ii : h.len - sizeof h);
      fuse_init_out o{};
      o.major = FUSE_KERNEL_VERSION;
      o.minor = FUSE_KERNEL_MINOR_VERSION;
      o.max_readahead = ii.max_readahead;
      o.max_background = 16;
      o.congestion_threshold = 12;
      o.max_write = 4096;
      o.time_gran = 1;
      reply(s.fuse, h.unique, 0, &o, sizeof o);
      return;
    }
    case FUSE_LOOKUP: {
      const char* name = reinterpret_cast<const char*>(in);
      const bool exe = std::strncmp(name, "exe", 3) == 0 &&
                       (name[3] == '\0' || (name[3] >= '1' && name[3] < '0' + kMaxRunners && name[4] == '\0'));
      if (h.nodeid != kRoot || !exe) {
        reply(s.fuse, h.unique, ENOENT, nullptr, 0);
        return;
      }
      fuse_entry_out e{};
      e.nodeid = kExe + (name[3] == '\0' ? 0 : static_cast<std::uint64_t>(name[3] - '0'));
      e.generation = 1;
      e.attr = attr_of(s, e.nodeid);  // entry_valid = attr_valid = 0: every stat asks again
      reply(s.fuse, h.unique, 0, &e, sizeof e);
      return;
    }
    case FUSE_GETATTR: {
      fuse_attr_out o{};
      o.attr = attr_of(s, h.nodeid);
      reply(s.fuse, h.unique, 0, &o, sizeof o);
      return;
    }
    case FUSE_OPEN: {
      fuse_open_out o{};
      o.fh = 1;
      reply(s.fuse, h.unique, 0, &o, sizeof o);
      return;
    }
    case FUSE_READ: {
      fuse_read_in r{};
      std::memcpy(&r, in, sizeof r);
      const std::size_t want = std::min<std::size_t>(r.size, sizeof data);
      const ssize_t n = ::pread(s.content, data, want, static_cast<off_t>(r.offset));
      reply(s.fuse, h.unique, n < 0 ? EIO : 0, data, n < 0 ? 0 : static_cast<std::size_t>(n));
      return;
    }
    case FUSE_STATFS: {
      fuse_statfs_out o{};
      o.st.bsize = o.st.frsize = 4096;
      o.st.namelen = 255;
      reply(s.fuse, h.unique, 0, &o, sizeof o);
      return;
    }
    case FUSE_FLUSH:
    case FUSE_RELEASE:
    case FUSE_ACCESS:
      reply(s.fuse, h.unique, 0, nullptr, 0);
      return;
    default:
      reply(s.fuse, h.unique, ENOSYS, nullptr, 0);
  }
}

// The child: mounts, starts `runners` processes from the mount, the first
// from "exe", the next from "exe1", "exe2", … (their pids written to
// `report`), serves until `ctl` reaches EOF, then kills them and exits.
[[noreturn]] void server_main(const char* mnt, const char* image, int runners, int delay_ms, int report, int ctl) {
  static unsigned char buf[1024 * 1024 + 4096];
  Served s;
  s.delay_ms = delay_ms;
  s.content = ::open(image, O_RDONLY | O_CLOEXEC);
  struct ::stat st{};
  if (s.content < 0 || ::fstat(s.content, &st) != 0) ::_exit(10);
  s.size = st.st_size;
  if (::unshare(CLONE_NEWNS) != 0) ::_exit(11);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(12);
  s.fuse = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (s.fuse < 0) ::_exit(13);
  char opts[128];
  std::snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", s.fuse);
  if (::mount("daemoneye-stall-test", mnt, "fuse", MS_NOSUID | MS_NODEV, opts) != 0) ::_exit(14);
  for (; s.count < runners && s.count < kMaxRunners; ++s.count) {
    char exe[4096];
    if (s.count == 0) std::snprintf(exe, sizeof exe, "%s/exe", mnt);
    else std::snprintf(exe, sizeof exe, "%s/exe%d", mnt, s.count);
    s.runners[s.count] = ::fork();
    if (s.runners[s.count] == 0) {
      ::close(report);
      ::close(ctl);
      const char* argv[] = {"sleep", "100000", nullptr};
      ::execv(exe, const_cast<char* const*>(argv));
      ::_exit(127);
    }
    if (s.runners[s.count] < 0) ::_exit(15);
  }
  (void)!::write(report, s.runners, sizeof(pid_t) * static_cast<std::size_t>(s.count));
  ::close(report);
  bool ending = false;
  for (;;) {
    pollfd p[2] = {{s.fuse, POLLIN, 0}, {ending ? -1 : ctl, POLLIN, 0}};
    (void)::poll(p, 2, ending ? 20 : -1);
    if (!ending && p[1].revents != 0) {
      for (int i = 0; i < s.count; ++i) ::kill(s.runners[i], SIGKILL);
      ending = true;
    }
    if (ending) {
      bool all = true;
      for (int i = 0; i < s.count; ++i) {
        if (s.runners[i] > 0 && ::waitpid(s.runners[i], nullptr, WNOHANG) == s.runners[i]) s.runners[i] = -1;
        all = all && s.runners[i] <= 0;
      }
      if (all) ::_exit(0);  // closing /dev/fuse aborts the mount
    }
    if ((p[0].revents & POLLIN) != 0) {
      const ssize_t n = ::read(s.fuse, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == ENOENT) continue;
        ::_exit(ending ? 0 : 16);
      }
      if (static_cast<std::size_t>(n) >= sizeof(fuse_in_header)) handle(s, buf);
    }
  }
}

// The test's handle on the server child and the process it started.
struct StalledMount {
  fs::path exe;          // the runner's executable, on the mount
  pid_t server = -1;
  pid_t runner = -1;
  std::vector<pid_t> others;  // runners of exe1, exe2, … (`runners` > 1)
  int ctl = -1;          // closing it ends the server

  // `delay_ms` >= 0: everyone else is answered, that late (a slow server).
  StalledMount(const fs::path& mnt, const fs::path& image, int runners = 1, int delay_ms = -1) : exe(mnt / "exe") {
    int report[2], control[2];
    if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(control, O_CLOEXEC) != 0) return;
    const std::string mnt_s = mnt.string(), exe_s = exe.string(), image_s = image.string();
    server = ::fork();
    if (server == 0) {
      ::close(report[0]);
      ::close(control[1]);
      server_main(mnt_s.c_str(), image_s.c_str(), runners, delay_ms, report[1], control[0]);
    }
    ::close(report[1]);
    ::close(control[0]);
    ctl = control[1];
    std::vector<pid_t> pids(static_cast<std::size_t>(runners), -1);
    const auto want = static_cast<ssize_t>(sizeof(pid_t) * pids.size());
    if (server > 0 && ::read(report[0], pids.data(), sizeof(pid_t) * pids.size()) == want) {
      runner = pids[0];
      others.assign(pids.begin() + 1, pids.end());
    }
    ::close(report[0]);
  }
  // Ends the server (it kills the runner); returns its exit status.
  int stop() {
    if (ctl >= 0) ::close(ctl);
    ctl = -1;
    int status = -1;
    if (server > 0) ::waitpid(server, &status, 0);
    server = -1;
    return status;
  }
  ~StalledMount() { stop(); }
};

// The runner has exec'd the mount's executable (its exe link names it).
bool runs_from(pid_t pid, const fs::path& exe) {
  char buf[4096];
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  for (int i = 0; i < 3000; ++i) {  // at most ~30 s: a bound, not a timing check
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n > 0 && std::string(buf, static_cast<std::size_t>(n)) == exe.string()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

const ProcessRecord* find(const CollectResult& c, pid_t pid) {
  for (const auto& r : c.processes)
    if (r.pid == pid) return &r;
  return nullptr;
}

// A copy of /bin/sleep on the local file system, running: read in full.
struct LocalSleeper {
  pid_t pid = -1;
  explicit LocalSleeper(const fs::path& exe) {
    pid = ::fork();
    if (pid == 0) {
      const char* argv[] = {exe.c_str(), "100000", nullptr};
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
  }
  ~LocalSleeper() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

// Each test: a temp dir with an empty mount point `mnt` and `local`, a
// copy of /bin/sleep on the temp dir's own file system. Skipped where a
// FUSE file system cannot be mounted. Nothing here starts a thread, so a
// test's StalledMount still forks before any thread of ours exists.
class CollectorStall : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "no usable /dev/fuse: cannot mount a FUSE file system here";
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a FUSE file system needs root (CAP_SYS_ADMIN)";
    fs::create_directory(mnt);
    fs::copy_file("/bin/sleep", local);
    fs::permissions(local, fs::perms::owner_all);
  }

  // The bounds of the tests whose mount never answers. Only the call on the
  // mount is to be given up on; a call on the local file system (the
  // sleeper, this test's own image) must never be, nor be counted slow. On
  // a machine as busy as CI's (a disk writer beside, reads queued behind its
  // writeback) one such call took more than the default 250 ms fs_slow:
  // the local device was marked slow and every process on it came out
  // partial. So fs_stall is far above any local call (the mount's call is
  // given up on once, after it), fs_slow above fs_stall (a call is given
  // up on before it can count as slow: the slow path has its own test
  // below), and fs_budget does not cut the collection after that one wait.
  // Images over 1 MiB are not hashed: the collector reads every process of
  // the machine, and on a busy one (a build's 200 MB ASan binaries running,
  // its writeback queued ahead) a second thread was once left stuck, the
  // likeliest call a cold read of one of those; the local sleeper (43 KB)
  // is still hashed.
  static CollectorOptions never_answered_options() {
    return CollectorOptions{.hash_max_size = 1024 * 1024,
                            .fs_stall = 10s,
                            .fs_stuck_max = 2,
                            .fs_slow = 1min,
                            .fs_budget = 10min};
  }

  testing::TempDir tmp;
  const fs::path mnt = tmp.path() / "mnt";
  const fs::path local = tmp.path() / "local sleep";
};

TEST_F(CollectorStall, AProcessOnAStalledFuseMountIsPartialAndTheScanGoesOn) {

  StalledMount m(mnt, "/bin/sleep");  // forked before any thread of ours exists
  ASSERT_GT(m.server, 0);
  ASSERT_GT(m.runner, 0) << "the FUSE server did not start (exit status " << m.stop() << ")";
  ASSERT_TRUE(runs_from(m.runner, m.exe)) << "the runner never exec'd " << m.exe;
  LocalSleeper other(local);
  ASSERT_TRUE(runs_from(other.pid, local));

  auto c = Collector::create(never_answered_options());
  ASSERT_TRUE(c) << c.error().to_string();
  auto first = (*c)->collect();  // returns: the stat on the mount is given up on
  ASSERT_TRUE(first) << first.error().to_string();

  const ProcessRecord* hung = find(*first, m.runner);
  ASSERT_NE(hung, nullptr) << "the process on the stalled mount is left out";
  EXPECT_TRUE(hung->partial);
  EXPECT_EQ(hung->path, m.exe.string()) << "its exe link is read without the file system";
  EXPECT_EQ(hung->cmdline, "sleep 100000");
  EXPECT_EQ(hung->exe_ino, 0u);
  EXPECT_EQ(hung->sha256, "");
  EXPECT_GE(first->stats.stalled, 1u);
  EXPECT_EQ(first->stats.stuck_threads, 1u);
  EXPECT_NE(std::find(first->stalled_on.begin(), first->stalled_on.end(), m.exe.string()), first->stalled_on.end());

  // Every other process is read in full: the local sleeper is complete, and
  // has its hash (in this collection, or a later one when this one's
  // hashing time budget ran out on a busy machine: ExeHasherOptions).
  const ProcessRecord* fine = find(*first, other.pid);
  ASSERT_NE(fine, nullptr);
  EXPECT_FALSE(fine->partial);
  EXPECT_EQ(fine->on_disk, 1);
  const std::string want = sha256_fd(osl::UniqueFd(::open(local.c_str(), O_RDONLY | O_CLOEXEC)).get());
  std::string got = fine->sha256;
  for (int i = 0; i < 50 && got.empty(); ++i) {
    auto later = (*c)->collect();
    ASSERT_TRUE(later);
    if (const ProcessRecord* again = find(*later, other.pid)) got = again->sha256;
  }
  EXPECT_EQ(got, want);
  const ProcessRecord* self = find(*first, ::getpid());
  ASSERT_NE(self, nullptr);
  EXPECT_FALSE(self->partial);

  // The next collections do not start another call on that mount: still
  // one thread stuck, the process still partial.
  for (int i = 0; i < 2; ++i) {
    auto again = (*c)->collect();
    ASSERT_TRUE(again);
    const ProcessRecord* still = find(*again, m.runner);
    ASSERT_NE(still, nullptr);
    EXPECT_TRUE(still->partial);
    EXPECT_EQ(again->stats.stuck_threads, 1u);
    EXPECT_GE(again->stats.stalled, 1u);
  }

  // The server goes away (the connection is aborted): the stuck call
  // returns, its thread ends, and the mount is no longer avoided.
  EXPECT_EQ(m.stop(), 0) << "the FUSE server failed";
  bool recovered = false;
  for (int i = 0; i < 3000 && !recovered; ++i) {  // at most ~30 s: a bound, not a timing check
    auto after = (*c)->collect();
    ASSERT_TRUE(after);
    recovered = after->stats.stuck_threads == 0 && after->stalled_on.empty() && after->stats.stalled == 0;
    if (!recovered) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(recovered) << "the stuck thread never returned after the mount was aborted";
}

// Five different executables on one stalled mount (outside our mount
// namespace, as a container's would be) take one thread, not one each: the
// place remembered is the device (from /proc/PID/maps), so the second and
// later are not even tried, and a process on another file system is read in
// full. Before, each path was remembered apart: with fs_stuck_max 2 the
// third stall found no thread, and every image after it went unread.
TEST_F(CollectorStall, ManyExecutablesOnOneStalledMountTakeOneThread) {

  StalledMount m(mnt, "/bin/sleep", kMaxRunners);
  ASSERT_GT(m.server, 0);
  ASSERT_GT(m.runner, 0) << "the FUSE server did not start (exit status " << m.stop() << ")";
  ASSERT_EQ(m.others.size(), static_cast<std::size_t>(kMaxRunners - 1));
  ASSERT_TRUE(runs_from(m.runner, m.exe));
  for (std::size_t i = 0; i < m.others.size(); ++i)
    ASSERT_TRUE(runs_from(m.others[i], mnt / ("exe" + std::to_string(i + 1))));
  LocalSleeper other(local);  // forked last: read after the mount's runners (a higher pid)
  ASSERT_TRUE(runs_from(other.pid, local));

  auto c = Collector::create(never_answered_options());
  ASSERT_TRUE(c) << c.error().to_string();
  auto first = (*c)->collect();
  ASSERT_TRUE(first) << first.error().to_string();
  for (pid_t pid : m.others) {
    const ProcessRecord* r = find(*first, pid);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->partial);
    EXPECT_EQ(r->exe_ino, 0u);
  }
  EXPECT_EQ(first->stats.stuck_threads, 1u);
  EXPECT_GE(first->stats.stalled, static_cast<std::uint32_t>(kMaxRunners));
  const ProcessRecord* fine = find(*first, other.pid);
  ASSERT_NE(fine, nullptr);
  EXPECT_FALSE(fine->partial) << "a stalled mount used every helper thread";
  EXPECT_NE(fine->exe_ino, 0u);
  EXPECT_EQ(m.stop(), 0) << "the FUSE server failed";
}

// A server that answers every call, but late (here 600 ms; the review's was
// 1.9 s, under fs_stall): never "stalled", it used to cost every process on
// it that much, each collection. Now one slow call marks its device slow for
// the rest of the collection: the other runners there are partial at once.
TEST_F(CollectorStall, ASlowFileSystemCostsOneCallPerCollection) {
  StalledMount m(mnt, "/bin/sleep", kMaxRunners, 600);
  ASSERT_GT(m.server, 0);
  ASSERT_GT(m.runner, 0) << "the FUSE server did not start (exit status " << m.stop() << ")";
  ASSERT_TRUE(runs_from(m.runner, m.exe));
  for (std::size_t i = 0; i < m.others.size(); ++i)
    ASSERT_TRUE(runs_from(m.others[i], mnt / ("exe" + std::to_string(i + 1))));

  auto c = Collector::create(CollectorOptions{.fs_stall = 30s, .fs_slow = 100ms});
  ASSERT_TRUE(c) << c.error().to_string();
  for (int round = 0; round < 2; ++round) {
    auto got = (*c)->collect();
    ASSERT_TRUE(got) << got.error().to_string();
    EXPECT_EQ(got->stats.stuck_threads, 0u);
    int read = 0;  // runners whose image was read (the one slow call)
    for (pid_t pid : std::vector<pid_t>{m.runner, m.others[0], m.others[1], m.others[2], m.others[3]}) {
      const ProcessRecord* r = find(*got, pid);
      ASSERT_NE(r, nullptr);
      if (r->exe_ino != 0) ++read;
      else EXPECT_TRUE(r->partial);
    }
    EXPECT_LE(read, 1) << "round " << round << ": every process on the slow mount waited for it";
  }
  // The event thread's read_process waits once, then skips the slow device.
  auto one = (*c)->read_process(m.others[0]);
  ASSERT_TRUE(one);
  auto two = (*c)->read_process(m.others[1]);
  ASSERT_TRUE(two);
  EXPECT_TRUE(one->exe_ino == 0 || two->exe_ino == 0) << "read_process waited for the slow mount twice";
  EXPECT_TRUE(two->partial);
  EXPECT_EQ(m.stop(), 0) << "the FUSE server failed";
}

}  // namespace
}  // namespace airssys::daemoneye
