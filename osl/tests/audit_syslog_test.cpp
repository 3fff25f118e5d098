// The syslog audit sink against real sockets the test binds: a unix
// datagram socket in a temp dir (as /dev/log would be), UDP and TCP on
// 127.0.0.1. Frames are checked byte for byte against the records a
// recording sink got from the same System; a socket nobody listens on must
// stop a write-through operation, never lose its record silently.
#include "test_support.hpp"

#include <airssys/osl/activity_trace.hpp>
#include <airssys/testing/socket.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

using namespace airssys::osl;
using namespace std::chrono_literals;

namespace {

using airssys::testing::accept_one;
using airssys::testing::bound_loopback;
using airssys::testing::bound_unix_datagram;
using airssys::testing::port_of;
using airssys::testing::receive;
using airssys::testing::Socket;

constexpr std::string_view kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// What the sink must send for `r`, built by hand from the record.
std::string expected_frame(const ActivityRecord& r, int pri) {
  const std::string json = to_json_line(r);
  // The record's RFC 3339 nanoseconds, cut to the microseconds RFC 5424 allows.
  const auto ts_begin = json.find(R"("ts":")") + 6;
  const std::string ts = json.substr(ts_begin, 26) + "Z";
  std::string principal;
  for (const char c : r.principal) {
    if (c == '"' || c == '\\' || c == ']') principal += '\\';
    principal += c;
  }
  std::string sd = fmt::format(R"([airssys@32473 op_id="{}" event="{}" principal="{}" decision="{}")", r.op_id,
                               to_string(r.event), principal, to_string(r.decision));
  if (r.rule) sd += fmt::format(R"( rule="{}")", *r.rule);
  sd += fmt::format(R"( outcome="{}")", r.outcome);
  if (r.trace) {
    sd += fmt::format(R"( trace_id="{}" parent_id="{}" trace_flags="{}")", r.trace->trace_id(), r.trace->parent_id(),
                      r.trace->flags());
  }
  return fmt::format("<{}>1 {} test-host airssys-osl {} {} {}] {}", pri, ts, ::getpid(), to_string(r.op), sd, json);
}

class AuditSyslog : public ::testing::Test {
 protected:
  System make(const std::string& address) {
    std::filesystem::create_directories(dir / "pub");
    auto sink = make_syslog_sink({.address = address, .hostname = "test-host", .send_timeout = 500ms});
    EXPECT_TRUE(sink) << sink.error().to_string();
    SystemOptions o;
    o.policy = test::policy_from(fmt::format(R"(
version: 1
rules:
  - id: stat
    effect: allow
    principals: ["alice"]
    operations: ["fs.stat", "fs.write"]
    resources: ["{0}/pub/**"]
)", dir.str()));
    o.audit.sinks.push_back(recording);
    if (sink) o.audit.sinks.push_back(make_write_through(std::move(*sink)));
    o.audit.stall_timeout = 1000ms;
    return System(std::move(o));
  }

  test::TempDir dir{"osl-syslog"};
  std::shared_ptr<test::RecordingSink> recording = std::make_shared<test::RecordingSink>();
};

TEST_F(AuditSyslog, UnixDatagramFramesAreExactAndCarryTheTrace) {
  const std::string path = (dir / "log.sock").string();
  const Socket server = bound_unix_datagram(path);
  ASSERT_TRUE(server) << std::strerror(errno);
  System sys = make(path);
  {
    TraceScope scope(*TraceContext::parse(kTrace));
    ASSERT_TRUE(sys.run("alice", fs::Stat{dir / "pub"}));
  }
  // Not in the policy: denied, and its principal needs every SD escape.
  ASSERT_FALSE(sys.run(R"(ev"il]\x)", fs::Stat{dir / "pub"}));
  ASSERT_TRUE(sys.flush_audit());
  const auto records = recording->records();
  ASSERT_EQ(records.size(), 3U);
  ASSERT_TRUE(records[0].trace);
  EXPECT_EQ(records[0].trace->traceparent(), kTrace);
  EXPECT_FALSE(records[2].trace) << "the scope ended before the third operation";
  // authpriv (10) * 8 + info (6) = 86; the denial is a warning (4): 84.
  EXPECT_EQ(receive(server.get()), expected_frame(records[0], 86));
  EXPECT_EQ(receive(server.get()), expected_frame(records[1], 86));
  const std::string denied = receive(server.get());
  EXPECT_EQ(denied, expected_frame(records[2], 84));
  EXPECT_NE(denied.find(R"(principal="ev\"il\]\\x")"), std::string::npos) << denied;
  // The JSON record is the MSG, with the trace fields in it.
  const std::string first = expected_frame(records[0], 86);
  EXPECT_NE(first.find(R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","parent_id":"00f067aa0ba902b7","trace_flags":"01"})"),
            std::string::npos)
      << first;
}

TEST_F(AuditSyslog, UdpOnLoopback) {
  const Socket server = bound_loopback(SOCK_DGRAM);
  ASSERT_TRUE(server);
  System sys = make(fmt::format("udp://127.0.0.1:{}", port_of(server.get())));
  ASSERT_TRUE(sys.run("alice", fs::Stat{dir / "pub"}));
  ASSERT_TRUE(sys.flush_audit());
  const auto records = recording->records();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(receive(server.get()), expected_frame(records[0], 86));
  EXPECT_EQ(receive(server.get()), expected_frame(records[1], 86));
}

TEST_F(AuditSyslog, TcpUsesOctetCounting) {
  const Socket listener = bound_loopback(SOCK_STREAM);
  ASSERT_TRUE(listener);
  System sys = make(fmt::format("tcp://127.0.0.1:{}", port_of(listener.get())));
  ASSERT_TRUE(sys.run("alice", fs::Stat{dir / "pub"}));
  ASSERT_TRUE(sys.flush_audit());
  const Socket conn = accept_one(listener.get());
  ASSERT_TRUE(conn);
  const auto records = recording->records();
  ASSERT_EQ(records.size(), 2U);
  const std::string a = expected_frame(records[0], 86), b = expected_frame(records[1], 86);
  const std::string want = fmt::format("{} {}{} {}", a.size(), a, b.size(), b);
  std::string got;
  while (got.size() < want.size()) {
    const std::string more = receive(conn.get());
    if (more.empty()) break;
    got += more;
  }
  EXPECT_EQ(got, want);
}

TEST_F(AuditSyslog, ASendThatFailsStopsTheOperationAndSaysWhy) {
  // No syslog daemon at this path: nothing may run, and the reason is given.
  const std::string path = (dir / "nobody.sock").string();
  System sys = make(path);
  const auto file = dir / "pub" / "f";
  auto r = sys.run("alice", fs::Write{.path = file, .data = "x"});
  ASSERT_FALSE(r) << "ran although its start record never reached syslog";
  EXPECT_EQ(r.error().category, ErrorCategory::io);
  EXPECT_NE(r.error().message.find("audit log stalled, operation not executed: syslog " + path + ": send failed: "),
            std::string::npos)
      << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_GT(sys.stats().audit_sink_errors, 0U);
}

TEST_F(AuditSyslog, ARecordTooLargeForADatagramIsSentCutShort) {
  const Socket server = bound_loopback(SOCK_DGRAM);
  ASSERT_TRUE(server);
  System sys = make(fmt::format("udp://127.0.0.1:{}", port_of(server.get())));
  // A UDP datagram carries at most 65,507 bytes; this principal alone is more.
  const std::string principal(70'000, 'p');
  ASSERT_FALSE(sys.run(principal, fs::Stat{dir / "pub"}));
  ASSERT_TRUE(sys.flush_audit()) << "the record must not stall the log";
  const std::string got = receive(server.get());
  EXPECT_NE(got.find(R"( principal=")" + std::string(256, 'p') + R"(" decision="deny")"), std::string::npos) << got.size();
  const auto json = got.find(R"(] {"ts":")");
  ASSERT_NE(json, std::string::npos);
  EXPECT_EQ(got.size() - json - 2, 8192U);
  ASSERT_TRUE(sys.run("alice", fs::Stat{dir / "pub"})) << "later records still go out";
}

TEST(AuditSyslogOptions, BadAddressOrFacilityIsRefused) {
  auto s = make_syslog_sink({.address = "syslog.example:514"});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().category, ErrorCategory::invalid_argument);
  EXPECT_NE(s.error().message.find("invalid syslog address 'syslog.example:514'"), std::string::npos);
  s = make_syslog_sink({.address = "/dev/log", .facility = "kern"});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            "unknown syslog facility 'kern' (one of: user, mail, daemon, auth, syslog, lpr, news, uucp, cron, "
            "authpriv, ftp, local0 ... local7)");
}

}  // namespace
