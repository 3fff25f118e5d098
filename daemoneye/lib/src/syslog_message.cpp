#include "syslog_message.hpp"

#include "utc_time.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace airssys::daemoneye::detail {

namespace {

constexpr std::string_view kAddressHelp =
    "expected /dev/log, another absolute unix socket path, udp://HOST:PORT or tcp://HOST:PORT";

struct Facility {
  std::string_view name;
  int code;
};

constexpr std::array kFacilities{Facility{"user", 1},    Facility{"mail", 2},    Facility{"daemon", 3},
                                 Facility{"auth", 4},    Facility{"syslog", 5},  Facility{"lpr", 6},
                                 Facility{"news", 7},    Facility{"uucp", 8},    Facility{"cron", 9},
                                 Facility{"authpriv", 10}, Facility{"ftp", 11},  Facility{"local0", 16},
                                 Facility{"local1", 17}, Facility{"local2", 18}, Facility{"local3", 19},
                                 Facility{"local4", 20}, Facility{"local5", 21}, Facility{"local6", 22},
                                 Facility{"local7", 23}};

// PRINTUSASCII (33..126), at most `max` characters, "-" (the NILVALUE) when empty.
std::string header_field(std::string_view s, std::size_t max) {
  std::string out;
  for (const char c : s) {
    if (out.size() == max) break;
    out += (c >= 33 && c <= 126) ? c : '_';
  }
  return out.empty() ? std::string("-") : out;
}

std::expected<SyslogAddress, std::string> parse_network(std::string_view text, std::string_view rest,
                                                        SyslogAddress::Transport transport) {
  std::string_view host;
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return std::unexpected(fmt::format("invalid syslog address '{}' ({})", text, kAddressHelp));
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return std::unexpected(fmt::format("syslog address '{}' needs a port (e.g. {}:514)", text, text));
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return std::unexpected(fmt::format("syslog address '{}': write an IPv6 address in brackets, e.g. [::1]:514", text));
    }
  }
  if (host.empty()) return std::unexpected(fmt::format("syslog address '{}' has no host", text));
  for (const char c : host) {
    if (c <= ' ' || c == '/' || c == '@' || c == '[' || c == ']' || c == 127) {
      return std::unexpected(fmt::format("syslog address '{}': invalid character in host", text));
    }
  }
  unsigned long n = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc{} || p != port.data() + port.size() || n == 0 || n > 65535) {
    return std::unexpected(fmt::format("syslog address '{}': port must be a number from 1 to 65535", text));
  }
  SyslogAddress a;
  a.transport = transport;
  a.host = std::string(host);
  a.port = static_cast<std::uint16_t>(n);
  return a;
}

}  // namespace

std::expected<SyslogAddress, std::string> parse_syslog_address(std::string_view text) {
  if (text.starts_with('/')) {
    // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
    if (text.size() > 107) {
      return std::unexpected(
          fmt::format("syslog socket path is {} bytes; a unix socket path is at most 107", text.size()));
    }
    if (text.find('\0') != std::string_view::npos) {
      return std::unexpected(std::string("syslog socket path contains a NUL byte"));
    }
    SyslogAddress a;
    a.path = std::string(text);
    return a;
  }
  if (text.starts_with("udp://")) return parse_network(text, text.substr(6), SyslogAddress::Transport::udp);
  if (text.starts_with("tcp://")) return parse_network(text, text.substr(6), SyslogAddress::Transport::tcp);
  return std::unexpected(fmt::format("invalid syslog address '{}' ({})", text, kAddressHelp));
}

std::optional<int> syslog_facility_code(std::string_view name) {
  for (const Facility& f : kFacilities) {
    if (f.name == name) return f.code;
  }
  return std::nullopt;
}

std::string_view syslog_facility_names() {
  return "user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0 ... local7";
}

int syslog_severity(Severity s) noexcept {
  switch (s) {
    case Severity::critical: return 2;
    case Severity::high: return 3;
    case Severity::medium: return 4;
    case Severity::low: return 5;
  }
  return 4;
}

std::string format_rfc5424(const Alert& alert, int facility, long procid, std::string_view msg) {
  const int pri = facility * 8 + syslog_severity(alert.severity);
  return fmt::format("<{}>1 {} {} daemoneye {} {} - {}", pri, utc_timestamp(alert.time), header_field(alert.host, 255),
                     procid, header_field(alert.rule_id, 32), msg);
}

}  // namespace airssys::daemoneye::detail
