// NatsConnection against a real nats-server (started by the test on
// 127.0.0.1, stopped by its pid): the socket libnats opens is not
// inherited by a child spawned afterwards — at connect, after a connect
// made in the background and after a reconnect — and bad options are
// clear errors that never show a secret.
#include "nats_connection.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "nats_test_server.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye::detail {
namespace {

using namespace std::chrono_literals;
using daemoneye::testing::NatsServer;
using daemoneye::testing::TempDir;
using ::airssys::testing::Child;
using ::airssys::testing::eventually;

// The sockets ("socket:[inode]") a freshly spawned child holds: what it inherited.
std::set<std::string> sockets_a_child_inherits() {
  Child child({"sleep", "30"});
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(child.pid()) + "/fd", ec)) {
    const auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string().starts_with("socket:")) out.insert(target.string());
  }
  child.signal(SIGKILL);
  (void)child.wait();
  return out;
}

bool connected(const NatsConnection& c) { return natsConnection_Status(c.get()) == NATS_CONN_STATUS_CONNECTED; }

class NatsConnectionTest : public ::testing::Test {
 protected:
  NatsConnectionTest() : server_(tmp_.path() / "js", tmp_.path() / "nats-server.log") {}
  NatsConnectionConfig config() const {
    NatsConnectionConfig c;
    c.url = server_.url();
    c.timeout = 1s;
    return c;
  }
  TempDir tmp_;
  NatsServer server_;
};

TEST_F(NatsConnectionTest, AChildSpawnedAfterConnectingInheritsNoSocket) {
  server_.start();
  const auto before = sockets_a_child_inherits();
  auto c = NatsConnection::connect(config(), "test");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE((*c)->connected_at_start());
  EXPECT_EQ(sockets_a_child_inherits(), before);
}

TEST_F(NatsConnectionTest, ASocketOpenedByAReconnectIsNotInheritedEither) {
  server_.start();
  const auto before = sockets_a_child_inherits();
  auto c = NatsConnection::connect(config(), "test");
  ASSERT_TRUE(c) << c.error();
  server_.stop();
  server_.start();
  ASSERT_TRUE(eventually([&] { return (*c)->reconnects() >= 1 && connected(**c); }, 30s));
  // The callback that marks the new socket runs on libnats's callback thread, just after.
  EXPECT_TRUE(eventually([&] { return sockets_a_child_inherits() == before; }, 10s));
}

TEST_F(NatsConnectionTest, AConnectionMadeInTheBackgroundIsNotInherited) {
  const auto before = sockets_a_child_inherits();
  auto c = NatsConnection::connect(config(), "test");  // no server yet: not an error
  ASSERT_TRUE(c) << c.error();
  EXPECT_FALSE((*c)->connected_at_start());
  server_.start();
  ASSERT_TRUE(eventually([&] { return connected(**c); }, 30s));
  EXPECT_TRUE(eventually([&] { return sockets_a_child_inherits() == before; }, 10s));
}

TEST_F(NatsConnectionTest, AnUnreadableTlsFileIsInvalidInputNamingIt) {
  NatsConnectionConfig c = config();
  c.token = "tok-secret-1";
  c.tls_ca = tmp_.path() / "missing-ca.pem";
  auto r = NatsConnection::connect(c, "live queries");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::invalid_input) << r.error();
  EXPECT_TRUE(r.error().message.starts_with("live queries: tls_ca ")) << r.error();
  EXPECT_NE(r.error().message.find("missing-ca.pem"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().message.find("tok-secret-1"), std::string::npos) << r.error();
}

TEST(NatsConnectionConfigOf, TakesTheSinksConnectionKeys) {
  SinkConfig s;
  s.url = "nats://a:4222";
  s.timeout = 3s;
  s.token = "t";
  s.user = "u";
  s.password = "p";
  s.credentials = "/c.creds";
  s.tls_ca = "/ca.pem";
  s.tls_cert = "/cert.pem";
  s.tls_key = "/key.pem";
  const NatsConnectionConfig c = nats_connection_config(s);
  EXPECT_EQ(c.url, s.url);
  EXPECT_EQ(c.timeout, 3s);
  EXPECT_EQ(c.token, "t");
  EXPECT_EQ(c.user, "u");
  EXPECT_EQ(c.password, "p");
  EXPECT_EQ(c.credentials, s.credentials);
  EXPECT_EQ(c.tls_ca, s.tls_ca);
  EXPECT_EQ(c.tls_cert, s.tls_cert);
  EXPECT_EQ(c.tls_key, s.tls_key);
  EXPECT_EQ(c.name, "daemoneye-agent");
}

}  // namespace
}  // namespace airssys::daemoneye::detail
