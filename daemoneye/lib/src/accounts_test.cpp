// parse_passwd / parse_group over hand-written files, and AccountFile over
// real files: what is read, when it is read again, and what it refuses.

#include <airssys/daemoneye/accounts.hpp>

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using namespace std::string_literals;

void write_file(const fs::path& p, const std::string& text, fs::perms mode = fs::perms(0644)) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
  fs::permissions(p, mode);
}

TEST(Accounts, PasswdLinesAreParsedAndBadOnesSkippedAndCounted) {
  const auto got = parse_passwd(
      "root:x:0:0:root:/root:/bin/bash\n"
      "# a comment\n"
      "\n"
      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
      "toor:x:0:0::/:/bin/sh\n"                        // a second uid 0: kept, that is what a rule looks for
      "nobody:x:4294967294:65534:::\n"                 // empty fields are fine
      "short:x:5:5:too few\n"                          // skipped: 5 fields
      "long:x:6:6:a:b:c:d\n"                           // skipped: 8 fields
      "neg:x:-1:0::/:/bin/sh\n"                        // skipped: not a number
      "big:x:4294967296:0::/:/bin/sh\n"                // skipped: past 2^32-1
      ":x:7:7::/:/bin/sh\n"                            // skipped: no name
      "+nisuser::::::\n"                               // skipped: NIS include line
      "nul:x:8:8:\0:/:/bin/sh\n"                       // skipped: a NUL byte
      "last:x:9:9:no newline:/home/last:/bin/zsh"s);
  ASSERT_EQ(got.rows.size(), 5u);
  EXPECT_EQ(got.rows[0], (UserAccount{.uid = 0, .gid = 0, .username = "root", .description = "root",
                                      .directory = "/root", .shell = "/bin/bash"}));
  EXPECT_EQ(got.rows[2].username, "toor");
  EXPECT_EQ(got.rows[2].uid, 0);
  EXPECT_EQ(got.rows[3].uid, 4294967294);
  EXPECT_EQ(got.rows[3].shell, "");
  EXPECT_EQ(got.rows[4], (UserAccount{.uid = 9, .gid = 9, .username = "last", .description = "no newline",
                                      .directory = "/home/last", .shell = "/bin/zsh"}));
  EXPECT_EQ(got.skipped, 7u);
  EXPECT_FALSE(got.capped);
}

TEST(Accounts, GroupLinesAreParsedAndBadOnesSkippedAndCounted) {
  const auto got = parse_group(
      "root:x:0:\n"
      "sudo:x:27:alice,bob\n"
      "bad:x:27\n"        // skipped: 3 fields
      "worse:x:g:\n"      // skipped: gid not a number
      "nogroup:x:65534:\n");
  ASSERT_EQ(got.rows.size(), 3u);
  EXPECT_EQ(got.rows[1], (GroupAccount{.gid = 27, .groupname = "sudo"}));
  EXPECT_EQ(got.rows[2], (GroupAccount{.gid = 65534, .groupname = "nogroup"}));
  EXPECT_EQ(got.skipped, 2u);
}

TEST(Accounts, EntriesPastTheCapAreNotTaken) {
  std::string text;
  for (std::size_t i = 0; i < kMaxAccountEntries + 10; ++i) text += "u" + std::to_string(i) + ":x:" + std::to_string(i) + ":0::/:\n";
  const auto got = parse_passwd(text);
  EXPECT_EQ(got.rows.size(), kMaxAccountEntries);
  EXPECT_TRUE(got.capped);
  EXPECT_EQ(got.rows.back().username, "u" + std::to_string(kMaxAccountEntries - 1));
}

// Read once; not read again while the file is unchanged; read again after
// an edit in place and after a rename over it (what vipw and useradd do).
TEST(Accounts, AFileIsReadAgainOnlyWhenItChanged) {
  TempDir dir;
  const fs::path p = dir / "passwd";
  write_file(p, "root:x:0:0:root:/root:/bin/bash\n");
  AccountFile<UserAccount> f(p);
  auto r = f.refresh();
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(*r);
  ASSERT_TRUE(f.rows());
  EXPECT_EQ(f.rows()->rows.size(), 1u);
  for (int i = 0; i < 3; ++i) {
    r = f.refresh();
    ASSERT_TRUE(r) << r.error();
    EXPECT_FALSE(*r);
  }
  EXPECT_EQ(f.reads(), 1u);
  // In place, same size: only mtime tells (set it apart explicitly, as a
  // coarse clock could give the same nanoseconds).
  write_file(p, "toor:x:0:0:root:/root:/bin/bash\n");
  struct timespec later[2] = {{0, UTIME_OMIT}, {::time(nullptr) + 5, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), later, 0), 0);
  r = f.refresh();
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(*r);
  EXPECT_EQ(f.rows()->rows.at(0).username, "toor");
  // A new file renamed over it.
  write_file(dir / "passwd.new", "toor:x:0:0:root:/root:/bin/bash\nbin:x:2:2::/bin:\n");
  fs::rename(dir / "passwd.new", p);
  r = f.refresh();
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(*r);
  EXPECT_EQ(f.rows()->rows.size(), 2u);
  EXPECT_EQ(f.reads(), 3u);
}

// A symbolic link (at the end or on the way), a file others may write, a
// directory, a missing or oversized file: refused with the reason, and the
// rows last read are kept.
TEST(Accounts, WhatIsRefusedSaysWhyAndKeepsTheLastRows) {
  TempDir dir;
  const fs::path p = dir / "passwd";
  write_file(p, "root:x:0:0:root:/root:/bin/bash\n");
  AccountFile<UserAccount> f(p);
  ASSERT_TRUE(f.refresh());

  write_file(dir / "planted", "evil:x:0:0::/:/bin/sh\n");
  fs::remove(p);
  fs::create_symlink(dir / "planted", p);
  auto r = f.refresh();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "refusing " + p.string() + ": a symbolic link on its path (not followed)");
  ASSERT_TRUE(f.rows());
  EXPECT_EQ(f.rows()->rows.at(0).username, "root");

  fs::create_directory(dir / "real");
  write_file(dir / "real" / "passwd", "root:x:0:0:root:/root:/bin/bash\n");
  fs::create_directory_symlink(dir / "real", dir / "via");
  AccountFile<UserAccount> via(dir / "via" / "passwd");
  r = via.refresh();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "refusing " + (dir / "via" / "passwd").string() + ": a symbolic link on its path (not followed)");

  const fs::path w = dir / "writable";
  write_file(w, "root:x:0:0:root:/root:/bin/bash\n", fs::perms(0666));
  AccountFile<UserAccount> ww(w);
  r = ww.refresh();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "refusing " + w.string() + ": writable by everyone (mode 0666); only its owner may write it");
  EXPECT_FALSE(ww.rows());

  AccountFile<UserAccount> d(dir / "real");
  r = d.refresh();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "refusing " + (dir / "real").string() + ": not a regular file");

  AccountFile<GroupAccount> missing(dir / "nosuch");
  r = missing.refresh();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::not_found);

  const fs::path big = dir / "big";
  write_file(big, std::string(kMaxAccountFileBytes + 1, '#'));
  AccountFile<UserAccount> b(big);
  r = b.refresh();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "refusing " + big.string() + ": 4194305 bytes, more than 4 MiB");
}

}  // namespace
}  // namespace airssys::daemoneye
