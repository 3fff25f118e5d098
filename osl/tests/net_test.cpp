// net.connect / net.listen / net.socket over loopback and Unix sockets.

#include <fcntl.h>
#include <sys/stat.h>

#include <thread>

#include <fmt/format.h>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

class NetOps : public ::testing::Test {
 protected:
  void SetUp() override {
    SystemOptions o;
    o.policy = test::policy_from(fmt::format(R"(
version: 1
rules:
  - id: loopback
    effect: allow
    principals: ["alice"]
    operations: ["net.*"]
    resources: ["127.0.0.0/8:*", "{0}/**"]
  - id: no-low-ports
    effect: deny
    principals: ["*"]
    operations: ["net.listen"]
    resources: ["*:1-1023"]
)", dir.str()));
    sys = std::make_unique<System>(std::move(o));
  }
  TempDir dir;
  std::unique_ptr<System> sys;
};

TEST_F(NetOps, TcpListenAcceptConnectRoundTrip) {
  auto l = sys->run("alice", net::Listen{"127.0.0.1:0"});
  ASSERT_TRUE(l) << l.error().to_string();
  ASSERT_NE(l->port(), 0);
  std::thread server([&] {
    auto c = l->accept(10s);
    ASSERT_TRUE(c) << c.error().to_string();
    char buf[64];
    auto n = c->read_some(buf, 10s);
    ASSERT_TRUE(n);
    ASSERT_TRUE(c->write_all(std::string("echo:") + std::string(buf, *n)));
  });
  auto c = sys->run("alice", net::Connect{fmt::format("127.0.0.1:{}", l->port())});
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_TRUE(c->write_all("ping"));
  auto reply = c->read_to_end();
  server.join();
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "echo:ping");
}

TEST_F(NetOps, ConnectByHostNameChecksResolvedAddress) {
  auto l = sys->run("alice", net::Listen{"127.0.0.1:0"});
  ASSERT_TRUE(l);
  auto c = sys->run("alice", net::Connect{fmt::format("localhost:{}", l->port())});
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->peer(), fmt::format("127.0.0.1:{}", l->port()));
}

TEST_F(NetOps, DeniedDestinationsAndPorts) {
  auto c = sys->run("alice", net::Connect{"10.1.2.3:80", 100ms});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().category, ErrorCategory::denied);
  auto l = sys->run("alice", net::Listen{"127.0.0.1:80"});
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().category, ErrorCategory::denied);
  EXPECT_NE(l.error().message.find("no-low-ports"), std::string::npos);
  auto bob = sys->run("bob", net::Listen{"127.0.0.1:0"});
  ASSERT_FALSE(bob);
  EXPECT_EQ(bob.error().category, ErrorCategory::denied);
}

TEST_F(NetOps, ConnectRefusedAndBadAddresses) {
  // Find a free port, close it, then connect: refused.
  std::uint16_t port;
  {
    auto l = sys->run("alice", net::Listen{"127.0.0.1:0"});
    ASSERT_TRUE(l);
    port = l->port();
  }
  auto c = sys->run("alice", net::Connect{fmt::format("127.0.0.1:{}", port), 2s});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().category, ErrorCategory::not_found);
  for (const char* bad : {"127.0.0.1", "127.0.0.1:99999", ":80", "127.0.0.1:http", "::1:80"}) {
    auto r = sys->run("alice", net::Connect{bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().category == ErrorCategory::invalid_argument || r.error().category == ErrorCategory::denied)
        << bad << ": " << r.error().to_string();
  }
}

TEST_F(NetOps, UnixSocketListenIs0600AndConnects) {
  const auto path = (dir / "s.sock").string();
  auto l = sys->run("alice", net::Listen{path});
  ASSERT_TRUE(l) << l.error().to_string();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::thread server([&] {
    auto c = l->accept(10s);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->write_all("hi"));
  });
  auto c = sys->run("alice", net::Connect{"unix:" + path});
  ASSERT_TRUE(c) << c.error().to_string();
  auto got = c->read_to_end();
  server.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "hi");
  auto denied = sys->run("alice", net::Connect{"/run/airssys-nope.sock"});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().category, ErrorCategory::denied);
}

TEST_F(NetOps, UdpSocketsExchangeDatagrams) {
  auto a = sys->run("alice", net::Socket{.bind = "127.0.0.1:0"});
  ASSERT_TRUE(a) << a.error().to_string();
  auto b = sys->run("alice", net::Socket{.bind = "127.0.0.1:0", .peer = fmt::format("127.0.0.1:{}", a->port())});
  ASSERT_TRUE(b) << b.error().to_string();
  ASSERT_TRUE(b->send("datagram"));
  auto got = a->receive(10s);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "datagram");
  auto nopeer = a->send("x");
  ASSERT_FALSE(nopeer);
  auto timeout = a->receive(50ms);
  ASSERT_FALSE(timeout);
  EXPECT_EQ(timeout.error().category, ErrorCategory::timeout);
  auto denied = sys->run("alice", net::Socket{.peer = "8.8.8.8:53"});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().category, ErrorCategory::denied);
}

TEST_F(NetOps, ConnectionLimitWaitsThenFails) {
  SystemOptions o;
  o.policy = sys->policy();
  o.limits.max_connections = 2;
  o.limits.wait = 100ms;
  System limited(std::move(o));
  auto l = limited.run("alice", net::Listen{"127.0.0.1:0"});  // slot 1
  ASSERT_TRUE(l);
  auto c1 = limited.run("alice", net::Connect{fmt::format("127.0.0.1:{}", l->port())});  // slot 2
  ASSERT_TRUE(c1);
  auto c2 = limited.run("alice", net::Connect{fmt::format("127.0.0.1:{}", l->port())});
  ASSERT_FALSE(c2);
  EXPECT_EQ(c2.error().category, ErrorCategory::resource_exhausted);
  { auto drop = std::move(*c1); }
  auto c3 = limited.run("alice", net::Connect{fmt::format("127.0.0.1:{}", l->port())});
  EXPECT_TRUE(c3) << "a closed connection frees its slot";
}

}  // namespace
}  // namespace airssys::osl

namespace airssys::osl {
namespace {

TEST_F(NetOps, ListenerRemovesOnlyItsOwnSocketFile) {
  const auto path = dir / "own.sock";
  {
    auto l = sys->run("alice", net::Listen{path.string()});
    ASSERT_TRUE(l) << l.error().to_string();
    // Someone replaces the socket file with a file of their own.
    std::filesystem::remove(path);
    test::write_file(path, "not yours");
  }
  EXPECT_EQ(test::read_file(path), "not yours") << "the destructor must not delete a file it did not create";
  std::filesystem::remove(path);
  {
    auto l = sys->run("alice", net::Listen{path.string()});
    ASSERT_TRUE(l);
  }
  EXPECT_FALSE(std::filesystem::exists(path)) << "its own socket file is removed";
}

TEST_F(NetOps, UnixConnectDoesNotFollowASymlinkedSocketFile) {
  const auto real = dir / "real.sock";
  auto l = sys->run("alice", net::Listen{real.string()});
  ASSERT_TRUE(l);
  std::filesystem::create_symlink(real, dir / "link.sock");
  // The link resolves inside the allowed tree: connecting through it is fine
  // (the policy sees the target).
  auto ok = sys->run("alice", net::Connect{(dir / "link.sock").string()});
  EXPECT_TRUE(ok) << ok.error().to_string();
  // Pointing outside the allowed tree is refused.
  std::filesystem::create_symlink("/run/airssys-nope.sock", dir / "out.sock");
  auto out = sys->run("alice", net::Connect{(dir / "out.sock").string()});
  ASSERT_FALSE(out);
}

// Review of 0082308: a Unix socket's path was echoed raw in net's own
// messages (binding, connecting to, socket address too long), so an ESC in
// it reached the terminal. Now shown as the fs layer shows paths.
TEST_F(NetOps, UnixSocketPathsInErrorsAreEscaped) {
  const std::string esc = "s\x1b[31m";
  const std::string base = dir.str() + "/";
  test::write_file(dir / (esc + ".file"), "not a socket");
  const auto expect_shown = [&](const auto& r, const std::string& text) {
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().message.find('\x1b'), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
  };
  // bind over an existing file, connect to a file that is not a socket.
  expect_shown(sys->run("alice", net::Listen{base + esc + ".file"}),
               "binding " + base + "s\\x1b[31m.file: Address already in use");
  expect_shown(sys->run("alice", net::Connect{"unix:" + base + esc + ".file"}),
               "connecting to " + base + "s\\x1b[31m.file: Connection refused");
  // A name too long for sun_path even through /proc/self/fd/N/NAME.
  const std::string long_name = esc + std::string(150, 'n');
  auto r = sys->run("alice", net::Listen{base + long_name});
  expect_shown(r, base + "s\\x1b[31m" + std::string(150, 'n') + ": socket address too long (");
  expect_shown(r, "/s\\x1b[31m" + std::string(150, 'n') + "; the limit is 107)");
}

// Review of df5eb0d: a Connection's peer and a Listener's local address,
// for a Unix socket its path, were still echoed raw in "accept on",
// "reading from", "writing to" and "sent more than". Now shown as above;
// peer() keeps the path as given.
TEST_F(NetOps, UnixSocketPathsOnAcceptReadAndWriteAreEscaped) {
  const std::string path = dir.str() + "/p\x1b[31m.sock";
  const std::string shown = dir.str() + "/p\\x1b[31m.sock";
  auto l = sys->run("alice", net::Listen{path});
  ASSERT_TRUE(l) << l.error().to_string();
  // accept on a non-blocking listener with nobody connecting: EAGAIN.
  const int flags = ::fcntl(l->fd(), F_GETFL);
  ASSERT_EQ(::fcntl(l->fd(), F_SETFL, flags | O_NONBLOCK), 0);
  auto none = l->accept();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "accept on " + shown + ": Resource temporarily unavailable");
  ASSERT_EQ(::fcntl(l->fd(), F_SETFL, flags), 0);

  std::optional<net::Connection> client;
  {
    auto c = sys->run("alice", net::Connect{"unix:" + path});
    ASSERT_TRUE(c) << c.error().to_string();
    client.emplace(std::move(*c));
  }
  auto server = l->accept(10s);
  ASSERT_TRUE(server) << server.error().to_string();
  EXPECT_EQ(client->peer(), path);
  EXPECT_EQ(server->peer(), path);
  // More than read_to_end's limit.
  ASSERT_TRUE(client->write_all("12345"));
  auto big = server->read_to_end(4);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().category, ErrorCategory::resource_exhausted);
  EXPECT_EQ(big.error().message, shown + " sent more than 4 bytes");
  // The client closes with data it never read: the server's next read is
  // reset, and its write then finds the pipe broken.
  ASSERT_TRUE(server->write_all("unread"));
  client.reset();
  char buf[16];
  auto read = server->read_some(buf);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message, "reading from " + shown + ": Connection reset by peer");
  auto write = server->write_all("x");
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().message, "writing to " + shown + ": Broken pipe");
}

// An address or host name the caller gave is quoted in messages escaped and
// cut (it was quoted raw and whole: an ESC reached the terminal, a 1 MB
// address made a 1 MB message). glibc refuses a host name with an ESC
// without asking DNS (Name or service not known).
TEST_F(NetOps, AddressesAndHostNamesInErrorsAreEscapedAndCut) {
  auto no_port = sys->run("alice", net::Connect{"h\x1b[31m"});
  ASSERT_FALSE(no_port);
  EXPECT_EQ(no_port.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(no_port.error().message,
            "address 'h\\x1b[31m': expected HOST:PORT, [IPv6]:PORT or a Unix socket path");
  auto host = sys->run("alice", net::Connect{"h\x1b[31m:80"});
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().category, ErrorCategory::not_found);
  EXPECT_EQ(host.error().message, "cannot resolve 'h\\x1b[31m': Name or service not known");
  const std::string huge(1'000'000, 'a');
  auto cut = sys->run("alice", net::Listen{huge + ":99999"});
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(cut.error().message, "address '" + std::string(256, 'a') +
                                     "… (1000006 bytes)': port must be a number from 0 to 65535");
}

}  // namespace
}  // namespace airssys::osl
