// The syslog sink against real sockets bound by the test: a unix datagram
// socket (as /dev/log would be), UDP and TCP on 127.0.0.1 with ephemeral
// ports. Each received message is parsed as RFC 5424.
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <airssys/testing/socket.hpp>

#include <regex>

#include "alert_sink.hpp"
#include "alert_test_util.hpp"
#include "sink_test_util.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye::detail {
namespace {

using ::airssys::testing::accept_one;
using ::airssys::testing::bound_loopback;
using ::airssys::testing::bound_unix_datagram;
using ::airssys::testing::port_of;
using ::airssys::testing::receive;
using ::airssys::testing::Socket;
using testing::deliver;
using testing::make_alert;
using testing::TempDir;

struct Rfc5424 {
  int pri = -1;
  std::string timestamp, host, app, procid, msgid, sd, msg;
};

Rfc5424 parse(const std::string& line) {
  static const std::regex re(R"(^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$)");
  std::smatch m;
  Rfc5424 out;
  if (!std::regex_match(line, m, re)) return out;
  out.pri = std::stoi(m[1]);
  out.timestamp = m[2];
  out.host = m[3];
  out.app = m[4];
  out.procid = m[5];
  out.msgid = m[6];
  out.sd = m[7];
  out.msg = m[8];
  return out;
}

class SyslogSinkTest : public ::testing::Test {
 protected:
  std::shared_ptr<SinkCounters> counters = std::make_shared<SinkCounters>();
  std::vector<std::string> logged;

  Result<std::unique_ptr<Sink>> open(const std::string& address, SinkFormat format = SinkFormat::json,
                                     const std::string& facility = "local0") {
    SinkConfig c;
    c.type = SinkType::syslog;
    c.address = address;
    c.facility = facility;
    c.format = format;
    return make_syslog_sink(c, counters, [this](std::string_view m) { logged.emplace_back(m); });
  }

  static void expect_message(const std::string& line, const Alert& a, int pri) {
    const Rfc5424 m = parse(line);
    ASSERT_EQ(m.pri, pri) << line;
    EXPECT_EQ(m.timestamp, "2026-12-04T14:00:00Z");
    EXPECT_EQ(m.host, a.host);
    EXPECT_EQ(m.app, "daemoneye");
    EXPECT_EQ(m.procid, std::to_string(::getpid()));
    EXPECT_EQ(m.msgid, a.rule_id);
    EXPECT_EQ(m.sd, "-");
    EXPECT_EQ(m.msg, alert_to_json(a));
    EXPECT_EQ(nlohmann::json::parse(m.msg)["rule_id"], a.rule_id);
  }
};

TEST_F(SyslogSinkTest, UnixDatagramSocket) {
  TempDir dir;
  const std::string path = (dir / "log").string();
  const Socket server = bound_unix_datagram(path);
  ASSERT_TRUE(server);

  auto sink = open(path);
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> alerts{make_alert("exe-deleted", 1, Severity::high), make_alert("tmp-exec", 2, Severity::critical)};
  deliver(**sink, alerts);
  expect_message(receive(server.get()), alerts[0], 16 * 8 + 3);
  expect_message(receive(server.get()), alerts[1], 16 * 8 + 2);
  EXPECT_EQ(counters->errors.load(), 0u);
}

TEST_F(SyslogSinkTest, NobodyListeningIsCountedNotThrown) {
  TempDir dir;
  auto sink = open((dir / "absent").string());
  ASSERT_TRUE(sink) << sink.error();  // /dev/log may come and go with the syslog daemon
  const std::vector<Alert> alerts{make_alert("r", 1), make_alert("r", 2)};
  deliver(**sink, alerts);
  EXPECT_EQ(counters->errors.load(), 2u);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0], "syslog sink " + (dir / "absent").string() +
                           ": send failed: No such file or directory (further failures are counted, not logged, until it "
                           "works again)");

  // Once a daemon binds the path, messages arrive without a restart.
  const std::string path = (dir / "absent").string();
  const Socket server = bound_unix_datagram(path);
  ASSERT_TRUE(server);
  deliver(**sink, alerts);
  expect_message(receive(server.get()), alerts[0], 16 * 8 + 3);
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[1], "syslog sink " + path + ": works again after 2 failed alert deliveries");
}

TEST_F(SyslogSinkTest, Udp) {
  const Socket server = bound_loopback(SOCK_DGRAM);
  ASSERT_TRUE(server);
  auto sink = open("udp://127.0.0.1:" + std::to_string(port_of(server.get())), SinkFormat::json, "auth");
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> alerts{make_alert("r", 1, Severity::medium)};
  deliver(**sink, alerts);
  expect_message(receive(server.get()), alerts[0], 4 * 8 + 4);
}

TEST_F(SyslogSinkTest, TcpOctetCountingAndReconnect) {
  const Socket listener = bound_loopback(SOCK_STREAM);
  ASSERT_TRUE(listener);
  auto sink = open("tcp://127.0.0.1:" + std::to_string(port_of(listener.get())));
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> alerts{make_alert("r", 1), make_alert("r", 2, Severity::low)};
  deliver(**sink, alerts);  // connects now; the listener's backlog holds the connection

  Socket conn = accept_one(listener.get());
  ASSERT_TRUE(conn);
  std::string stream;
  auto frames = [&stream]() {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      const auto sp = stream.find(' ', pos);
      if (sp == std::string::npos) break;
      const std::size_t len = std::stoul(stream.substr(pos, sp - pos));
      if (sp + 1 + len > stream.size()) break;
      out.push_back(stream.substr(sp + 1, len));
      pos = sp + 1 + len;
    }
    return out;
  };
  while (frames().size() < 2) {
    const std::string more = receive(conn.get());
    ASSERT_FALSE(more.empty()) << "got only: " << stream;
    stream += more;
  }
  auto got = frames();
  ASSERT_EQ(got.size(), 2u);
  expect_message(got[0], alerts[0], 16 * 8 + 3);
  expect_message(got[1], alerts[1], 16 * 8 + 5);

  // The server drops the connection; the next batch goes over a new one.
  conn.reset();
  const std::vector<Alert> later{make_alert("r", 3)};
  deliver(**sink, later);
  const Socket again = accept_one(listener.get());
  ASSERT_TRUE(again);
  stream.clear();
  while (frames().empty()) {
    const std::string more = receive(again.get());
    ASSERT_FALSE(more.empty());
    stream += more;
  }
  expect_message(frames()[0], later[0], 16 * 8 + 3);
  EXPECT_EQ(counters->errors.load(), 0u);
}

TEST_F(SyslogSinkTest, TcpRefusedIsCounted) {
  std::uint16_t port = 0;
  {
    const Socket closed = bound_loopback(SOCK_STREAM);
    port = port_of(closed.get());
  }
  auto sink = open("tcp://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> alerts{make_alert("r", 1)};
  deliver(**sink, alerts);
  EXPECT_EQ(counters->errors.load(), 1u);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("connect failed: Connection refused"), std::string::npos) << logged[0];
}

TEST_F(SyslogSinkTest, HumanFormatMessage) {
  const Socket server = bound_loopback(SOCK_DGRAM);
  auto sink = open("udp://127.0.0.1:" + std::to_string(port_of(server.get())), SinkFormat::human);
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> alerts{make_alert("r", 1)};
  deliver(**sink, alerts);
  EXPECT_EQ(parse(receive(server.get())).msg, alert_to_human(alerts[0]));
}

TEST_F(SyslogSinkTest, AnUnresolvableHostFailsAtCreate) {
  const auto sink = open("udp://no-such-host.invalid:514");
  ASSERT_FALSE(sink);
  EXPECT_TRUE(
      sink.error().message.starts_with("syslog sink udp://no-such-host.invalid:514: cannot resolve no-such-host.invalid: "))
      << sink.error();
  // The configuration names something unusable: the agent exits 2 for it.
  EXPECT_EQ(sink.error().category, ErrorCategory::invalid_input);
}

TEST_F(SyslogSinkTest, ABadAddressOrFacilityIsInvalidInput) {
  auto bad = open("udp://h");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Error::make(ErrorCategory::invalid_input,
                                     "syslog sink: syslog address 'udp://h' needs a port (e.g. udp://h:514)"));
  auto facility = open("/dev/log", SinkFormat::json, "kern");
  ASSERT_FALSE(facility);
  EXPECT_EQ(facility.error(), Error::make(ErrorCategory::invalid_input,
                                           "syslog sink: unknown syslog facility 'kern' (one of: user, mail, daemon, "
                                           "auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0 ... local7)"));
}

}  // namespace
}  // namespace airssys::daemoneye::detail
