// The RFC 5424 text and the address syntax (audit_syslog.hpp), byte for byte.
#include <airssys/osl/audit_syslog.hpp>

#include <gtest/gtest.h>

#include <array>

namespace airssys::osl::syslog {
namespace {

std::chrono::sys_time<std::chrono::microseconds> at(std::int64_t unix_us) {
  return std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(unix_us));
}

TEST(SyslogAddress, Accepted) {
  auto a = parse_address("/dev/log");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->transport, Address::Transport::unix_datagram);
  EXPECT_EQ(a->path, "/dev/log");
  a = parse_address("udp://logs.example:514");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->transport, Address::Transport::udp);
  EXPECT_EQ(a->host, "logs.example");
  EXPECT_EQ(a->port, 514);
  a = parse_address("tcp://[::1]:6514");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->transport, Address::Transport::tcp);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 6514);
}

TEST(SyslogAddress, RefusedWithTheReason) {
  const std::string help = "(expected /dev/log, another absolute unix socket path, udp://HOST:PORT or tcp://HOST:PORT)";
  struct Case {
    std::string text, error;
  };
  for (const Case& c : {
           Case{"dev/log", "invalid syslog address 'dev/log' " + help},
           Case{"unix:/dev/log", "invalid syslog address 'unix:/dev/log' " + help},
           Case{"udp://h", "syslog address 'udp://h' needs a port (e.g. udp://h:514)"},
           Case{"udp://:514", "syslog address 'udp://:514' has no host"},
           Case{"tcp://h:0", "syslog address 'tcp://h:0': port must be a number from 1 to 65535"},
           Case{"tcp://h:65536", "syslog address 'tcp://h:65536': port must be a number from 1 to 65535"},
           Case{"udp://fe80::1:514", "syslog address 'udp://fe80::1:514': write an IPv6 address in brackets, e.g. [::1]:514"},
           Case{"/" + std::string(107, 'a'), "syslog socket path is 108 bytes; a unix socket path is at most 107"},
       }) {
    const auto a = parse_address(c.text);
    ASSERT_FALSE(a) << c.text;
    EXPECT_EQ(a.error().category, ErrorCategory::invalid_argument);
    EXPECT_EQ(a.error().message, c.error);
  }
}

TEST(SyslogFacility, Names) {
  EXPECT_EQ(facility_code("auth"), 4);
  EXPECT_EQ(facility_code("authpriv"), 10);
  EXPECT_EQ(facility_code("local7"), 23);
  EXPECT_FALSE(facility_code("kern"));
  EXPECT_FALSE(facility_code("LOCAL0"));
  EXPECT_EQ(parse_facility("local0"), 16);
  const auto bad = parse_facility("kern");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(bad.error().message,
            "unknown syslog facility 'kern' (one of: user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, "
            "local0 ... local7)");
}

TEST(Rfc5424, ExactBytesWithStructuredData) {
  const std::array params{SdParam{"op_id", "7"}, SdParam{"principal", "alice"}};
  const std::array sd{SdElement{"airssys@32473", params}};
  const Header h{.facility = 10,
                 .severity = kInfo,
                 .time = at(1796392800'123456),
                 .microseconds = true,
                 .hostname = "web-01",
                 .app_name = "airssys-osl",
                 .procid = "4242",
                 .msgid = "fs.read"};
  EXPECT_EQ(format_rfc5424(h, sd, R"({"x":1})"),
            R"(<86>1 2026-12-04T14:00:00.123456Z web-01 airssys-osl 4242 fs.read [airssys@32473 op_id="7" principal="alice"] {"x":1})");
}

TEST(Rfc5424, WholeSecondsAndNoStructuredData) {
  const Header h{.facility = 16, .severity = kError, .time = at(1796392800'999999), .hostname = "web-01",
                 .app_name = "daemoneye", .procid = "1", .msgid = "exe-deleted"};
  EXPECT_EQ(format_rfc5424(h, {}, "m"), "<131>1 2026-12-04T14:00:00Z web-01 daemoneye 1 exe-deleted - m");
}

TEST(Rfc5424, SdValuesEscapeQuoteBackslashAndBracket) {
  EXPECT_EQ(escape_sd_value(R"(a"b\c]d)"), R"(a\"b\\c\]d)");
  EXPECT_EQ(escape_sd_value("[x] \"\"\\"), R"([x\] \"\"\\)");
  EXPECT_EQ(escape_sd_value("plain é\n"), "plain é\n");  // UTF-8 and controls are legal PARAM-VALUE octets
  const std::array params{SdParam{"principal", R"(ev"il] \x)"}};
  const std::array sd{SdElement{"airssys@32473", params}};
  const Header h{.facility = 1, .severity = kWarning, .time = at(0), .hostname = "h", .app_name = "a",
                 .procid = "1", .msgid = "m"};
  EXPECT_EQ(format_rfc5424(h, sd, "x"), R"(<12>1 1970-01-01T00:00:00Z h a 1 m [airssys@32473 principal="ev\"il\] \\x"] x)");
}

TEST(Rfc5424, HeaderFieldsAndSdNamesAreReducedToTheirSyntax) {
  const std::array params{SdParam{"bad name=\"]", "v"}};
  const std::array sd{SdElement{"id with space", params}};
  const Header h{.facility = 1, .severity = kNotice, .time = at(0), .hostname = "bad host\n",
                 .app_name = "", .procid = "", .msgid = std::string_view("rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr")};
  EXPECT_EQ(format_rfc5424(h, sd, ""),
            "<13>1 1970-01-01T00:00:00Z bad_host_ - - " + std::string(32, 'r') + " [id_with_space bad_name___=\"v\"] ");
}

TEST(Rfc5424, TimesOutsideTheYearsATimestampCanShowAreNil) {
  const Header h{.facility = 1, .severity = kInfo, .time = at(253402300800'000000), .hostname = "h", .app_name = "a",
                 .procid = "1", .msgid = "m"};
  EXPECT_EQ(format_rfc5424(h, {}, "x"), "<14>1 - h a 1 m - x");  // 10000-01-01
  Header last = h;
  last.time = at(253402300799'000000);
  EXPECT_EQ(format_rfc5424(last, {}, "x"), "<14>1 9999-12-31T23:59:59Z h a 1 m - x");
}

TEST(Rfc5424, OctetCounting) {
  EXPECT_EQ(octet_counted("<13>1 - - - - - - héllo"), "24 <13>1 - - - - - - héllo");
  EXPECT_EQ(octet_counted(""), "0 ");
}

}  // namespace
}  // namespace airssys::osl::syslog
