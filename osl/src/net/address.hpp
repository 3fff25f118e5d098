#pragma once
// Parsing and resolving the address strings of net operations.

#include <airssys/osl/error.hpp>

#include <sys/socket.h>

#include <expected>
#include <string>
#include <vector>

namespace airssys::osl::detail {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
  std::string name;   // canonical policy resource: "IP:PORT", "[IPv6]:PORT"
  std::string alias;  // "HOST:PORT" when the caller gave a host name
};

struct ParsedAddress {
  bool is_unix = false;
  std::string unix_path;  // is_unix
  std::string host;       // otherwise
  std::uint16_t port = 0;
};

// "HOST:PORT", "[v6]:PORT", "/path", "unix:/path".
[[nodiscard]] std::expected<ParsedAddress, Error> parse_address(std::string_view address);

// Resolves host names (getaddrinfo); literals need no lookup.
[[nodiscard]] std::expected<std::vector<Endpoint>, Error> resolve_endpoints(const ParsedAddress& a, int socktype);

// "IP:PORT" text of a socket address.
[[nodiscard]] std::string endpoint_text(const sockaddr* sa);

}  // namespace airssys::osl::detail
