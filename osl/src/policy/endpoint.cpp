#include "policy/endpoint.hpp"

#include <airssys/osl/detail/shown_text.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "policy/glob.hpp"

namespace airssys::osl::detail {

namespace {

constexpr std::size_t kMaxHostLen = 253;  // DNS limit; longer hosts are malformed

// inet_pton wants a NUL-terminated string; copy into a stack buffer so that
// parsing a resource never allocates.
bool parse_ip(std::string_view text, int family, std::array<std::uint8_t, 16>& out) noexcept {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  out.fill(0);
  return inet_pton(family, buf, out.data()) == 1;
}

bool is_v4_mapped(const std::array<std::uint8_t, 16>& a) noexcept {
  static constexpr std::array<std::uint8_t, 12> kPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(kPrefix.begin(), kPrefix.end(), a.begin());
}

void unmap_v4(std::array<std::uint8_t, 16>& a) noexcept {
  std::array<std::uint8_t, 16> v4{};
  std::copy(a.begin() + 12, a.end(), v4.begin());
  a = v4;
}

std::optional<unsigned> parse_number(std::string_view s, unsigned max) noexcept {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

bool is_host_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

// Splits "HOST:PORT" / "[V6]:PORT" / "[V6]/LEN:PORT" into host part (brackets
// kept) and port part. Returns false when there is no port separator.
bool split_host_port(std::string_view s, std::string_view& host, std::string_view& port) noexcept {
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = s.substr(0, colon);
  port = s.substr(colon + 1);
  return true;
}

bool prefix_equal(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b, int bits) noexcept {
  int i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (a[static_cast<std::size_t>(i)] != b[static_cast<std::size_t>(i)]) return false;
  }
  if (bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits));
  return (a[static_cast<std::size_t>(i)] & mask) == (b[static_cast<std::size_t>(i)] & mask);
}

bool host_bits_zero(const std::array<std::uint8_t, 16>& a, int prefix, int total_bits) noexcept {
  for (int bit = prefix; bit < total_bits; ++bit) {
    if ((a[static_cast<std::size_t>(bit / 8)] >> (7 - bit % 8)) & 1) return false;
  }
  return true;
}

}  // namespace

std::optional<Endpoint> parse_endpoint(std::string_view s) noexcept {
  Endpoint e;
  if (!s.empty() && s.front() == '/') {
    e.kind = Endpoint::Kind::unix_path;
    e.path = s;
    return e;
  }
  std::string_view host;
  std::string_view port;
  if (!split_host_port(s, host, port)) return std::nullopt;
  const auto p = parse_number(port, 65535);
  if (!p) return std::nullopt;
  e.port = static_cast<std::uint16_t>(*p);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    e.host = host.substr(1, host.size() - 2);
    if (!parse_ip(e.host, AF_INET6, e.addr)) return std::nullopt;
    e.kind = Endpoint::Kind::ipv6;
    if (is_v4_mapped(e.addr)) {
      unmap_v4(e.addr);
      e.kind = Endpoint::Kind::ipv4;
    }
    return e;
  }
  if (host.empty() || host.size() > kMaxHostLen || !std::all_of(host.begin(), host.end(), is_host_char)) {
    return std::nullopt;
  }
  e.host = host;
  e.kind = parse_ip(host, AF_INET, e.addr) ? Endpoint::Kind::ipv4 : Endpoint::Kind::host;
  return e;
}

std::expected<EndpointPattern, std::string> EndpointPattern::compile(std::string_view pattern) {
  EndpointPattern ep;
  ep.text_ = std::string(pattern);
  const auto fail = [&](std::string_view why) {
    return std::unexpected("endpoint pattern '" + shown_text(pattern) + "': " + std::string(why));
  };
  if (pattern == "*" || pattern == "**") return ep;
  if (!pattern.empty() && pattern.front() == '/') {
    auto g = PathGlob::compile(pattern);
    if (!g) return std::unexpected(g.error());
    ep.host_ = HostKind::unix_glob;
    ep.unix_ = std::move(*g);
    return ep;
  }
  std::string_view host;
  std::string_view port;
  if (!split_host_port(pattern, host, port)) {
    return fail("needs a port: write HOST:PORT, HOST:LOW-HIGH or HOST:* (or an absolute Unix socket path)");
  }
  // Port spec.
  if (port == "*") {
    ep.port_lo_ = 0;
    ep.port_hi_ = 65535;
  } else if (const std::size_t dash = port.find('-'); dash != std::string_view::npos) {
    const auto lo = parse_number(port.substr(0, dash), 65535);
    const auto hi = parse_number(port.substr(dash + 1), 65535);
    if (!lo || !hi) return fail("port range must be LOW-HIGH with numbers from 0 to 65535");
    if (*lo > *hi) return fail("port range is empty (low end above high end)");
    ep.port_lo_ = static_cast<std::uint16_t>(*lo);
    ep.port_hi_ = static_cast<std::uint16_t>(*hi);
  } else {
    const auto p = parse_number(port, 65535);
    if (!p) return fail("port must be a number from 0 to 65535, a range LOW-HIGH, or '*'");
    ep.port_lo_ = ep.port_hi_ = static_cast<std::uint16_t>(*p);
  }
  // Host.
  if (host == "*") {
    ep.host_ = HostKind::any_host;
    return ep;
  }
  if (host.empty()) return fail("host is empty");
  std::string_view addr = host;
  std::optional<std::string_view> len_text;
  bool v6 = false;
  if (host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return fail("'[' without a matching ']'");
    addr = host.substr(1, close - 1);
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != '/') return fail("expected '/LEN' or ':PORT' after ']'");
      len_text = rest.substr(1);
    }
    v6 = true;
  } else if (host.find(':') != std::string_view::npos) {
    return fail("IPv6 addresses must be written in brackets, e.g. [::1]:443 or [fd00::]/8:*");
  } else if (const std::size_t slash = host.find('/'); slash != std::string_view::npos) {
    addr = host.substr(0, slash);
    len_text = host.substr(slash + 1);
  }
  std::array<std::uint8_t, 16> bytes{};
  if (v6) {
    if (!parse_ip(addr, AF_INET6, bytes)) return fail("'" + shown_text(addr) + "' is not an IPv6 address");
  } else if (!parse_ip(addr, AF_INET, bytes)) {
    if (len_text) return fail("'" + shown_text(addr) + "' is not an IPv4 address (needed before '/LEN')");
    if (std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
      return fail("'" + shown_text(host) + "' is not a valid IPv4 address");
    }
    // A host-name glob.
    for (const char c : host) {
      if (!is_host_char(c) && c != '*' && c != '?') {
        return fail(std::string("host name contains '") + c + "'; allowed are letters, digits, '.', '-', '_', '*' and '?'");
      }
    }
    if (host.size() > kMaxHostLen) return fail("host name is longer than 253 characters");
    ep.host_ = HostKind::host_glob;
    ep.host_glob_.reserve(host.size());
    for (const char c : host) ep.host_glob_ += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return ep;
  }
  const int total = v6 ? 128 : 32;
  int prefix = total;
  if (len_text) {
    const auto n = parse_number(*len_text, static_cast<unsigned>(total));
    if (!n) return fail("prefix length must be a number from 0 to " + std::to_string(total));
    prefix = static_cast<int>(*n);
  }
  if (!host_bits_zero(bytes, prefix, total)) {
    return fail("address has bits set beyond the /" + std::to_string(prefix) +
                " prefix; write the network address (e.g. 10.0.0.0/8)");
  }
  if (v6 && is_v4_mapped(bytes) && prefix >= 96) {
    // Resources are unmapped to IPv4 before matching; do the same here.
    unmap_v4(bytes);
    v6 = false;
    prefix -= 96;
  }
  ep.host_ = v6 ? HostKind::ipv6_net : HostKind::ipv4_net;
  ep.net_ = bytes;
  ep.prefix_ = prefix;
  return ep;
}

bool EndpointPattern::matches(const Endpoint& e) const noexcept {
  switch (host_) {
    case HostKind::everything:
      return true;
    case HostKind::unix_glob:
      return e.kind == Endpoint::Kind::unix_path && unix_->matches(e.path);
    default:
      break;
  }
  if (e.kind == Endpoint::Kind::unix_path) return false;
  if (e.port < port_lo_ || e.port > port_hi_) return false;
  switch (host_) {
    case HostKind::any_host:
      return true;
    case HostKind::ipv4_net:
      return e.kind == Endpoint::Kind::ipv4 && prefix_equal(net_, e.addr, prefix_);
    case HostKind::ipv6_net:
      return e.kind == Endpoint::Kind::ipv6 && prefix_equal(net_, e.addr, prefix_);
    case HostKind::host_glob:
      return glob_match(host_glob_, e.host, CaseMode::fold_ascii);
    default:
      return false;
  }
}

}  // namespace airssys::osl::detail
