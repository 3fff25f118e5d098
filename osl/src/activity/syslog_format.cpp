// RFC 5424 message text and the syslog address syntax (audit_syslog.hpp).
#include <airssys/osl/audit_syslog.hpp>
#include <airssys/osl/utc_time.hpp>

#include <array>
#include <charconv>

#include <fmt/format.h>

namespace airssys::osl::syslog {

namespace {

constexpr std::string_view kAddressHelp =
    "expected /dev/log, another absolute unix socket path, udp://HOST:PORT or tcp://HOST:PORT";

struct Facility {
  std::string_view name;
  int code;
};

constexpr std::array kFacilities{Facility{"user", 1},     Facility{"mail", 2},    Facility{"daemon", 3},
                                 Facility{"auth", 4},     Facility{"syslog", 5},  Facility{"lpr", 6},
                                 Facility{"news", 7},     Facility{"uucp", 8},    Facility{"cron", 9},
                                 Facility{"authpriv", 10}, Facility{"ftp", 11},   Facility{"local0", 16},
                                 Facility{"local1", 17},  Facility{"local2", 18}, Facility{"local3", 19},
                                 Facility{"local4", 20},  Facility{"local5", 21}, Facility{"local6", 22},
                                 Facility{"local7", 23}};

Error invalid(std::string message) { return Error::make(ErrorCategory::invalid_argument, std::move(message)); }

// PRINTUSASCII (33..126) minus `also_bad`, at most `max` characters, "-" when empty.
void append_field(std::string& out, std::string_view s, std::size_t max, std::string_view also_bad = {}) {
  const std::size_t start = out.size();
  for (const char c : s) {
    if (out.size() - start == max) break;
    const bool ok = c >= 33 && c <= 126 && also_bad.find(c) == std::string_view::npos;
    out += ok ? c : '_';
  }
  if (out.size() == start) out += '-';
}

std::expected<Address, Error> parse_network(std::string_view text, std::string_view rest, Address::Transport transport) {
  std::string_view host;
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return std::unexpected(invalid(fmt::format("invalid syslog address '{}' ({})", text, kAddressHelp)));
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return std::unexpected(invalid(fmt::format("syslog address '{}' needs a port (e.g. {}:514)", text, text)));
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return std::unexpected(
          invalid(fmt::format("syslog address '{}': write an IPv6 address in brackets, e.g. [::1]:514", text)));
    }
  }
  if (host.empty()) return std::unexpected(invalid(fmt::format("syslog address '{}' has no host", text)));
  for (const char c : host) {
    if (c <= ' ' || c == '/' || c == '@' || c == '[' || c == ']' || c == 127) {
      return std::unexpected(invalid(fmt::format("syslog address '{}': invalid character in host", text)));
    }
  }
  unsigned long n = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty() || ec != std::errc{} || p != port.data() + port.size() || n == 0 || n > 65535) {
    return std::unexpected(invalid(fmt::format("syslog address '{}': port must be a number from 1 to 65535", text)));
  }
  Address a;
  a.transport = transport;
  a.host = std::string(host);
  a.port = static_cast<std::uint16_t>(n);
  return a;
}

}  // namespace

std::expected<Address, Error> parse_address(std::string_view text) {
  if (text.starts_with('/')) {
    // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
    if (text.size() > 107) {
      return std::unexpected(
          invalid(fmt::format("syslog socket path is {} bytes; a unix socket path is at most 107", text.size())));
    }
    if (text.find('\0') != std::string_view::npos) {
      return std::unexpected(invalid("syslog socket path contains a NUL byte"));
    }
    Address a;
    a.path = std::string(text);
    return a;
  }
  if (text.starts_with("udp://")) return parse_network(text, text.substr(6), Address::Transport::udp);
  if (text.starts_with("tcp://")) return parse_network(text, text.substr(6), Address::Transport::tcp);
  return std::unexpected(invalid(fmt::format("invalid syslog address '{}' ({})", text, kAddressHelp)));
}

std::optional<int> facility_code(std::string_view name) {
  for (const Facility& f : kFacilities) {
    if (f.name == name) return f.code;
  }
  return std::nullopt;
}

std::expected<int, Error> parse_facility(std::string_view name) {
  if (auto code = facility_code(name)) return *code;
  return std::unexpected(invalid(fmt::format("unknown syslog facility '{}' (one of: {})", name, facility_names())));
}

std::string_view facility_names() {
  return "user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0 ... local7";
}

std::string escape_sd_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  append_sd_value(out, value);
  return out;
}

void append_sd_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
}

std::string format_rfc5424(const Header& h, std::span<const SdElement> sd, std::string_view msg) {
  std::string out;
  out.reserve(128 + msg.size());
  append_rfc5424(out, h, sd, msg);
  return out;
}

void append_rfc5424(std::string& out, const Header& h, std::span<const SdElement> sd, std::string_view msg) {
  const int pri = (h.facility & 0x1f) * 8 + (h.severity & 7);
  out += '<';
  char digits[4];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, pri);
  out.append(digits, static_cast<std::size_t>(end - digits));
  out += ">1 ";
  append_utc_time(out, h.time, h.microseconds ? 6 : 0);
  out += ' ';
  append_field(out, h.hostname, 255);
  out += ' ';
  append_field(out, h.app_name, 48);
  out += ' ';
  append_field(out, h.procid, 128);
  out += ' ';
  append_field(out, h.msgid, 32);
  out += ' ';
  if (sd.empty()) out += '-';
  for (const SdElement& e : sd) {
    out += '[';
    append_field(out, e.id, 32, "= ]\"");
    for (const SdParam& p : e.params) {
      out += ' ';
      append_field(out, p.name, 32, "= ]\"");
      out += "=\"";
      append_sd_value(out, p.value);
      out += '"';
    }
    out += ']';
  }
  out += ' ';
  out += msg;
}

std::string octet_counted(std::string_view message) { return fmt::format("{} {}", message.size(), message); }

}  // namespace airssys::osl::syslog
