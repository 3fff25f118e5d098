#include "net/address.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>

namespace airssys::osl::detail {

// The caller's address or host is quoted in messages through shown_text (up
// to kShownPathMax bytes): a 1 MB address must not make a 1 MB message, nor
// a control byte in it reach a terminal.
std::expected<ParsedAddress, Error> parse_address(std::string_view address) {
  auto bad = [&](std::string_view why) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("address '{}': {}", shown_text(address, kShownPathMax), why)));
  };
  if (address.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  ParsedAddress a;
  if (address.starts_with("unix:")) address.remove_prefix(5);
  if (address.starts_with("/")) {
    a.is_unix = true;
    a.unix_path = std::string(address);
    return a;
  }
  std::string_view host, port;
  if (address.starts_with("[")) {
    const auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return bad("expected [IPv6]:PORT");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return bad("expected HOST:PORT, [IPv6]:PORT or a Unix socket path");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("IPv6 addresses must be written [ADDR]:PORT");
  }
  if (host.empty()) return bad("empty host");
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  a.host = std::string(host);
  a.port = static_cast<std::uint16_t>(value);
  return a;
}

std::string endpoint_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return fmt::format("{}:{}", buf, ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return fmt::format("[{}]:{}", buf, ntohs(in6->sin6_port));
  }
  return "?";
}

std::expected<std::vector<Endpoint>, Error> resolve_endpoints(const ParsedAddress& a, int socktype) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(a.port);
  const int rc = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return std::unexpected(Error{rc == EAI_NONAME ? ErrorCategory::not_found : ErrorCategory::io, 0, 0,
                                 fmt::format("cannot resolve '{}': {}", shown_text(a.host, kShownPathMax), ::gai_strerror(rc))});
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  in6_addr probe6{};
  in_addr probe4{};
  const bool literal = ::inet_pton(AF_INET, a.host.c_str(), &probe4) == 1 || ::inet_pton(AF_INET6, a.host.c_str(), &probe6) == 1;
  std::vector<Endpoint> out;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    Endpoint e;
    std::memcpy(&e.addr, ai->ai_addr, ai->ai_addrlen);
    e.len = ai->ai_addrlen;
    e.family = ai->ai_family;
    e.name = endpoint_text(ai->ai_addr);
    if (!literal) e.alias = fmt::format("{}:{}", a.host, a.port);
    bool dup = false;
    for (const auto& o : out) dup = dup || o.name == e.name;
    if (!dup) out.push_back(std::move(e));
  }
  if (out.empty()) return std::unexpected(Error::make(ErrorCategory::not_found, fmt::format("'{}' has no addresses", shown_text(a.host, kShownPathMax))));
  return out;
}

}  // namespace airssys::osl::detail
