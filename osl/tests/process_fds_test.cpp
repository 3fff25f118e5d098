// A spawned child gets stdin/stdout/stderr and nothing else: an fd the parent
// holds without O_CLOEXEC (a library's socket between its socket() and its
// own fcntl) does not reach the program. Real children list /proc/self/fd.

#include <fcntl.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using namespace std::chrono_literals;

class ChildFds : public ::testing::Test {
 protected:
  void SetUp() override {
    sys = test::system_with(R"(
version: 1
rules:
  - id: spawn
    effect: allow
    principals: ["*"]
    operations: [process.spawn]
    resources: ["/usr/bin/**", "/bin/**"]
)");
  }

  // The fd numbers the child `ls /proc/self/fd` saw.
  std::set<int> child_fds() {
    process::Spawn s;
    s.argv = {"/bin/ls", "/proc/self/fd"};
    s.options.stdin_ = process::Stdio::null();
    s.options.stdout_ = process::Stdio::pipe();
    const auto out = test::run_to_end(*sys, "alice", std::move(s));
    if (!out) return {};
    std::set<int> fds;
    std::istringstream in(out->out);
    for (int fd; in >> fd;) fds.insert(fd);
    return fds;
  }

  std::unique_ptr<System> sys;
};

TEST_F(ChildFds, AnFdTheParentLeftInheritableDoesNotReachTheChild) {
  const int raw = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(raw, 0);
  UniqueFd plain(::fcntl(raw, F_DUPFD, 100));  // a number nothing else here takes
  ::close(raw);
  ASSERT_GE(plain.get(), 100);
  ASSERT_EQ(::fcntl(plain.get(), F_GETFD) & FD_CLOEXEC, 0);

  const auto fds = child_fds();
  // stdin (null), stdout (a pipe) and stderr (inherited) are still there.
  EXPECT_TRUE(fds.count(0));
  ASSERT_TRUE(fds.count(1)) << "the listing went to stdout";
  EXPECT_TRUE(fds.count(2));
  EXPECT_FALSE(fds.count(plain.get())) << "fd " << plain.get() << " leaked into the child";
  EXPECT_EQ(::fcntl(plain.get(), F_GETFD) & FD_CLOEXEC, 0) << "the parent's own fd keeps its flags";
}

}  // namespace
}  // namespace airssys::osl
