// Endpoint resources and patterns: addresses, CIDRs, IPv6, port specs, host
// globs, Unix socket paths, and the validation of malformed patterns.

#include "policy/endpoint.hpp"

#include <gtest/gtest.h>

namespace airssys::osl::detail {
namespace {

bool match(std::string_view pattern, std::string_view resource) {
  const auto p = EndpointPattern::compile(pattern);
  EXPECT_TRUE(p.has_value()) << pattern << ": " << (p ? "" : p.error());
  const auto e = parse_endpoint(resource);
  EXPECT_TRUE(e.has_value()) << resource;
  return p && e && p->matches(*e);
}

TEST(Endpoint, ParsesResources) {
  auto e = parse_endpoint("127.0.0.1:8080");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Endpoint::Kind::ipv4);
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->addr[0], 127);
  EXPECT_EQ(e->addr[3], 1);

  e = parse_endpoint("[::1]:443");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Endpoint::Kind::ipv6);
  EXPECT_EQ(e->addr[15], 1);
  EXPECT_EQ(e->host, "::1");

  e = parse_endpoint("Example.COM:80");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Endpoint::Kind::host);

  e = parse_endpoint("/run/app.sock");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Endpoint::Kind::unix_path);

  e = parse_endpoint("[::ffff:10.1.2.3]:22");  // IPv4-mapped: seen as IPv4
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, Endpoint::Kind::ipv4);
  EXPECT_EQ(e->addr[0], 10);
  EXPECT_EQ(e->addr[3], 3);
}

TEST(Endpoint, RejectsMalformedResources) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:80", "[::1:80",
                          "[zz::1]:80", "host name:80", "relative.sock", "1.2.3.4:8o"}) {
    EXPECT_FALSE(parse_endpoint(bad).has_value()) << bad;
  }
}

TEST(Endpoint, IPv4AddressesAndCidrs) {
  EXPECT_TRUE(match("127.0.0.1:80", "127.0.0.1:80"));
  EXPECT_FALSE(match("127.0.0.1:80", "127.0.0.2:80"));
  EXPECT_TRUE(match("127.0.0.0/8:*", "127.255.3.4:1"));
  EXPECT_FALSE(match("127.0.0.0/8:*", "128.0.0.1:1"));
  EXPECT_TRUE(match("10.1.2.0/23:*", "10.1.3.255:9"));
  EXPECT_FALSE(match("10.1.2.0/23:*", "10.1.4.0:9"));
  EXPECT_TRUE(match("0.0.0.0/0:53", "8.8.8.8:53"));
  EXPECT_FALSE(match("0.0.0.0/0:53", "[2001:db8::1]:53"));  // an IPv4 rule never matches IPv6
  EXPECT_TRUE(match("10.0.0.0/8:*", "[::ffff:10.9.9.9]:80"));  // mapped addresses cannot dodge it
  EXPECT_TRUE(match("192.168.1.7/32:22", "192.168.1.7:22"));
}

TEST(Endpoint, IPv6AddressesAndCidrs) {
  EXPECT_TRUE(match("[::1]:443", "[::1]:443"));
  EXPECT_TRUE(match("[::1]:443", "[0:0:0:0:0:0:0:1]:443"));
  EXPECT_FALSE(match("[::1]:443", "[::2]:443"));
  EXPECT_TRUE(match("[fd00::]/8:*", "[fdab:1::5]:1"));
  EXPECT_FALSE(match("[fd00::]/8:*", "[fe80::1]:1"));
  EXPECT_TRUE(match("[2001:db8::]/32:443", "[2001:db8:ffff::1]:443"));
  EXPECT_FALSE(match("[2001:db8::]/32:443", "[2001:db9::1]:443"));
  EXPECT_FALSE(match("[::]/0:*", "1.2.3.4:5"));
  EXPECT_TRUE(match("[::]/0:*", "[::5]:5"));
  EXPECT_TRUE(match("[::ffff:10.0.0.0]/104:*", "10.3.3.3:5"));  // mapped pattern = IPv4 10.0.0.0/8
}

TEST(Endpoint, Ports) {
  EXPECT_TRUE(match("*:8000-9000", "1.2.3.4:8000"));
  EXPECT_TRUE(match("*:8000-9000", "1.2.3.4:9000"));
  EXPECT_FALSE(match("*:8000-9000", "1.2.3.4:7999"));
  EXPECT_FALSE(match("*:8000-9000", "1.2.3.4:9001"));
  EXPECT_TRUE(match("*:*", "1.2.3.4:0"));
  EXPECT_TRUE(match("*:*", "[::1]:65535"));
  EXPECT_TRUE(match("*:0", "1.2.3.4:0"));
  EXPECT_FALSE(match("*:443", "1.2.3.4:80"));
}

TEST(Endpoint, HostGlobs) {
  EXPECT_TRUE(match("localhost:80", "localhost:80"));
  EXPECT_TRUE(match("LocalHost:80", "localhost:80"));
  EXPECT_TRUE(match("localhost:80", "LOCALHOST:80"));
  EXPECT_FALSE(match("localhost:80", "localhost:81"));
  EXPECT_TRUE(match("*.example.com:443", "api.example.com:443"));
  EXPECT_TRUE(match("*.example.com:443", "a.b.example.com:443"));
  EXPECT_FALSE(match("*.example.com:443", "example.com:443"));
  EXPECT_FALSE(match("*.example.com:443", "example.com.evil.org:443"));
  EXPECT_FALSE(match("localhost:80", "127.0.0.1:80"));  // no name resolution in the policy
}

TEST(Endpoint, UnixSocketsAndWildcards) {
  EXPECT_TRUE(match("/run/airssys/*.sock", "/run/airssys/bus.sock"));
  EXPECT_FALSE(match("/run/airssys/*.sock", "/run/other/bus.sock"));
  EXPECT_FALSE(match("/run/**", "127.0.0.1:80"));
  EXPECT_FALSE(match("*:*", "/run/bus.sock"));  // "*:*" means network endpoints
  EXPECT_TRUE(match("*", "/run/bus.sock"));
  EXPECT_TRUE(match("*", "[::1]:1"));
  EXPECT_TRUE(match("**", "host:1"));
}

TEST(Endpoint, RejectsMalformedPatterns) {
  struct Bad {
    const char* pattern;
    const char* why;
  };
  for (const Bad& b : {Bad{"127.0.0.1", "needs a port"}, Bad{"10.0.0.0/33:*", "prefix length"},
                       Bad{"10.0.0.1/8:*", "bits set beyond"}, Bad{"*:65536", "0 to 65535"},
                       Bad{"*:99999", "0 to 65535"}, Bad{"*:90-80", "empty"}, Bad{"*:80-", "LOW-HIGH"},
                       Bad{"*:http", "port must be a number"}, Bad{"::1:80", "brackets"},
                       Bad{"[::1:80", "matching ']'"}, Bad{"[zz::]:80", "not an IPv6 address"},
                       Bad{"[::1]/129:80", "prefix length"}, Bad{"[fd00::1]/8:80", "bits set beyond"},
                       Bad{"300.1.1.1/8:80", "not an IPv4 address"}, Bad{"ho st:80", "host name contains"},
                       Bad{":80", "host is empty"}, Bad{"10.0.0.256:80", "not a valid IPv4"}, Bad{"/run//x", "empty segment"}}) {
    const auto p = EndpointPattern::compile(b.pattern);
    ASSERT_FALSE(p.has_value()) << b.pattern;
    EXPECT_NE(p.error().find(b.why), std::string::npos) << b.pattern << ": " << p.error();
  }
}

}  // namespace
}  // namespace airssys::osl::detail
