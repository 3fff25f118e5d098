// The osl::io seam's truncate and unlink (issue 13, for DaemonEye's SQLite
// VFS shim) on real files: a truncate can be made to fail and otherwise
// cuts for real; a cut counts as durable at once (crash() never brings cut
// bytes back) while what is written after it is lost unless synced; an
// unlinked file is forgotten, so a new file of the same name is cut back
// to its own synced length, not the old one's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/osl/file_io.hpp>
#include <airssys/osl/unique_fd.hpp>
#include <airssys/testing/temp_dir.hpp>
#include <cerrno>
#include <filesystem>
#include <string>

namespace io = airssys::osl::io;
using airssys::osl::UniqueFd;

namespace {

UniqueFd open_rw(const std::filesystem::path& p) {
  return UniqueFd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
}

off_t size_of(const std::filesystem::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_size : -1;
}

void put(int fd, std::size_t n, off_t at) {
  const std::string data(n, 'x');
  ASSERT_EQ(io::pwrite(fd, data.data(), data.size(), at), static_cast<ssize_t>(n));
}

TEST(FileIo, ATruncateCanBeMadeToFail) {
  airssys::testing::TempDir dir;
  const auto file = dir.path() / "wal";
  io::FaultInjection faults;
  const UniqueFd fd = open_rw(file);
  ASSERT_TRUE(fd);
  put(fd.get(), 1000, 0);
  faults.add({.call = io::FileCall::truncate, .path_contains = "wal", .error = EIO});
  errno = 0;
  EXPECT_EQ(io::ftruncate(fd.get(), 10), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(faults.fired(), 1);
  EXPECT_EQ(size_of(file), 1000);
  EXPECT_EQ(io::ftruncate(fd.get(), 10), 0);
  EXPECT_EQ(size_of(file), 10);
}

TEST(FileIo, ACutIsDurableAndWhatFollowsIsLostUnlessSynced) {
  airssys::testing::TempDir dir;
  const auto file = dir.path() / "wal";
  io::FaultInjection faults;
  const UniqueFd fd = open_rw(file);
  ASSERT_TRUE(fd);
  put(fd.get(), 4096, 0);
  ASSERT_EQ(io::fdatasync(fd.get()), 0);
  ASSERT_EQ(io::ftruncate(fd.get(), 100), 0);
  put(fd.get(), 900, 100);  // grows back to 1000, never synced
  faults.crash();
  EXPECT_EQ(size_of(file), 100);
}

TEST(FileIo, AnUnlinkedFileIsForgotten) {
  airssys::testing::TempDir dir;
  const auto file = dir.path() / "wal";
  io::FaultInjection faults;
  {
    const UniqueFd fd = open_rw(file);
    ASSERT_TRUE(fd);
    put(fd.get(), 8192, 0);
    ASSERT_EQ(io::fdatasync(fd.get()), 0);
  }
  ASSERT_EQ(io::unlinkat(AT_FDCWD, file.c_str()), 0);
  EXPECT_FALSE(std::filesystem::exists(file));
  {
    const UniqueFd fd = open_rw(file);
    ASSERT_TRUE(fd);
    put(fd.get(), 500, 0);
    ASSERT_EQ(io::fdatasync(fd.get()), 0);
    put(fd.get(), 3000, 500);  // never synced
  }
  faults.crash();
  // The old file's 8192 synced bytes must not count for the new one.
  EXPECT_EQ(size_of(file), 500);
}

}  // namespace
