#pragma once
// The syslog sink's pure parts: its address syntax, facility names and the
// RFC 5424 message. The transport is in sink_syslog.cpp.

#include <airssys/daemoneye/alert.hpp>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

struct SyslogAddress {
  enum class Transport : std::uint8_t { unix_datagram, udp, tcp };
  Transport transport = Transport::unix_datagram;
  std::string path;  // unix_datagram
  std::string host;  // udp/tcp: a name, an IPv4 address or an IPv6 address (without brackets)
  std::uint16_t port = 0;
};

// "/dev/log" (any absolute unix socket path of at most 107 bytes),
// "udp://HOST:PORT" or "tcp://HOST:PORT" (an IPv6 HOST in brackets).
[[nodiscard]] std::expected<SyslogAddress, std::string> parse_syslog_address(std::string_view text);

// The facilities <syslog.h> offers programs (kern is the kernel's):
// user mail daemon auth syslog lpr news uucp cron authpriv ftp local0..local7.
[[nodiscard]] std::optional<int> syslog_facility_code(std::string_view name);
[[nodiscard]] std::string_view syslog_facility_names();  // "user, mail, ..." for messages

// RFC 5424 severity of an alert: critical → 2 (crit), high → 3 (err),
// medium → 4 (warning), low → 5 (notice).
[[nodiscard]] int syslog_severity(Severity s) noexcept;

// "<PRI>1 TIMESTAMP HOSTNAME daemoneye PROCID MSGID - MSG" with TIMESTAMP the
// alert's time (UTC), HOSTNAME the alert's host and MSGID its rule id, each
// reduced to printable US-ASCII and the RFC's length limits ("-" if empty);
// no structured data; MSG is `msg` as given (no BOM).
[[nodiscard]] std::string format_rfc5424(const Alert& alert, int facility, long procid, std::string_view msg);

}  // namespace airssys::daemoneye::detail
