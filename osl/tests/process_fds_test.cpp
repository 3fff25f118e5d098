// A spawned child gets stdin/stdout/stderr and nothing else: an fd the parent
// holds without O_CLOEXEC (a library's socket between its socket() and its
// own fcntl) does not reach the program — unless Options::keep_fds names it.
// Real children list /proc/self/fd.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using namespace std::chrono_literals;

class ChildFds : public ::testing::Test {
 protected:
  void SetUp() override {
    sink = std::make_shared<test::RecordingSink>();
    sys = test::system_with(R"(
version: 1
rules:
  - id: spawn
    effect: allow
    principals: ["*"]
    operations: [process.spawn]
    resources: ["/usr/bin/**", "/bin/**"]
)", sink);
  }

  // The fd numbers the child `ls /proc/self/fd` saw.
  std::set<int> child_fds(std::vector<int> keep = {}) {
    process::Spawn s;
    s.argv = {"/bin/ls", "/proc/self/fd"};
    s.options.keep_fds = std::move(keep);
    s.options.stdin_ = process::Stdio::null();
    s.options.stdout_ = process::Stdio::pipe();
    const auto out = test::run_to_end(*sys, "alice", std::move(s));
    if (!out) return {};
    std::set<int> fds;
    std::istringstream in(out->out);
    for (int fd; in >> fd;) fds.insert(fd);
    return fds;
  }

  // An fd at `at` or above (a number nothing else here takes) on a file
  // in the temp dir, opened O_CLOEXEC as every fd should be.
  UniqueFd open_at(const std::string& name, int at) {
    UniqueFd f(::open((dir / name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    EXPECT_GE(f.get(), 0);
    return UniqueFd(::fcntl(f.get(), F_DUPFD_CLOEXEC, at));
  }

  // The refusal of a spawn with these keep_fds (it must not start).
  Error refused(std::vector<int> keep, bool landlock = false) {
    process::Spawn s;
    s.argv = {"/bin/true"};
    s.options.keep_fds = std::move(keep);
    s.options.sandbox.landlock = landlock;
    auto p = sys->run("alice", s);
    EXPECT_FALSE(p) << "spawned despite a bad keep_fds";
    return p ? Error{} : p.error();
  }

  test::TempDir dir;
  std::shared_ptr<test::RecordingSink> sink;
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

TEST_F(ChildFds, AKeptFdReachesTheChildAndTheStartRecordNamesIt) {
  UniqueFd lock = open_at("lock", 110);
  ASSERT_GE(lock.get(), 110);
  UniqueFd other = open_at("other", 120);
  ASSERT_GE(other.get(), 120);

  const auto fds = child_fds({lock.get()});
  EXPECT_TRUE(fds.count(lock.get())) << "fd " << lock.get() << " was not handed on";
  EXPECT_FALSE(fds.count(other.get())) << "an fd not named in keep_fds reached the child";
  EXPECT_NE(::fcntl(lock.get(), F_GETFD) & FD_CLOEXEC, 0) << "our own fd keeps its close-on-exec flag";

  ASSERT_TRUE(sys->flush_audit(10s));
  const std::string want = fmt::format(R"("keep_fds":[{{"fd":{},"target":"{}"}}])", lock.get(), std::filesystem::canonical(dir / "lock").string());
  bool found = false;
  for (const auto& r : sink->records()) {
    if (r.op == OpKind::process_spawn && r.event == ActivityEvent::start) {
      found = true;
      EXPECT_NE(r.detail_json.find(want), std::string::npos) << r.detail_json;
    }
  }
  EXPECT_TRUE(found) << "no process.spawn start record";
}

// The kept fd is the same open file description: a flock taken here is held
// by the child while it runs (a second open of the file cannot take it).
TEST_F(ChildFds, AKeptLockIsHeldByTheChild) {
  UniqueFd lock = open_at("lock", 110);
  ASSERT_EQ(::flock(lock.get(), LOCK_EX | LOCK_NB), 0);
  process::Spawn s;
  s.argv = {"/bin/sh", "-c", "read line"};  // runs until we close its stdin
  s.options.stdin_ = process::Stdio::pipe();
  s.options.keep_fds = {lock.get()};
  s.options.deadline = 20s;
  auto p = sys->run("alice", s);
  ASSERT_TRUE(p) << p.error().to_string();
  lock.reset();  // only the child holds it now

  UniqueFd again(::open((dir / "lock").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(again.get(), 0);
  EXPECT_NE(::flock(again.get(), LOCK_EX | LOCK_NB), 0) << "the child does not hold the lock";
  EXPECT_EQ(errno, EWOULDBLOCK);
  p->take_stdin().reset();  // EOF: `read` returns, the child exits
  auto st = p->wait();
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(::flock(again.get(), LOCK_EX | LOCK_NB), 0) << "the lock outlived the child";
}

TEST_F(ChildFds, AClosedFdIsRefusedNamingIt) {
  int closed = 200;
  while (::fcntl(closed, F_GETFD) >= 0) ++closed;
  const Error e = refused({closed});
  EXPECT_EQ(e.category, ErrorCategory::invalid_argument) << e.to_string();
  EXPECT_EQ(e.errno_value, EBADF);
  EXPECT_NE(e.message.find(fmt::format("fd {} is not open", closed)), std::string::npos) << e.message;
}

TEST_F(ChildFds, StdioDuplicatesAndLandlockAreRefused) {
  UniqueFd f = open_at("f", 110);
  for (int std_fd : {0, 1, 2, -1}) {
    const Error e = refused({std_fd});
    EXPECT_EQ(e.category, ErrorCategory::invalid_argument) << e.to_string();
    EXPECT_NE(e.message.find(fmt::format("fd {} is stdin", std_fd)), std::string::npos) << e.message;
  }
  const Error twice = refused({f.get(), f.get()});
  EXPECT_EQ(twice.category, ErrorCategory::invalid_argument);
  EXPECT_NE(twice.message.find(fmt::format("fd {} is listed twice", f.get())), std::string::npos) << twice.message;
  const Error sandboxed = refused({f.get()}, /*landlock=*/true);
  EXPECT_EQ(sandboxed.category, ErrorCategory::invalid_argument);
  EXPECT_NE(sandboxed.message.find("Landlock"), std::string::npos) << sandboxed.message;
}

// Runs `act` once, on the audit writer thread, when it writes the first
// process.spawn start record. Wrapped write-through, the spawning thread
// waits for that write: `act` runs after the plan (keep_fds checked, the
// record's targets taken) and before spawn opens anything or clones — what
// another thread of the caller could do at that moment.
class ActOnSpawnStart final : public ActivitySink {
 public:
  explicit ActOnSpawnStart(std::function<void()> act) : act_(std::move(act)) {}
  std::expected<void, Error> write(std::span<const ActivityRecord> batch) override {
    for (const auto& r : batch) {
      if (act_ && r.op == OpKind::process_spawn && r.event == ActivityEvent::start) {
        std::exchange(act_, nullptr)();
        details_.push_back(r.detail_json);
      }
    }
    return {};
  }
  std::string name() const override { return "act-on-spawn-start"; }
  std::vector<std::string> details_;  // read after flush_audit

 private:
  std::function<void()> act_;
};

class KeptFdRace : public ChildFds {
 protected:
  // A System (same policy as ChildFds) whose writer runs `act` as above.
  std::unique_ptr<System> racing(std::function<void()> act) {
    actor = std::make_shared<ActOnSpawnStart>(std::move(act));
    return test::system_with(R"(
version: 1
rules:
  - id: run
    effect: allow
    principals: ["*"]
    operations: [process.spawn]
    resources: ["/usr/bin/**", "/bin/**"]
)", make_write_through(actor));
  }

  // Runs a child through `racer` keeping fd `n` (its stdin a pipe, as spawn's
  // own fds are then one more candidate for the number); it must be refused
  // naming `n`, and nothing may have started.
  Error refused_by_child(System& racer, int n) {
    process::Spawn s;
    s.argv = {"/bin/sh", "-c", fmt::format("readlink /proc/self/fd/{} && cat", n)};
    s.options.keep_fds = {n};
    s.options.stdin_ = process::Stdio::pipe();
    s.options.stdout_ = process::Stdio::pipe();
    s.options.deadline = 20s;
    auto p = racer.run("alice", s);
    EXPECT_FALSE(p) << "the child started with fd " << n << " handed on";
    if (!p) return p.error();
    p->take_stdin().reset();
    (void)p->wait();
    return Error{};
  }

  std::shared_ptr<ActOnSpawnStart> actor;
};

// Another thread replaces fd N (close + open landing on N; dup2 does both at
// once) after keep_fds was checked and recorded: the child sees that N is not
// the file the start record names and does not start (it must not run with
// the newcomer, which nobody checked or recorded).
TEST_F(KeptFdRace, AKeptFdReplacedAfterTheCheckIsRefused) {
  UniqueFd lock = open_at("lock", 110);
  ASSERT_GE(lock.get(), 110);
  UniqueFd impostor = open_at("impostor", 120);
  ASSERT_GE(impostor.get(), 120);
  const int n = lock.get();
  bool swapped = false;
  auto racer = racing([&] { swapped = ::dup2(impostor.get(), n) == n; });

  const Error e = refused_by_child(*racer, n);
  ASSERT_TRUE(swapped) << "the test did not replace fd " << n;
  EXPECT_EQ(e.category, ErrorCategory::invalid_argument) << e.to_string();
  EXPECT_NE(e.message.find(fmt::format("keep_fds: fd {} refers to another file", n)), std::string::npos) << e.message;
}

// Another thread closes fd N after the check, and N is the lowest free
// number, so spawn's own next open (the program's O_PATH fd, a stdin or
// stdout pipe end) lands on it. The child must not be handed that (our write
// end of its stdin pipe, or the pinned program): it is refused naming N.
TEST_F(KeptFdRace, AKeptNumberTakenBySpawnsOwnFdsIsRefused) {
  UniqueFd lock(::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_GE(lock.get(), 3);  // the lowest free number here
  const int n = lock.get();
  auto racer = racing([&] { lock.reset(); });

  const Error e = refused_by_child(*racer, n);
  EXPECT_FALSE(lock) << "the test did not close fd " << n;
  EXPECT_EQ(e.category, ErrorCategory::invalid_argument) << e.to_string();
  EXPECT_NE(e.message.find(fmt::format("keep_fds: fd {} ", n)), std::string::npos) << e.message;
  EXPECT_EQ(e.errno_value, EBADF) << e.to_string();
}

// Linux drops every POSIX record lock (fcntl F_SETLK, lockf) a process holds
// on a file when the process closes ANY fd to it. Spawning with keep_fds must
// therefore never open and close an fd to the kept file here — neither for a
// child that starts nor for a refused request. The probe is an OFD lock
// query on a second fd kept open to the end (OFD locks conflict with this
// process's POSIX locks, so F_OFD_GETLK sees ours).
TEST_F(ChildFds, OurPosixLockOnAKeptFileSurvivesTheSpawn) {
  UniqueFd lock = open_at("lock", 110);
  ASSERT_GE(lock.get(), 110);
  UniqueFd probe(::open((dir / "lock").c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_GE(probe.get(), 0);
  struct flock fl{};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(lock.get(), F_SETLK, &fl), 0) << std::strerror(errno);
  const auto still_locked = [&] {
    struct flock q{};
    q.l_type = F_WRLCK;
    q.l_whence = SEEK_SET;
    EXPECT_EQ(::fcntl(probe.get(), F_OFD_GETLK, &q), 0) << std::strerror(errno);
    return q.l_type == F_WRLCK;
  };
  ASSERT_TRUE(still_locked()) << "the probe does not see our lock";

  EXPECT_TRUE(child_fds({lock.get()}).count(lock.get())) << "fd " << lock.get() << " was not handed on";
  EXPECT_TRUE(still_locked()) << "a spawn with keep_fds released our fcntl lock";

  int closed = 200;
  while (::fcntl(closed, F_GETFD) >= 0) ++closed;
  (void)refused({lock.get(), closed});
  EXPECT_TRUE(still_locked()) << "a refused spawn with keep_fds released our fcntl lock";
}

// A kept fd at the top of RLIMIT_NOFILE is handed on (nothing is duplicated
// above it), and INT_MAX is refused as not open, not overflowed.
TEST_F(ChildFds, AKeptFdAtTheTopOfTheFdLimitReachesTheChild) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  UniqueFd lock = open_at("lock", 110);
  ASSERT_GE(lock.get(), 110);
  const rlim_t soft = 128;
  ASSERT_LE(soft, old.rlim_max);
  UniqueFd top(::dup3(lock.get(), static_cast<int>(soft) - 1, O_CLOEXEC));
  ASSERT_EQ(top.get(), static_cast<int>(soft) - 1) << std::strerror(errno);
  rlimit low = old;
  low.rlim_cur = soft;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const auto fds = child_fds({top.get()});
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  EXPECT_TRUE(fds.count(top.get())) << "fd " << top.get() << " at the fd limit was not handed on";

  const Error e = refused({INT_MAX});
  EXPECT_EQ(e.category, ErrorCategory::invalid_argument) << e.to_string();
  EXPECT_NE(e.message.find(fmt::format("fd {} is not open", INT_MAX)), std::string::npos) << e.message;
}

}  // namespace
}  // namespace airssys::osl
