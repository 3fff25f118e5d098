// Path edge cases: a trailing "/" names a directory (ENOTDIR instead of
// acting on a symlink or file), CreateDir{recursive} through a symlinked
// ancestor whose tail does not exist yet, and fs.set_permissions on a system
// without /proc. Real files, links and directories in a temporary directory.

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

namespace stdfs = std::filesystem;
using test::TempDir;

Policy policy_for(const TempDir& dir) {
  return test::policy_from(fmt::format(R"(
version: 1
rules:
  - id: work
    effect: allow
    principals: [alice]
    operations: ["fs.*"]
    resources: ["{0}/work/**"]
)", dir.str()));
}

class PathEdges : public ::testing::Test {
 protected:
  void SetUp() override {
    stdfs::create_directories(dir / "work" / "real");
    stdfs::create_directories(dir / "outside");
    test::write_file(dir / "work" / "f", "file");
    stdfs::create_directory_symlink(dir / "work" / "real", dir / "work" / "link");
    stdfs::create_symlink(dir / "work" / "f", dir / "work" / "flink");
    stdfs::create_directory_symlink(dir / "outside", dir / "work" / "outlink");
    SystemOptions o;
    o.policy = policy_for(dir);
    sys = std::make_unique<System>(std::move(o));
  }
  std::string w(const std::string& rel) const { return (dir / "work").string() + "/" + rel; }

  static void expect_enotdir(const Error& e) {
    EXPECT_EQ(e.category, ErrorCategory::not_found) << e.to_string();
    EXPECT_EQ(e.errno_value, ENOTDIR) << e.to_string();
  }

  TempDir dir;
  std::unique_ptr<System> sys;
};

TEST_F(PathEdges, TrailingSlashOnASymlinkFailsInsteadOfDeletingIt) {
  for (bool recursive : {false, true}) {
    auto r = sys->run("alice", fs::Delete{.path = w("link/"), .recursive = recursive});
    ASSERT_FALSE(r);
    expect_enotdir(r.error());
    EXPECT_TRUE(stdfs::is_symlink(dir / "work" / "link"));
    EXPECT_TRUE(stdfs::is_directory(dir / "work" / "real"));
  }
  auto dot = sys->run("alice", fs::Delete{.path = w("link/."), .recursive = true});
  ASSERT_FALSE(dot);
  expect_enotdir(dot.error());
  auto st = sys->run("alice", fs::Stat{.path = w("link/"), .follow_symlinks = false});
  ASSERT_FALSE(st);
  expect_enotdir(st.error());
  auto mv = sys->run("alice", fs::Rename{.from = w("link/"), .to = w("moved")});
  ASSERT_FALSE(mv);
  expect_enotdir(mv.error());
  EXPECT_TRUE(stdfs::is_symlink(dir / "work" / "link"));
}

TEST_F(PathEdges, TrailingSlashOnAFileFails) {
  auto del = sys->run("alice", fs::Delete{.path = w("f/")});
  ASSERT_FALSE(del);
  expect_enotdir(del.error());
  EXPECT_TRUE(stdfs::exists(dir / "work" / "f"));
  auto rd = sys->run("alice", fs::Read{.path = w("f/")});
  ASSERT_FALSE(rd);
  expect_enotdir(rd.error());
  auto rd_link = sys->run("alice", fs::Read{.path = w("flink/")});
  ASSERT_FALSE(rd_link);
  expect_enotdir(rd_link.error());
  auto wr = sys->run("alice", fs::Write{.path = w("f/"), .data = "x"});
  ASSERT_FALSE(wr);
  expect_enotdir(wr.error());
  EXPECT_EQ(test::read_file(dir / "work" / "f"), "file");
  auto chmod = sys->run("alice", fs::SetPermissions{.path = w("f/"), .mode = 0644});
  ASSERT_FALSE(chmod);
  expect_enotdir(chmod.error());
  auto mv = sys->run("alice", fs::Rename{.from = w("f"), .to = w("g/")});
  ASSERT_FALSE(mv);
  expect_enotdir(mv.error());
  EXPECT_TRUE(stdfs::exists(dir / "work" / "f"));
  EXPECT_FALSE(stdfs::exists(dir / "work" / "g"));
}

TEST_F(PathEdges, TrailingSlashOnAMissingNameCreatesNoFile) {
  auto wr = sys->run("alice", fs::Write{.path = w("new/"), .data = "x"});
  ASSERT_FALSE(wr);
  EXPECT_EQ(wr.error().category, ErrorCategory::not_found);
  EXPECT_FALSE(stdfs::exists(dir / "work" / "new"));
}

TEST_F(PathEdges, TrailingSlashOnADirectoryStillWorks) {
  auto ls = sys->run("alice", fs::List{.path = w("link/")});  // followed to a directory: fine
  ASSERT_TRUE(ls) << ls.error().to_string();
  auto mk = sys->run("alice", fs::CreateDir{.path = w("made/")});
  ASSERT_TRUE(mk) << mk.error().to_string();
  EXPECT_TRUE(stdfs::is_directory(dir / "work" / "made"));
  auto mv = sys->run("alice", fs::Rename{.from = w("made/"), .to = w("renamed/")});
  ASSERT_TRUE(mv) << mv.error().to_string();
  auto del = sys->run("alice", fs::Delete{.path = w("renamed/")});
  ASSERT_TRUE(del) << del.error().to_string();
  EXPECT_FALSE(stdfs::exists(dir / "work" / "renamed"));
}

TEST_F(PathEdges, CreateDirRecursiveThroughASymlinkedAncestor) {
  auto r = sys->run("alice", fs::CreateDir{.path = w("link/a/b/c"), .recursive = true});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(stdfs::is_directory(dir / "work" / "real" / "a" / "b" / "c"));
  EXPECT_TRUE(stdfs::is_symlink(dir / "work" / "link"));
  // Again, now that part of it exists.
  auto again = sys->run("alice", fs::CreateDir{.path = w("link/a/b/d"), .recursive = true});
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_TRUE(stdfs::is_directory(dir / "work" / "real" / "a" / "b" / "d"));
}

TEST_F(PathEdges, CreateDirRecursiveThroughASymlinkOutOfTheAllowedTreeIsDenied) {
  // The policy sees the canonical path (outside/a/b), not work/outlink/a/b.
  auto r = sys->run("alice", fs::CreateDir{.path = w("outlink/a/b"), .recursive = true});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::denied) << r.error().to_string();
  EXPECT_FALSE(stdfs::exists(dir / "outside" / "a"));
}

// The child: a user and mount namespace with an empty tmpfs over /proc, then
// fs.set_permissions on a file and a directory. Exit code: 0 ok, 2 /proc still
// there, 3/4 the operations failed, 77 namespaces unavailable.
int set_permissions_without_proc(const TempDir& dir) {
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return 77;
  auto put = [](const char* file, const std::string& text) {
    const int fd = ::open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
  };
  if (!put("/proc/self/setgroups", "deny") || !put("/proc/self/uid_map", fmt::format("{} {} 1", uid, uid)) ||
      !put("/proc/self/gid_map", fmt::format("{} {} 1", gid, gid))) {
    return 77;
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
  if (::mount("none", "/proc", "tmpfs", 0, nullptr) != 0) return 77;
  if (::access("/proc/self/fd", F_OK) == 0) return 2;
  SystemOptions o;
  o.policy = policy_for(dir);
  System sys(std::move(o));
  if (!sys.run("alice", fs::SetPermissions{.path = (dir / "work" / "f").string(), .mode = 0640})) return 3;
  if (!sys.run("alice", fs::SetPermissions{.path = (dir / "work" / "real").string(), .mode = 0750})) return 4;
  return 0;
}

TEST_F(PathEdges, SetPermissionsWithoutProc) {
  ::chmod((dir / "work" / "f").c_str(), 0600);
  ::chmod((dir / "work" / "real").c_str(), 0700);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(set_permissions_without_proc(dir));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "no unprivileged user namespaces here";
  ASSERT_EQ(WEXITSTATUS(status), 0);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "work" / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::stat((dir / "work" / "real").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST_F(PathEdges, SetPermissionsActsOnAFinalSymlinksTarget) {
  // Through the pipeline the final symlink is followed first (flink → f).
  auto r = sys->run("alice", fs::SetPermissions{.path = w("flink"), .mode = 0604});
  ASSERT_TRUE(r) << r.error().to_string();
  struct stat st {};
  ASSERT_EQ(::stat((dir / "work" / "f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0604u);
}

// A path is the caller's text (or a name someone else created): every fs
// error shows it with its control bytes as \xNN, and a path past 256 bytes
// as its first 256 and its length. Category and wording stay as they were.
TEST_F(PathEdges, PathsInErrorsAreEscapedAndCut) {
  const std::string esc = "e\x1b[2J";     // as created on disk
  const std::string shown = "e\\x1b[2J";  // as a message shows it
  stdfs::create_directories(dir / "work" / esc / "sub");
  test::write_file(dir / "work" / esc / "sub" / "f", "x");
  stdfs::create_symlink(dir / "work" / "gone", dir / "work" / (esc + "link"));
  const std::string base = (dir / "work").string() + "/";
  const auto expect_shown = [&](const auto& r, ErrorCategory c, const std::string& text) {
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().category, c) << r.error().to_string();
    EXPECT_EQ(r.error().message, text);
    EXPECT_EQ(r.error().to_string().find('\x1b'), std::string::npos) << r.error().to_string();
  };
  // The resolver: a missing directory on the way, a dangling symbolic link,
  // a trailing '/' on a file.
  expect_shown(sys->run("alice", fs::Read{.path = w(esc + "/no/f")}), ErrorCategory::not_found,
               base + shown + "/no: No such file or directory");
  expect_shown(sys->run("alice", fs::Read{.path = w(esc + "link")}), ErrorCategory::not_found,
               base + shown + "link: dangling symbolic link");
  expect_shown(sys->run("alice", fs::Stat{.path = w(esc + "/sub/f/")}), ErrorCategory::not_found,
               base + shown + "/sub/f/: not a directory");
  // The executors: open_beneath, read, list, create, delete, rename.
  expect_shown(sys->run("alice", fs::Read{.path = w(esc + "/missing")}), ErrorCategory::not_found,
               base + shown + "/missing: No such file or directory");
  expect_shown(sys->run("alice", fs::Read{.path = w(esc + "/sub")}), ErrorCategory::invalid_argument,
               base + shown + "/sub: is a directory; use fs.list");
  expect_shown(sys->run("alice", fs::List{.path = w(esc + "/sub/f")}), ErrorCategory::not_found,
               base + shown + "/sub/f: Not a directory");
  expect_shown(sys->run("alice", fs::CreateDir{.path = w(esc + "/sub")}), ErrorCategory::already_exists,
               "creating directory " + base + shown + "/sub: File exists");
  expect_shown(sys->run("alice", fs::Delete{.path = w(esc)}), ErrorCategory::invalid_argument,
               base + shown + ": directory not empty; delete it with the recursive flag");
  expect_shown(sys->run("alice", fs::Rename{.from = w(esc + "/sub/f"), .to = w(esc + "/nodir/g")}),
               ErrorCategory::not_found,
               base + shown + "/nodir: No such file or directory");

  // Past 256 bytes: the first 128, the whole length and the last 128 (two
  // 200-byte directories: each name is within NAME_MAX, the path is not
  // short; the end shows which file is missing).
  const std::string a(200, 'a');
  const std::string b(200, 'b');
  stdfs::create_directories(dir / "work" / a / b);
  const std::string missing = w(a + "/" + b + "/missing");
  auto r = sys->run("alice", fs::Read{.path = missing});
  expect_shown(r, ErrorCategory::not_found,
               fmt::format("{}… ({} bytes) …{}: No such file or directory", missing.substr(0, 128), missing.size(),
                           missing.substr(missing.size() - 128)));
}

// Review of 0082308: paths are shown unquoted, so a ' in one is shown as it
// is (o\x27brien could not be copied or grepped); \ is still \x5c.
TEST_F(PathEdges, AQuoteInAPathIsShownAsItIs) {
  stdfs::create_directories(dir / "work" / "o'brien");
  const std::string base = (dir / "work").string() + "/";
  auto r = sys->run("alice", fs::Read{.path = w("o'brien/nofile")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, base + "o'brien/nofile: No such file or directory");
  stdfs::create_directories(dir / "work" / "back\\slash");
  r = sys->run("alice", fs::Read{.path = w("back\\slash/nofile")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, base + "back\\x5cslash/nofile: No such file or directory");
}

}  // namespace
}  // namespace airssys::osl
