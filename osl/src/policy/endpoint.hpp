#pragma once
// Network endpoints as the policy sees them, and the patterns that match them.
//
// Resource strings (built by the pipeline): "IP:PORT", "[IPv6]:PORT",
// "HOSTNAME:PORT" (usually the alias), or an absolute Unix socket path.
// Pattern strings (written in policies): "HOST:PORTSPEC" where HOST is an
// IPv4 address, an IPv4 CIDR "10.0.0.0/8", a bracketed IPv6 address "[::1]"
// or CIDR "[fd00::]/8", a host-name glob "*.example.com", or "*"; PORTSPEC is
// "443", "8000-9000" or "*". A pattern starting with '/' is a path glob for
// Unix sockets, and "*" / "**" alone match every endpoint.

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "policy/path_glob.hpp"

namespace airssys::osl::detail {

// A resource string taken apart. Views point into the string it was parsed
// from; IPv4-mapped IPv6 addresses are reported as IPv4 so that IPv4 rules
// cannot be sidestepped with "[::ffff:10.0.0.1]".
struct Endpoint {
  enum class Kind : std::uint8_t { ipv4, ipv6, host, unix_path };
  Kind kind = Kind::host;
  std::array<std::uint8_t, 16> addr{};  // network byte order; IPv4 uses the first 4
  std::string_view host;                // host text as written (no brackets); empty for unix_path
  std::string_view path;                // unix_path only
  std::uint16_t port = 0;
};

// nullopt when `s` is neither a valid endpoint nor an absolute path.
[[nodiscard]] std::optional<Endpoint> parse_endpoint(std::string_view s) noexcept;

class EndpointPattern {
 public:
  [[nodiscard]] static std::expected<EndpointPattern, std::string> compile(std::string_view pattern);

  [[nodiscard]] bool matches(const Endpoint& e) const noexcept;
  [[nodiscard]] bool matches_everything() const noexcept { return host_ == HostKind::everything; }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  enum class HostKind : std::uint8_t { everything, unix_glob, any_host, ipv4_net, ipv6_net, host_glob };
  EndpointPattern() = default;

  std::string text_;
  HostKind host_ = HostKind::everything;
  std::optional<PathGlob> unix_;     // unix_glob
  std::array<std::uint8_t, 16> net_{};  // ipv4_net / ipv6_net, host bits zero
  int prefix_ = 0;
  std::string host_glob_;            // lower-case
  std::uint16_t port_lo_ = 0;
  std::uint16_t port_hi_ = 65535;
};

}  // namespace airssys::osl::detail
