#include "syslog_message.hpp"

#include <gtest/gtest.h>

namespace airssys::daemoneye::detail {
namespace {

TEST(SyslogAddress, Accepted) {
  auto a = parse_syslog_address("/dev/log");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->transport, SyslogAddress::Transport::unix_datagram);
  EXPECT_EQ(a->path, "/dev/log");

  a = parse_syslog_address("udp://logs.example:514");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->transport, SyslogAddress::Transport::udp);
  EXPECT_EQ(a->host, "logs.example");
  EXPECT_EQ(a->port, 514);

  a = parse_syslog_address("tcp://[::1]:6514");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->transport, SyslogAddress::Transport::tcp);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 6514);

  a = parse_syslog_address("tcp://127.0.0.1:65535");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 65535);
}

TEST(SyslogAddress, Refused) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& c : {
           Case{"dev/log", "invalid syslog address 'dev/log' (expected /dev/log, another absolute unix socket path, "
                           "udp://HOST:PORT or tcp://HOST:PORT)"},
           Case{"http://h:514", "invalid syslog address 'http://h:514' (expected /dev/log, another absolute unix socket "
                                "path, udp://HOST:PORT or tcp://HOST:PORT)"},
           Case{"udp://h", "syslog address 'udp://h' needs a port (e.g. udp://h:514)"},
           Case{"udp://:514", "syslog address 'udp://:514' has no host"},
           Case{"tcp://h:0", "syslog address 'tcp://h:0': port must be a number from 1 to 65535"},
           Case{"tcp://h:x", "syslog address 'tcp://h:x': port must be a number from 1 to 65535"},
           Case{"tcp://h:", "syslog address 'tcp://h:': port must be a number from 1 to 65535"},
           Case{"tcp://h:514x", "syslog address 'tcp://h:514x': port must be a number from 1 to 65535"},
           Case{"tcp://[::1]", "invalid syslog address 'tcp://[::1]' (expected /dev/log, another absolute unix socket "
                               "path, udp://HOST:PORT or tcp://HOST:PORT)"},
           Case{"udp://a b:514", "syslog address 'udp://a b:514': invalid character in host"},
           Case{"udp://fe80::1:514", "syslog address 'udp://fe80::1:514': write an IPv6 address in brackets, e.g. [::1]:514"},
       }) {
    const auto a = parse_syslog_address(c.text);
    ASSERT_FALSE(a) << c.text;
    EXPECT_EQ(a.error().message, c.error);
    EXPECT_EQ(a.error().category, ErrorCategory::invalid_input) << c.text;
  }
  EXPECT_EQ(parse_syslog_address("/" + std::string(107, 'a')).error().message,
            "syslog socket path is 108 bytes; a unix socket path is at most 107");
}

TEST(SyslogFacility, Names) {
  EXPECT_EQ(syslog_facility_code("user"), 1);
  EXPECT_EQ(syslog_facility_code("auth"), 4);
  EXPECT_EQ(syslog_facility_code("authpriv"), 10);
  EXPECT_EQ(syslog_facility_code("local0"), 16);
  EXPECT_EQ(syslog_facility_code("local7"), 23);
  EXPECT_FALSE(syslog_facility_code("kern"));
  EXPECT_FALSE(syslog_facility_code("local8"));
  EXPECT_FALSE(syslog_facility_code("LOCAL0"));
}

TEST(Rfc5424, HeaderFields) {
  Alert a;
  a.rule_id = "exe-deleted";
  a.severity = Severity::high;
  a.host = "web-01";
  a.time = 1796392800;
  EXPECT_EQ(format_rfc5424(a, 16, 4242, R"({"x":1})"),
            R"(<131>1 2026-12-04T14:00:00Z web-01 daemoneye 4242 exe-deleted - {"x":1})");
  a.severity = Severity::critical;
  EXPECT_EQ(format_rfc5424(a, 1, 1, "m").substr(0, 5), "<10>1");
  a.severity = Severity::low;
  EXPECT_EQ(format_rfc5424(a, 23, 1, "m").substr(0, 6), "<189>1");
}

TEST(Rfc5424, FieldsAreReducedToPrintableAsciiAndTheirLimits) {
  Alert a;
  a.rule_id = std::string(40, 'r');
  a.severity = Severity::medium;
  a.host = "bad host\n";
  a.time = 0;
  EXPECT_EQ(format_rfc5424(a, 1, 7, "m"),
            "<12>1 1970-01-01T00:00:00Z bad_host_ daemoneye 7 " + std::string(32, 'r') + " - m");
  a.rule_id.clear();
  a.host.clear();
  EXPECT_EQ(format_rfc5424(a, 1, 7, "m"), "<12>1 1970-01-01T00:00:00Z - daemoneye 7 - - m");
}

}  // namespace
}  // namespace airssys::daemoneye::detail
