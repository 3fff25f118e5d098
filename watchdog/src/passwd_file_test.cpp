// The passwd(5) reader a static task-watchdog names its user with
// (passwd_file.hpp): real files in a temp dir.
#include "passwd_file.hpp"

#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>

using namespace airssys::watchdog;
using airssys::testing::TempDir;

namespace {

std::filesystem::path write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace

TEST(PasswdFile, FindsTheFirstEntryWithTheUid) {
  TempDir dir("watchdog-passwd");
  const auto file = write_file(dir, "passwd",
                               "root:x:0:0:root:/root:/bin/bash\n"
                               "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
                               "alias:x:1000:1000::/home/alice:/bin/sh\n"
                               "bob:x:4294967294:100::/:/bin/sh");  // no newline at the end
  EXPECT_EQ(user_name_in_passwd_file(file, 0), "root");
  EXPECT_EQ(user_name_in_passwd_file(file, 1000), "alice");
  EXPECT_EQ(user_name_in_passwd_file(file, 4294967294U), "bob");
  EXPECT_EQ(user_name_or_uid(file, 1000), "alice");
}

TEST(PasswdFile, AnUnknownUidIsUidN) {
  TempDir dir("watchdog-passwd");
  const auto file = write_file(dir, "passwd", "root:x:0:0:root:/root:/bin/bash\n");
  EXPECT_EQ(user_name_in_passwd_file(file, 54321), std::nullopt);
  EXPECT_EQ(user_name_or_uid(file, 54321), "uid-54321");
  const auto empty = write_file(dir, "empty", "");
  EXPECT_EQ(user_name_or_uid(empty, 0), "uid-0");
}

TEST(PasswdFile, MalformedLinesAreSkipped) {
  TempDir dir("watchdog-passwd");
  const auto file = write_file(dir, "passwd",
                               "\n"
                               "garbage line\n"
                               "# comment:x:7:7::/:/bin/sh\n"
                               "few:x:7\n"
                               "word:x:seven:7::/:/bin/sh\n"
                               "negative:x:-7:7::/:/bin/sh\n"
                               "huge:x:4294967303:7::/:/bin/sh\n"  // 2^32 + 7
                               ":x:7:7:empty name:/:/bin/sh\n"
                               "+nis:x:7:7::/:/bin/sh\n"
                               "-nis:x:7:7::/:/bin/sh\n"
                               "+\n"
                               "seven:x:7:7::/:/bin/sh\n"
                               "more garbage\n");
  EXPECT_EQ(user_name_in_passwd_file(file, 7), "seven");
  // A NIS compat line parses as uid 0 ("+" and "+name" without fields);
  // it must never name root.
  const auto compat = write_file(dir, "compat", "+\n+nis\n-nis\n");
  EXPECT_EQ(user_name_or_uid(compat, 0), "uid-0");
}

TEST(PasswdFile, LongLinesAreReadUpToTheBound) {
  TempDir dir("watchdog-passwd");
  const std::string gecos(20'000, 'g');  // past the first 4 KiB buffer
  const auto file = write_file(dir, "passwd", "long:x:1:1:" + gecos + ":/:/bin/sh\nafter:x:2:2::/:/bin/sh\n");
  EXPECT_EQ(user_name_in_passwd_file(file, 1), "long");
  EXPECT_EQ(user_name_in_passwd_file(file, 2), "after");
  // A line longer than kPasswdLineMaxBytes ends the search (no unbounded buffer).
  const std::string too_long(kPasswdLineMaxBytes + 1, 'g');
  const auto over = write_file(dir, "over", "x:x:3:3:" + too_long + ":/:/bin/sh\nafter:x:2:2::/:/bin/sh\n");
  EXPECT_EQ(user_name_in_passwd_file(over, 2), std::nullopt);
  EXPECT_EQ(user_name_or_uid(over, 2), "uid-2");
}

TEST(PasswdFile, OnlyARegularFileIsRead) {
  TempDir dir("watchdog-passwd");
  const auto file = write_file(dir, "passwd", "alice:x:1000:1000::/:/bin/sh\n");
  EXPECT_EQ(user_name_in_passwd_file(dir / "missing", 1000), std::nullopt);
  std::filesystem::create_symlink(file, dir / "link");
  EXPECT_EQ(user_name_in_passwd_file(dir / "link", 1000), std::nullopt);  // O_NOFOLLOW
  EXPECT_EQ(user_name_in_passwd_file(dir.path(), 1000), std::nullopt);
  // A FIFO neither hangs the open nor is read.
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(user_name_in_passwd_file(dir / "fifo", 1000), std::nullopt);
}

TEST(PasswdFile, AFileLargerThanTheBoundIsNotReadAtAll) {
  TempDir dir("watchdog-passwd");
  const std::string entry = "alice:x:1000:1000::/:/bin/sh\n";
  // Sparse: NUL bytes after the entry, no disk used.
  const auto at = write_file(dir, "at", entry);
  std::filesystem::resize_file(at, kPasswdFileMaxBytes);
  EXPECT_EQ(user_name_in_passwd_file(at, 1000), "alice");
  const auto over = write_file(dir, "over", entry);
  std::filesystem::resize_file(over, kPasswdFileMaxBytes + 1);
  EXPECT_EQ(user_name_in_passwd_file(over, 1000), std::nullopt);
  EXPECT_EQ(user_name_or_uid(over, 1000), "uid-1000");
}
