// parse_maps_line on the kernel's line shapes, and read_executable_maps over
// this process's real /proc/self/maps and over files of the test's own (a
// directory standing in for /proc/PID): only executable regions, bounds.

#include <airssys/daemoneye/memory_map.hpp>

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

TEST(MemoryMap, ParsesOsquerysColumnsFromAMapsLine) {
  auto r = parse_maps_line("7f3a1c000000-7f3a1c021000 r-xp 0001a000 fd:01 1311234                    /usr/lib/x86_64-linux-gnu/libz.so.1.2.13", 42);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pid, 42);
  EXPECT_EQ(r->start, "0x7f3a1c000000");
  EXPECT_EQ(r->end, "0x7f3a1c021000");
  EXPECT_EQ(r->permissions, "r-xp");
  EXPECT_EQ(r->offset, 0x1a000);
  EXPECT_EQ(r->device, "fd:01");
  EXPECT_EQ(r->inode, 1311234);
  EXPECT_EQ(r->path, "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13");
  EXPECT_EQ(r->pseudo, 0);
}

TEST(MemoryMap, PseudoIsANameWithoutAFileAndAPathKeepsSpacesAndDeleted) {
  auto vdso = parse_maps_line("7ffd5e1f3000-7ffd5e1f5000 r-xp 00000000 00:00 0                          [vdso]", 1);
  ASSERT_TRUE(vdso);
  EXPECT_EQ(vdso->path, "[vdso]");
  EXPECT_EQ(vdso->pseudo, 1);
  auto anon = parse_maps_line("7f0000000000-7f0000001000 rwxp 00000000 00:00 0 ", 1);
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->path, "");
  EXPECT_EQ(anon->pseudo, 0);  // osquery: pseudo needs a name
  auto memfd = parse_maps_line("7fc7f4bc2000-7fc7f4c95000 r-xp 0000a000 00:01 1024    /memfd:a b (deleted)", 1);
  ASSERT_TRUE(memfd);
  EXPECT_EQ(memfd->path, "/memfd:a b (deleted)");
  EXPECT_EQ(memfd->inode, 1024);
  EXPECT_EQ(memfd->pseudo, 0);
}

TEST(MemoryMap, MalformedLinesAreNotRows) {
  for (const char* bad : {"", "garbage", "7f00-7f01 r-xp", "7f00-zz r-xp 0 00:00 0 x", "7f00-7f01 r-x 0 00:00 0 x",
                          "7f00-7f01 r-xp 00000000 0000 0 x", "7f00-7f01 r-xp 00000000 00:00 12a x"}) {
    EXPECT_FALSE(parse_maps_line(bad, 1)) << bad;
  }
}

TEST(MemoryMap, OurOwnMapsHoldOnlyExecutableRegionsAndTheTestProgram) {
  const int self = ::open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(self, 0);
  const MapsRead got = read_executable_maps(self, 7);
  ::close(self);
  ASSERT_TRUE(got.ok);
  EXPECT_FALSE(got.cut_bytes);
  EXPECT_FALSE(got.cut_rows);
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  struct ::stat st {};
  ASSERT_EQ(::stat(exe.c_str(), &st), 0);
  bool saw_exe = false, saw_vdso = false;
  for (const auto& r : got.rows) {
    EXPECT_EQ(r.permissions[2], 'x') << r.path;
    EXPECT_EQ(r.pid, 7);
    if (r.path == exe.string()) {
      saw_exe = true;
      EXPECT_EQ(r.inode, static_cast<std::int64_t>(st.st_ino));
    }
    if (r.path == "[vdso]") saw_vdso = r.pseudo == 1;
  }
  EXPECT_TRUE(saw_exe) << exe;
  EXPECT_TRUE(saw_vdso);
}

TEST(MemoryMap, ReadsAreBoundedInBytesAndRows) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    // Two lines per region: one executable, one not.
    text += "7f0000000000-7f0000001000 r--p 00000000 fd:01 10 /usr/lib/a.so\n";
    text += "7f0000001000-7f0000002000 r-xp 00001000 fd:01 10 /usr/lib/a.so\n";
  }
  std::ofstream(dir.path() / "maps") << text;
  const int d = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(d, 0);
  const MapsRead all = read_executable_maps(d, 1, text.size() + 1, 10000);
  EXPECT_TRUE(all.ok);
  EXPECT_EQ(all.rows.size(), 5000u);
  EXPECT_FALSE(all.cut_bytes || all.cut_rows);
  // Cut: the rows up to the bound, and the mark.
  const MapsRead rows = read_executable_maps(d, 1, text.size() + 1, 100);
  ASSERT_EQ(rows.rows.size(), 101u);
  EXPECT_TRUE(rows.cut_rows);
  EXPECT_EQ(rows.rows.back().path, kMapsCutPath);
  EXPECT_EQ(rows.rows.back().inode, 0);
  EXPECT_EQ(rows.rows.back().pseudo, 1);
  const MapsRead bytes = read_executable_maps(d, 1, 64 * 1024, 10000);
  EXPECT_TRUE(bytes.cut_bytes);
  EXPECT_LT(bytes.rows.size(), 5000u);
  EXPECT_GT(bytes.rows.size(), 0u);
  EXPECT_EQ(bytes.rows.back().path, kMapsCutPath);
  ::close(d);

  // A payload mapped above the padding is still found past either bound
  // (within kMapsScanFactor times the byte bound), and at most
  // kMapsExtraMax such rows are kept.
  fs::create_directory(dir.path() / "padded");
  std::string padded = text;
  padded += "7f1000000000-7f1000001000 r-xp 00000000 08:01 77 /tmp/x/payload.so\n";
  padded += "7f1000001000-7f1000002000 r-xp 00000000 fd:01 10 /usr/lib/b.so\n";
  for (int i = 0; i < 100; ++i) padded += "7f2000000000-7f2000001000 r-xp 00000000 00:01 9 /memfd:x (deleted)\n";
  std::ofstream(dir.path() / "padded" / "maps") << padded;
  const int p = ::open((dir.path() / "padded").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(p, 0);
  for (const MapsRead& got : {read_executable_maps(p, 1, padded.size() + 1, 100),
                              read_executable_maps(p, 1, padded.size() / 3, 10000)}) {
    EXPECT_TRUE(got.cut_rows || got.cut_bytes);
    ASSERT_GE(got.rows.size(), 2u);
    EXPECT_EQ(got.rows.back().path, kMapsCutPath);
    const auto payload = std::ranges::find(got.rows, std::string("/tmp/x/payload.so"), &MemoryMapRow::path);
    ASSERT_NE(payload, got.rows.end());
    EXPECT_EQ(payload->inode, 77);
    EXPECT_EQ(std::ranges::count(got.rows, std::string("/usr/lib/b.so"), &MemoryMapRow::path), 0);
    EXPECT_EQ(std::ranges::count(got.rows, std::string("/memfd:x (deleted)"), &MemoryMapRow::path),
              static_cast<std::ptrdiff_t>(kMapsExtraMax) - 1);
  }
  ::close(p);
  // A directory without maps (the process went): not ok, no rows.
  fs::create_directory(dir.path() / "gone");
  const int empty = ::open((dir.path() / "gone").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  EXPECT_FALSE(read_executable_maps(empty, 1).ok);
  ::close(empty);
}

}  // namespace
}  // namespace airssys::daemoneye
