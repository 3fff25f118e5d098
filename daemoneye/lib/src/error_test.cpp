// daemoneye::Error: the category a real failed system call maps to, the
// printed form, and equality over the whole value.

#include <airssys/daemoneye/error.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace airssys::daemoneye {
namespace {

// errno of open(2) on `path` with `flags`; 0 if it opened.
int open_errno(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return 0;
  }
  return errno;
}

class ErrorFromErrno : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/de_error_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unlink((dir_ + "/link").c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(ErrorFromErrno, MissingFileIsNotFoundAndNamesWhat) {
  int err = open_errno(dir_ + "/absent", O_RDONLY);
  ASSERT_EQ(err, ENOENT);
  Error e = Error::from_errno(err, "open " + dir_ + "/absent");
  EXPECT_EQ(e.category, ErrorCategory::not_found);
  EXPECT_EQ(e.errno_value, ENOENT);
  EXPECT_EQ(e.message, "open " + dir_ + "/absent: No such file or directory");
  EXPECT_EQ(e.to_string(), "not_found: open " + dir_ + "/absent: No such file or directory");
}

TEST_F(ErrorFromErrno, SymlinkRefusedByNoFollowIsDenied) {
  ASSERT_EQ(::symlink("/etc/hostname", (dir_ + "/link").c_str()), 0);
  int err = open_errno(dir_ + "/link", O_RDONLY | O_NOFOLLOW);
  ASSERT_EQ(err, ELOOP);
  EXPECT_EQ(Error::from_errno(err, "open").category, ErrorCategory::denied);
}

TEST_F(ErrorFromErrno, DirectoryOpenedForWritingIsInvalidInput) {
  int err = open_errno(dir_, O_WRONLY);
  ASSERT_EQ(err, EISDIR);
  EXPECT_EQ(Error::from_errno(err, "open").category, ErrorCategory::invalid_input);
}

TEST(ErrorCategoryOf, ErrnosCallersReactTo) {
  EXPECT_EQ(Error::from_errno(EACCES, "x").category, ErrorCategory::denied);
  EXPECT_EQ(Error::from_errno(EAGAIN, "x").category, ErrorCategory::busy);
  EXPECT_EQ(Error::from_errno(ETIMEDOUT, "x").category, ErrorCategory::timeout);
  EXPECT_EQ(Error::from_errno(ENOSPC, "x").category, ErrorCategory::resource_exhausted);
  EXPECT_EQ(Error::from_errno(ECONNREFUSED, "x").category, ErrorCategory::unavailable);
  EXPECT_EQ(Error::from_errno(EIO, "x").category, ErrorCategory::io);
}

TEST(ErrorMake, HasNoErrnoAndPrintsCategoryFirst) {
  Error e = Error::make(ErrorCategory::invalid_input, "./de.yaml:3: unknown key 'intervl' in scan");
  EXPECT_EQ(e.errno_value, 0);
  EXPECT_EQ(e.to_string(), "invalid_input: ./de.yaml:3: unknown key 'intervl' in scan");
}

TEST(ErrorCategoryName, EveryCategoryHasItsOwnName) {
  EXPECT_EQ(to_string(ErrorCategory::invalid_input), "invalid_input");
  EXPECT_EQ(to_string(ErrorCategory::not_found), "not_found");
  EXPECT_EQ(to_string(ErrorCategory::denied), "denied");
  EXPECT_EQ(to_string(ErrorCategory::busy), "busy");
  EXPECT_EQ(to_string(ErrorCategory::timeout), "timeout");
  EXPECT_EQ(to_string(ErrorCategory::resource_exhausted), "resource_exhausted");
  EXPECT_EQ(to_string(ErrorCategory::unavailable), "unavailable");
  EXPECT_EQ(to_string(ErrorCategory::corrupt), "corrupt");
  EXPECT_EQ(to_string(ErrorCategory::io), "io");
  EXPECT_EQ(to_string(ErrorCategory::internal), "internal");
}

TEST(ErrorEquality, ComparesTheWholeValue) {
  Error a = Error::make(ErrorCategory::timeout, "query ran past 5s");
  EXPECT_EQ(a, Error::make(ErrorCategory::timeout, "query ran past 5s"));
  EXPECT_NE(a, Error::make(ErrorCategory::timeout, "query ran past 6s"));
  EXPECT_NE(a, Error::make(ErrorCategory::io, "query ran past 5s"));
  Error b = a;
  b.errno_value = ETIMEDOUT;
  EXPECT_NE(a, b);
}

TEST(ErrorFail, ReturnsAnUnexpected) {
  auto f = []() -> Result<int> { return fail(ErrorCategory::not_found, "no rule 'x'"); };
  auto r = f();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Error::make(ErrorCategory::not_found, "no rule 'x'"));
  auto g = []() -> Result<void> { return fail_errno(EACCES, "open /etc/shadow"); };
  auto s = g();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().category, ErrorCategory::denied);
  EXPECT_EQ(s.error().errno_value, EACCES);
}

}  // namespace
}  // namespace airssys::daemoneye
