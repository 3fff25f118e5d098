// cgroup.create / attach / kill / remove on this machine's real cgroups
// (root; hybrid here: v2 at /sys/fs/cgroup/unified with cgroup.kill, limits
// in v1 hierarchies). Each test makes its cgroups under a name of its own
// (airssys-osl-test-<pid>/…), kills only the children it spawned, and
// removes what it made.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::string s = test::read_file(p);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool contains(const std::vector<pid_t>& v, pid_t p) { return std::find(v.begin(), v.end(), p) != v.end(); }

class Cgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    layout = cgroup::detect_layout();
    if (::geteuid() != 0 || !cgroup::own_v2_dir(layout) || ::access((*cgroup::own_v2_dir(layout) / "cgroup.procs").c_str(), W_OK) != 0) {
      GTEST_SKIP() << "needs root and a writable cgroup v2 hierarchy";
    }
    top = fmt::format("airssys-osl-test-{}", ::getpid());
    sink = std::make_shared<test::RecordingSink>();
    SystemOptions o;
    o.policy = test::policy_from(R"(
version: 1
rules:
  - id: manage-cgroups
    effect: allow
    principals: [wd]
    operations: ["cgroup.*"]
    resources: ["/sys/fs/cgroup/**/airssys-osl-test-*/**"]
  - id: run-sleep
    effect: allow
    principals: [wd]
    operations: ["process.*"]
    resources: ["/usr/bin/**", "/bin/**"]
)");
    o.audit.sinks.push_back(sink);
    sys = std::make_unique<System>(std::move(o));
  }

  void TearDown() override {
    if (!sys) return;
    // Whatever a failed test left: its leaves, then the parents made for it.
    std::vector<fs::path> parents;
    if (auto v2 = cgroup::own_v2_dir(layout)) parents.push_back(*v2 / top);
    for (const auto& [ctl, mount] : layout.v1_mounts) {
      if (auto v1 = cgroup::own_v1_dir(layout, ctl)) parents.push_back(*v1 / top);
    }
    for (const auto& p : parents) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.is_directory()) ::rmdir(e.path().c_str());
      }
      ::rmdir(p.c_str());
    }
  }

  process::Process sleeper() {
    process::Spawn s;
    s.argv = {"/bin/sleep", "60"};
    auto p = sys->run("wd", s);
    EXPECT_TRUE(p) << p.error().to_string();
    return std::move(*p);
  }

  std::vector<ActivityRecord> records_of(OpKind k) {
    EXPECT_TRUE(sys->flush_audit());
    std::vector<ActivityRecord> out;
    for (const auto& r : sink->records()) {
      if (r.op == k) out.push_back(r);
    }
    return out;
  }

  cgroup::Layout layout;
  std::string top;
  std::shared_ptr<test::RecordingSink> sink;
  std::unique_ptr<System> sys;
};

TEST_F(Cgroups, CreateAttachKillRemove) {
  cgroup::Create c;
  c.name = top + "/job-1";
  c.limits.pids = 16;
  c.account_memory = true;
  auto g = sys->run("wd", c);
  ASSERT_TRUE(g) << g.error().to_string();
  ASSERT_TRUE(g->v2);
  EXPECT_EQ(*g->v2, *cgroup::own_v2_dir(layout) / top / "job-1");
  EXPECT_TRUE(fs::is_directory(*g->v2));
  // The pids limit is where the pids controller is: v2 when delegated there, else v1.
  const fs::path pids_dir = g->v1.contains("pids") ? g->v1.at("pids") : *g->v2;
  EXPECT_EQ(slurp(pids_dir / "pids.max"), "16");

  auto child = sleeper();
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{g->dirs(), child.pid()})) << "attach";
  for (const auto& d : g->dirs()) EXPECT_TRUE(contains(cgroup::pids(d), child.pid())) << d;

  auto k = sys->run("wd", cgroup::Kill{g->dirs()});
  ASSERT_TRUE(k) << k.error().to_string();
  EXPECT_EQ(k->method, fs::exists(*g->v2 / "cgroup.kill") ? "cgroup.kill" : "signals");
  auto st = child.wait(20s);
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->signal, SIGKILL);

  ASSERT_TRUE(sys->run("wd", cgroup::Remove{g->dirs()}));
  for (const auto& d : g->dirs()) EXPECT_FALSE(fs::exists(d)) << d;

  // Each operation left a start and an end record naming its directories.
  for (const OpKind kind : {OpKind::cgroup_create, OpKind::cgroup_attach, OpKind::cgroup_kill, OpKind::cgroup_remove}) {
    const auto recs = records_of(kind);
    ASSERT_EQ(recs.size(), 2u) << to_string(kind);
    EXPECT_EQ(recs[0].event, ActivityEvent::start);
    EXPECT_EQ(recs[1].outcome, "ok") << to_string(kind);
    EXPECT_EQ(recs[0].rule, "manage-cgroups");
    std::vector<std::string> want;
    for (const auto& d : g->dirs()) want.push_back(d.string());
    EXPECT_EQ(recs[0].resources, want) << to_string(kind);
  }
}

TEST_F(Cgroups, RemoveRefusesABusyCgroupAndKillEmptiesIt) {
  auto g = sys->run("wd", cgroup::Create{.name = top + "/busy"});
  ASSERT_TRUE(g) << g.error().to_string();
  auto child = sleeper();
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{g->dirs(), child.pid()}));
  auto busy = sys->run("wd", cgroup::Remove{g->dirs()});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().errno_value, EBUSY) << busy.error().to_string();
  ASSERT_TRUE(sys->run("wd", cgroup::Kill{g->dirs()}));
  ASSERT_TRUE(child.wait(20s));
  ASSERT_TRUE(sys->run("wd", cgroup::Remove{g->dirs()}));
}

TEST_F(Cgroups, PolicyDecidesWhichCgroupsAPrincipalManages) {
  // Another principal: nothing is made.
  auto denied = sys->run("mallory", cgroup::Create{.name = top + "/m"});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().category, ErrorCategory::denied);
  EXPECT_FALSE(fs::exists(*cgroup::own_v2_dir(layout) / top / "m"));
  // wd, outside the paths its rule names.
  auto outside = sys->run("wd", cgroup::Create{.name = "not-a-test-" + std::to_string(::getpid())});
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().category, ErrorCategory::denied);
  EXPECT_FALSE(fs::exists(*cgroup::own_v2_dir(layout) / ("not-a-test-" + std::to_string(::getpid()))));
  // Kill and remove are checked too: our own cgroup is not wd's.
  auto kill_own = sys->run("wd", cgroup::Kill{{*cgroup::own_v2_dir(layout)}});
  ASSERT_FALSE(kill_own);
  EXPECT_EQ(kill_own.error().category, ErrorCategory::denied);
  EXPECT_EQ(records_of(OpKind::cgroup_kill).at(0).event, ActivityEvent::denied);
}

TEST_F(Cgroups, BadNamesAndDirsAreInvalid) {
  for (const char* name : {"", "../x", "a/../b", "/abs", "a//b", "a/./b", "sp ace", "a\nb"}) {
    auto r = sys->run("wd", cgroup::Create{.name = name});
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().category, ErrorCategory::invalid_argument) << name << ": " << r.error().to_string();
  }
  EXPECT_EQ(sys->run("wd", cgroup::Kill{{"relative/dir"}}).error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(sys->run("wd", cgroup::Remove{{}}).error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(sys->run("wd", cgroup::Attach{{"/sys/fs/cgroup/x/../y"}, 1}).error().category, ErrorCategory::invalid_argument);
}

// Review of df5eb0d: the caller's cgroup name and directory were quoted raw
// and whole in these messages (an ESC reached the terminal, a 1 MB directory
// made a 1 MB message). Now shown_text(..., kShownPathMax): escaped, a ' as
// \x27 (they are quoted), cut past 256 bytes with the length.
TEST_F(Cgroups, BadNamesAndDirsAreShownEscapedAndCut) {
  const std::string rule = "': a relative path of segments made of letters, digits and . _ - @ + : (not '.' or '..')";
  auto name = sys->run("wd", cgroup::Create{.name = "job\x1b[31m/o'k"});
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(name.error().message, "invalid cgroup name 'job\\x1b[31m/o\\x27k" + rule);
  const std::string tail = "' must be an absolute path without '.' or '..'";
  auto kill = sys->run("wd", cgroup::Kill{{"rel\x1b[2J/dir"}});
  ASSERT_FALSE(kill);
  EXPECT_EQ(kill.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(kill.error().message, "cgroup directory 'rel\\x1b[2J/dir" + tail);
  const std::string huge = "/sys/fs/cgroup/" + std::string(100'000, 'd') + "/../x";
  auto remove = sys->run("wd", cgroup::Remove{{huge}});
  ASSERT_FALSE(remove);
  EXPECT_EQ(remove.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(remove.error().message,
            "cgroup directory '" + huge.substr(0, 256) + "… (" + std::to_string(huge.size()) + " bytes)" + tail);
}

// The v1 fallback: a freezer cgroup is frozen, its members killed, thawed.
TEST_F(Cgroups, V1FreezerKill) {
  const auto base = cgroup::own_v1_dir(layout, "freezer");
  if (!base || ::access((*base / "cgroup.procs").c_str(), W_OK) != 0) GTEST_SKIP() << "no writable v1 freezer hierarchy";
  const fs::path dir = *base / top / "frozen";
  fs::create_directories(dir);  // the test's own cgroup, made by hand: osl makes v1 cgroups only for limits
  auto a = sleeper();
  auto b = sleeper();
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{{dir}, a.pid()}));
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{{dir}, b.pid()}));
  auto k = sys->run("wd", cgroup::Kill{{dir}});
  ASSERT_TRUE(k) << k.error().to_string();
  EXPECT_EQ(k->method, "freezer");
  EXPECT_EQ(k->signalled, 2u);
  EXPECT_EQ(a.wait(20s)->signal, SIGKILL);
  EXPECT_EQ(b.wait(20s)->signal, SIGKILL);
  EXPECT_EQ(slurp(dir / "freezer.state"), "THAWED");
  ASSERT_TRUE(sys->run("wd", cgroup::Remove{{dir}}));
}

// Without cgroup.kill or a freezer (a v1 pids cgroup): each member by pidfd.
TEST_F(Cgroups, V1SignalsKill) {
  const auto base = cgroup::own_v1_dir(layout, "pids");
  if (!base || ::access((*base / "cgroup.procs").c_str(), W_OK) != 0) GTEST_SKIP() << "no writable v1 pids hierarchy";
  cgroup::Create c{.name = top + "/sig", .limits = {.pids = 8}};
  auto g = sys->run("wd", c);
  ASSERT_TRUE(g) << g.error().to_string();
  if (!g->v1.contains("pids")) GTEST_SKIP() << "pids is delegated in v2 here";
  auto child = sleeper();
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{{g->v1.at("pids")}, child.pid()}));
  auto k = sys->run("wd", cgroup::Kill{{g->v1.at("pids")}});
  ASSERT_TRUE(k) << k.error().to_string();
  EXPECT_EQ(k->method, "signals");
  EXPECT_GE(k->signalled, 1u);
  EXPECT_EQ(child.wait(20s)->signal, SIGKILL);
  ASSERT_TRUE(sys->run("wd", cgroup::Remove{g->dirs()}));
}

// Another signal than SIGKILL (a grace period's SIGTERM): each member once,
// by pidfd, even where cgroup.kill is there (it can only SIGKILL); the
// record names the signal. An invalid signal is refused before anything.
TEST_F(Cgroups, KillWithAnotherSignalSignalsEachMemberOnce) {
  auto g = sys->run("wd", cgroup::Create{.name = top + "/term"});
  ASSERT_TRUE(g) << g.error().to_string();
  auto a = sleeper();
  auto b = sleeper();
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{g->dirs(), a.pid()}));
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{g->dirs(), b.pid()}));
  auto k = sys->run("wd", cgroup::Kill{{*g->v2}, SIGTERM});
  ASSERT_TRUE(k) << k.error().to_string();
  EXPECT_EQ(k->method, "signals");
  EXPECT_EQ(k->signalled, 2u);
  EXPECT_EQ(a.wait(20s)->signal, SIGTERM);
  EXPECT_EQ(b.wait(20s)->signal, SIGTERM);
  const auto kills = records_of(OpKind::cgroup_kill);
  ASSERT_FALSE(kills.empty());
  EXPECT_NE(kills.front().detail_json.find(R"("signal":15)"), std::string::npos) << kills.front().detail_json;
  EXPECT_EQ(sys->run("wd", cgroup::Kill{{*g->v2}, 0}).error().category, ErrorCategory::invalid_argument);
  ASSERT_TRUE(sys->run("wd", cgroup::Remove{g->dirs()}));
}

// A policy rule allowing cgroup.kill names no signal, so only those that end
// a process (and SIGCONT, so a stopped one sees SIGTERM) are accepted: the
// others are refused and nothing is sent (a SIGHUP would end the sleeper).
TEST_F(Cgroups, KillRefusesSignalsThatDoNotEndAProcess) {
  auto g = sys->run("wd", cgroup::Create{.name = top + "/refused"});
  ASSERT_TRUE(g) << g.error().to_string();
  auto a = sleeper();
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{g->dirs(), a.pid()}));
  for (const int signo : {SIGHUP, SIGUSR1, SIGSTOP, SIGQUIT, SIGALRM, SIGRTMIN, 0, -1, 65}) {
    auto k = sys->run("wd", cgroup::Kill{g->dirs(), signo});
    ASSERT_FALSE(k) << "signal " << signo << " accepted";
    EXPECT_EQ(k.error().category, ErrorCategory::invalid_argument) << signo;
    EXPECT_NE(k.error().message.find("SIGKILL, SIGTERM, SIGINT or SIGCONT only"), std::string::npos) << k.error().message;
  }
  for (const int signo : {SIGCONT, SIGINT}) {
    auto k = sys->run("wd", cgroup::Kill{g->dirs(), signo});
    ASSERT_TRUE(k) << signo << ": " << k.error().to_string();
    EXPECT_EQ(k->signalled, 1u) << signo;
  }
  EXPECT_EQ(a.wait(20s)->signal, SIGINT);
  ASSERT_TRUE(sys->run("wd", cgroup::Remove{g->dirs()}));
}

// A forked child that appends "T" to `notes` for each SIGTERM it takes,
// and "W" on SIGWINCH, then exits. It blocks both and takes them with
// sigwaitinfo, which like the kernel's delivery picks the lowest-numbered
// pending signal first, so a SIGTERM sent before the SIGWINCH is noted
// before the "W" (two SIGTERMs still pending together merge into one).
// Not handlers: in the child of a multi-threaded fork ThreadSanitizer holds
// every asynchronous signal for a handler until an interceptor it has
// switched off runs, so a handler there never runs at all.
// Killed and reaped by the destructor unless it was reaped.
struct NotingChild {
  explicit NotingChild(const fs::path& notes) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    const int fd = ::open(notes.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    pid = ::fork();
    if (pid == 0) {  // only async-signal-safe calls from here on
      sigset_t taken;
      sigemptyset(&taken);
      sigaddset(&taken, SIGTERM);
      sigaddset(&taken, SIGWINCH);
      ::sigprocmask(SIG_SETMASK, &taken, nullptr);
      (void)!::write(ready[1], "r", 1);
      for (;;) {
        const int sig = ::sigwaitinfo(&taken, nullptr);
        if (sig == SIGTERM) (void)!::write(fd, "T", 1);
        if (sig == SIGWINCH) {
          (void)!::write(fd, "W", 1);
          ::_exit(0);
        }
      }
    }
    ::close(fd);
    ::close(ready[1]);
    char c = 0;
    if (pid > 0 && ::read(ready[0], &c, 1) != 1) pid = -1;
    ::close(ready[0]);
  }
  NotingChild(const NotingChild&) = delete;
  NotingChild& operator=(const NotingChild&) = delete;
  ~NotingChild() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  // SIGWINCH, then the exit status.
  int finish() {
    int status = -1;
    if (::kill(pid, SIGWINCH) == 0 && ::waitpid(pid, &status, 0) == pid) pid = -1;
    return status;
  }
  pid_t pid = -1;
};

// A process in several directories of one Kill (here the v2 cgroup and the
// v1 memory accounting one) gets another signal once, not once per
// directory: a second SIGTERM means "quit now" to many programs.
TEST_F(Cgroups, KillWithAnotherSignalSignalsAProcessInSeveralDirectoriesOnce) {
  cgroup::Create c{.name = top + "/once"};
  c.account_memory = true;
  auto g = sys->run("wd", c);
  ASSERT_TRUE(g) << g.error().to_string();
  if (g->dirs().size() < 2) GTEST_SKIP() << "no v1 memory hierarchy here: one directory per cgroup";
  const airssys::testing::TempDir tmp("osl-cgroup");
  const fs::path notes = tmp / "notes";
  NotingChild child(notes);
  ASSERT_GT(child.pid, 0);
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{g->dirs(), child.pid}));
  auto k = sys->run("wd", cgroup::Kill{g->dirs(), SIGTERM});
  ASSERT_TRUE(k) << k.error().to_string();
  EXPECT_EQ(k->method, "signals");
  EXPECT_EQ(k->signalled, 1u);
  const int status = child.finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(test::read_file(notes), "TW");
  ASSERT_TRUE(sys->run("wd", cgroup::Remove{g->dirs()}));
}

// Every directory is looked at before anyone is signalled: one that cannot
// be (ENOTDIR here) fails the Kill with nobody signalled, so a caller may
// fall back to signalling by pid without a member getting SIGTERM twice.
TEST_F(Cgroups, KillWithAnotherSignalFailingOnALaterDirectorySignalsNobody) {
  auto g = sys->run("wd", cgroup::Create{.name = top + "/later"});
  ASSERT_TRUE(g) << g.error().to_string();
  const airssys::testing::TempDir tmp("osl-cgroup");
  const fs::path notes = tmp / "notes";
  NotingChild child(notes);
  ASSERT_GT(child.pid, 0);
  ASSERT_TRUE(sys->run("wd", cgroup::Attach{g->dirs(), child.pid}));
  auto k = sys->run("wd", cgroup::Kill{{*g->v2, *g->v2 / "cgroup.procs" / "x"}, SIGTERM});
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message.find("cgroup.procs/x"), std::string::npos) << k.error().to_string();
  const int status = child.finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(test::read_file(notes), "W");
  ASSERT_TRUE(sys->run("wd", cgroup::Remove{g->dirs()}));
}

}  // namespace
}  // namespace airssys::osl
