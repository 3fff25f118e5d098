// airssys::testing against real things: directories on disk, real child
// processes (sh, sleep, cat), their exit statuses and output.

#include <airssys/testing/child.hpp>
#include <airssys/testing/eventually.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/run.hpp>
#include <airssys/testing/socket.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace at = airssys::testing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

TEST(TempDir, IsPrivateCanonicalAndRemovedWithItsContents) {
  fs::path where;
  {
    at::TempDir d("testing-support");
    where = d.path();
    struct stat st {};
    ASSERT_EQ(::lstat(d.path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_EQ(fs::canonical(d.path()), d.path());
    EXPECT_NE(d.path().filename().string().find("testing-support-"), std::string::npos);
    fs::create_directories(d / "a" / "b");
    std::ofstream(d / "a" / "b" / "f") << "x";
    EXPECT_EQ(d.str(), d.path().string());
  }
  EXPECT_FALSE(fs::exists(where));
}

TEST(Eventually, SeesWhatAnotherThreadDoes) {
  std::atomic<bool> flag{false};
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    flag = true;
  });
  EXPECT_TRUE(at::eventually([&] { return flag.load(); }));
  t.join();
}

TEST(Eventually, GivesUpWhenItNeverHolds) {
  int calls = 0;
  EXPECT_FALSE(at::eventually([&] { return ++calls < 0; }, 50ms));
  EXPECT_GE(calls, 2);
}

TEST(Run, CapturesStdoutStderrAndExitCode) {
  auto r = at::run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(Run, PassesEnvCwdAndInputAndSearchesPath) {
  at::TempDir d;
  auto r = at::run({"sh", "-c", "pwd; echo \"$AIRSSYS_T\"; cat"},
                   {.env = {"AIRSSYS_T=hello"}, .cwd = d.path(), .input = "from stdin"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, d.str() + "\nhello\nfrom stdin");
}

TEST(Run, ReportsASignalAsAShellWould) {
  EXPECT_EQ(at::run({"/bin/sh", "-c", "kill -TERM $$"}).status, 128 + SIGTERM);
}

TEST(Run, AProgramThatCannotBeFoundExits127) {
  auto r = at::run({"/nonexistent/airssys-no-such-program"});
  EXPECT_EQ(r.status, 127);
}

TEST(Run, AnOverrunIsKilledAndReportedAsMinusOne) {
  auto r = at::run({"/bin/sh", "-c", "echo started; exec sleep 30"}, {.timeout = 200ms});
  EXPECT_EQ(r.status, -1);
  EXPECT_EQ(r.out, "started\n");
}

TEST(Run, ABackgroundProcessHoldingStdoutDoesNotBlockIt) {
  auto r = at::run({"/bin/sh", "-c", "sleep 30 & echo $!"});
  ASSERT_EQ(r.status, 0);
  const pid_t bg = std::stoi(r.out);
  EXPECT_TRUE(alive(bg));
  ::kill(bg, SIGKILL);  // ours (our child's child): started by this test
}

TEST(Child, IsKilledAndReapedWhenItGoesOutOfScope) {
  pid_t pid = -1;
  {
    at::Child c({"/bin/sleep", "30"});
    pid = c.pid();
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(c.exited());
  }
  EXPECT_FALSE(alive(pid));  // reaped, not a zombie
}

TEST(Child, WaitReturnsTheStatusAndWritesOutputToFiles) {
  at::TempDir d;
  at::Child c({"/bin/sh", "-c", "echo hi; echo oops >&2; exit 5"},
              {.stdout_path = d / "out", .stderr_path = d / "err"});
  EXPECT_EQ(c.wait(), 5);
  EXPECT_EQ(c.wait(), 5);
  std::ifstream out(d / "out"), err(d / "err");
  std::string o, e;
  std::getline(out, o);
  std::getline(err, e);
  EXPECT_EQ(o, "hi");
  EXPECT_EQ(e, "oops");
  struct stat st {};
  ASSERT_EQ(::stat((d / "out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Child, WaitTimesOutOnARunningChildAndSignalEndsIt) {
  at::Child c({"/bin/sleep", "30"});
  EXPECT_EQ(c.wait(50ms), std::nullopt);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 128 + SIGTERM);
}

TEST(Child, AdoptsAForkedChild) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  { auto c = at::Child::adopt(pid); }
  EXPECT_FALSE(alive(pid));
}

// A unix datagram socket at a path receives what is sent to that path, one
// datagram per receive(); one bound twice fails and says so.
TEST(Socket, UnixDatagramReceivesEachDatagram) {
  at::TempDir dir("testing-socket");
  const fs::path path = dir / "log.sock";
  const at::Socket server = at::bound_unix_datagram(path);
  ASSERT_TRUE(server) << std::strerror(errno);
  EXPECT_GT(::fcntl(server.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_FALSE(at::bound_unix_datagram(path)) << "the path is taken";

  const at::Socket client(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  for (const std::string msg : {"one", "two"}) {
    ASSERT_EQ(::sendto(client.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
              static_cast<ssize_t>(msg.size()));
  }
  EXPECT_EQ(at::receive(server.get()), "one");
  EXPECT_EQ(at::receive(server.get()), "two");
  EXPECT_EQ(at::receive(server.get(), 10ms), "") << "nothing more was sent";
}

// A TCP listener on 127.0.0.1 has an ephemeral port; accept_one() gives the
// connection a client made to it, and receive() its bytes.
TEST(Socket, LoopbackTcpAcceptsAndReceives) {
  const at::Socket listener = at::bound_loopback(SOCK_STREAM);
  ASSERT_TRUE(listener);
  const std::uint16_t port = at::port_of(listener.get());
  ASSERT_NE(port, 0);
  at::Socket client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  at::Socket conn = at::accept_one(listener.get());
  ASSERT_TRUE(conn);
  ASSERT_EQ(::send(client.get(), "hello", 5, MSG_NOSIGNAL), 5);
  EXPECT_EQ(at::receive(conn.get()), "hello");
  client.reset();
  EXPECT_FALSE(client);
  EXPECT_EQ(at::receive(conn.get()), "") << "the peer closed";
}

// write_file replaces the whole content; read_file gives the bytes back
// (NULs and no final newline included), and "" for a file that is not there.
TEST(File, WriteReplacesAndReadGivesTheBytesBack) {
  at::TempDir dir("testing-file");
  const fs::path p = dir / "f";
  at::write_file(p, "a longer first content\n");
  const std::string bytes("x\0y", 3);
  at::write_file(p, bytes);
  EXPECT_EQ(at::read_file(p), bytes);
  EXPECT_EQ(at::read_file(dir / "absent"), "");
}

// A file that opens but whose read fails is "" too, not an exception: a
// directory (read(2): EISDIR) stands here for the /proc/PID files of a
// process that ends while they are read (ESRCH; daemoneye.agent_collection_stall
// failed on that under load, from its scan of /proc for the agent's children).
TEST(File, AFileWhoseReadFailsIsEmptyNotAnException) {
  at::TempDir dir("testing-file");
  std::string got = "unset";
  EXPECT_NO_THROW(got = at::read_file(dir.path()));
  EXPECT_EQ(got, "");
}

}  // namespace
