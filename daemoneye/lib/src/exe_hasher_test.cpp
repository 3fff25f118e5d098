// ExeHasher on real files and real running processes.

#include <airssys/daemoneye/exe_hasher.hpp>

#include "test_temp_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& s, std::int64_t mtime) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
  }
  const timespec ts[2] = {{mtime, 0}, {mtime, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, 0), 0);
}

osl::UniqueFd open_ro(const fs::path& p) { return osl::UniqueFd(::open(p.c_str(), O_RDONLY | O_CLOEXEC)); }

constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// A running copy of /bin/sleep; killed and reaped at scope end.
struct Sleeper {
  pid_t pid = -1;
  explicit Sleeper(const fs::path& exe) {
    int sync[2];
    if (::pipe2(sync, O_CLOEXEC) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      const char* argv[] = {exe.c_str(), "1000", nullptr};
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(sync[1]);
    char b;
    (void)!::read(sync[0], &b, 1);  // EOF once exec'd
    ::close(sync[0]);
  }
  ~Sleeper() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

TEST(ExeHasher, KnownDigestAndCacheByIdentity) {
  testing::TempDir dir;
  const fs::path f = dir.path() / "abc";
  write(f, "abc", 1000);
  ExeHasher h;
  EXPECT_EQ(h.hash_fd(open_ro(f).get()), kAbc);
  EXPECT_EQ(h.stats().misses, 1u);
  EXPECT_EQ(h.hash_fd(open_ro(f).get()), kAbc);
  EXPECT_EQ(h.stats().hits, 1u);
  EXPECT_EQ(h.stats().misses, 1u);
  // Rewritten in place (same inode, new mtime): hashed again.
  write(f, "abd", 2000);
  const std::string again = h.hash_fd(open_ro(f).get());
  EXPECT_NE(again, kAbc);
  EXPECT_EQ(again.size(), 64u);
  EXPECT_EQ(h.stats().misses, 2u);
  EXPECT_EQ(again, sha256_fd(open_ro(f).get()));
}

// Rewritten in place with the same size and its mtime put back (utimensat,
// as `touch -r` or os.utime do): only ctime tells, and it must.
TEST(ExeHasher, ARewriteWithItsMtimePutBackIsHashedAgain) {
  testing::TempDir dir;
  const fs::path f = dir.path() / "tool";
  write(f, "abc", 1000);
  struct ::stat first{};
  ASSERT_EQ(::stat(f.c_str(), &first), 0);
  ExeHasher h;
  EXPECT_EQ(h.hash_fd(open_ro(f).get()), kAbc);
  // Let the clock move past the first ctime (ctime has the kernel's coarse
  // granularity), then rewrite one byte through the same inode.
  struct ::stat now{};
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const osl::UniqueFd probe(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_EQ(::futimens(probe.get(), nullptr), 0);
    ASSERT_EQ(::fstat(probe.get(), &now), 0);
  } while (now.st_ctim.tv_sec == first.st_ctim.tv_sec && now.st_ctim.tv_nsec == first.st_ctim.tv_nsec);
  {
    const osl::UniqueFd w(::open(f.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(w);
    ASSERT_EQ(::pwrite(w.get(), "d", 1, 2), 1);
  }
  const timespec back[2] = {first.st_atim, first.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), back, 0), 0);
  struct ::stat second{};
  ASSERT_EQ(::stat(f.c_str(), &second), 0);
  ASSERT_EQ(second.st_ino, first.st_ino);
  ASSERT_EQ(second.st_size, first.st_size);
  ASSERT_EQ(second.st_mtim.tv_sec, first.st_mtim.tv_sec);
  ASSERT_EQ(second.st_mtim.tv_nsec, first.st_mtim.tv_nsec);

  const std::string again = h.hash_fd(open_ro(f).get());
  EXPECT_EQ(again, sha256_fd(open_ro(f).get()));
  EXPECT_NE(again, kAbc) << "the old hash was served from the cache";
  EXPECT_EQ(h.stats().misses, 2u);
  EXPECT_EQ(h.stats().hits, 0u);
}

TEST(ExeHasher, SkipsWhatItMustNotHash) {
  testing::TempDir dir;
  const fs::path f = dir.path() / "big";
  write(f, "0123456789", 1000);
  ExeHasher small(ExeHasherOptions{.max_size = 9});
  EXPECT_EQ(small.hash_fd(open_ro(f).get()), "");
  EXPECT_EQ(small.stats().skipped, 1u);
  ExeHasher h;
  EXPECT_EQ(h.hash_fd(open_ro("/dev/null").get()), "");  // not a regular file
  EXPECT_EQ(h.hash_fd(open_ro(dir.path()).get()), "");     // a directory
  EXPECT_EQ(h.hash_fd(-1), "");
  EXPECT_EQ(h.stats().skipped, 3u);
  EXPECT_EQ(h.cached(), 0u);
}

TEST(ExeHasher, EvictsLeastRecentlyUsed) {
  testing::TempDir dir;
  ExeHasher h(ExeHasherOptions{.max_entries = 2});
  for (int i = 0; i < 3; ++i) write(dir.path() / std::to_string(i), std::string(i + 1, 'x'), 1000);
  (void)h.hash_fd(open_ro(dir.path() / "0").get());
  (void)h.hash_fd(open_ro(dir.path() / "1").get());
  (void)h.hash_fd(open_ro(dir.path() / "0").get());  // 0 is now the most recent
  (void)h.hash_fd(open_ro(dir.path() / "2").get());  // evicts 1
  EXPECT_EQ(h.cached(), 2u);
  EXPECT_EQ(h.stats().evictions, 1u);
  (void)h.hash_fd(open_ro(dir.path() / "0").get());
  EXPECT_EQ(h.stats().hits, 2u);
  (void)h.hash_fd(open_ro(dir.path() / "1").get());
  EXPECT_EQ(h.stats().misses, 4u);
}

TEST(ExeHasher, RunningProcessThroughItsExeLink) {
  testing::TempDir dir;
  const fs::path exe = dir.path() / "sleep copy";
  fs::copy_file("/bin/sleep", exe);
  fs::permissions(exe, fs::perms::owner_all);
  const std::string want = sha256_fd(open_ro(exe).get());
  ASSERT_EQ(want.size(), 64u);

  Sleeper a(exe), b(exe);
  ASSERT_GT(a.pid, 0);
  ASSERT_GT(b.pid, 0);
  auto reader = osl::proc::Reader::open();
  ASSERT_TRUE(reader);
  auto pa = reader->open_process(a.pid);
  auto pb = reader->open_process(b.pid);
  ASSERT_TRUE(pa && pb);
  ExeHasher h;
  EXPECT_EQ(h.hash(*reader, *pa), want);
  EXPECT_EQ(h.stats().misses, 1u);
  // A second process of the same binary, with the stat the collector has: no open.
  auto st = reader->exe_stat(*pb);
  ASSERT_TRUE(st);
  EXPECT_EQ(h.hash(*reader, *pb, &*st), want);
  EXPECT_EQ(h.stats().hits, 1u);

  // Deleted while running: still hashed, through the link, from the cache.
  fs::remove(exe);
  EXPECT_EQ(h.hash(*reader, *pa), want);
  // A fresh hasher reads the deleted image itself.
  ExeHasher fresh;
  EXPECT_EQ(fresh.hash(*reader, *pa), want);
  EXPECT_EQ(fresh.stats().misses, 1u);

  // Gone: "".
  const pid_t gone = a.pid;
  ::kill(a.pid, SIGKILL);
  ::waitpid(a.pid, nullptr, 0);
  a.pid = -1;
  EXPECT_EQ(fresh.hash(*reader, *pa), "");
  EXPECT_FALSE(reader->open_process(gone));
}

}  // namespace
}  // namespace airssys::daemoneye

namespace airssys::daemoneye {
namespace {

// Three 1 MiB files and a byte budget of 1.5 MiB: one is read per
// collection (the first always is), the others wait for later collections
// and are hashed then.
TEST(ExeHasherBudget, FilesOverACollectionsByteBudgetAreHashedInALaterOne) {
  testing::TempDir tmp;
  std::vector<osl::UniqueFd> fds;
  for (int i = 0; i < 3; ++i) {
    const fs::path p = tmp.path() / ("big" + std::to_string(i));
    write(p, std::string(1024 * 1024, static_cast<char>('a' + i)), 1700000000);
    fds.push_back(open_ro(p));
    ASSERT_TRUE(fds.back());
  }
  ExeHasher h({.budget_bytes = 1536 * 1024, .budget_time = std::chrono::milliseconds(0)});
  h.begin_collection();
  EXPECT_EQ(h.hash_fd(fds[0].get()).size(), 64u);
  EXPECT_EQ(h.hash_fd(fds[1].get()), "");
  EXPECT_EQ(h.hash_fd(fds[2].get()), "");
  EXPECT_EQ(h.stats().deferred, 2u);
  EXPECT_EQ(h.hash_fd(fds[0].get()).size(), 64u) << "a cached hash costs no budget";
  h.begin_collection();
  const std::string second = h.hash_fd(fds[1].get());
  EXPECT_EQ(second.size(), 64u);
  EXPECT_EQ(h.hash_fd(fds[2].get()), "");
  h.begin_collection();
  EXPECT_EQ(h.hash_fd(fds[2].get()).size(), 64u);
  EXPECT_EQ(h.stats().misses, 3u);
  EXPECT_EQ(h.stats().deferred, 3u);
  ::lseek(fds[1].get(), 0, SEEK_SET);
  EXPECT_EQ(second, sha256_fd(fds[1].get()));
}

// The time budget: once it has run out, nothing more is read in this
// collection (the first file still is).
TEST(ExeHasherBudget, NothingMoreIsReadOnceTheTimeBudgetHasRunOut) {
  testing::TempDir tmp;
  write(tmp.path() / "a", "abc", 1700000000);
  write(tmp.path() / "b", "abd", 1700000000);
  auto a = open_ro(tmp.path() / "a"), b = open_ro(tmp.path() / "b");
  ExeHasher h({.budget_bytes = 0, .budget_time = std::chrono::milliseconds(1)});
  h.begin_collection();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the collection's time is used up
  EXPECT_EQ(h.hash_fd(a.get()), kAbc) << "the first file of a collection is always read";
  EXPECT_EQ(h.hash_fd(b.get()), "");
  EXPECT_EQ(h.stats().deferred, 1u);
  h.begin_collection();
  EXPECT_EQ(h.hash_fd(b.get()).size(), 64u);
}

TEST(ExeHasherBudget, NetworkAndFuseFileSystemsAreNeverRead) {
  for (std::int64_t magic : {0x6969ll, 0x65735546ll, 0xFF534D42ll, 0xFE534D42ll, 0x517Bll, 0x00C36400ll, 0x01021997ll})
    EXPECT_TRUE(is_remote_fs(magic)) << std::hex << magic;
  for (std::int64_t magic : {0xEF53ll /*ext4*/, 0x01021994ll /*tmpfs*/, 0x58465342ll /*xfs*/, 0x9123683Ell /*btrfs*/,
                             0x794c7630ll /*overlayfs*/})
    EXPECT_FALSE(is_remote_fs(magic)) << std::hex << magic;
  // A file here (a local file system) is read.
  testing::TempDir tmp;
  write(tmp.path() / "a", "abc", 1700000000);
  ExeHasher h;
  h.begin_collection();
  EXPECT_EQ(h.hash_fd(open_ro(tmp.path() / "a").get()), kAbc);
  EXPECT_EQ(h.stats().remote, 0u);
}

}  // namespace
}  // namespace airssys::daemoneye
