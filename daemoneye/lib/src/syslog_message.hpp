#pragma once
// The syslog sink's alert-specific parts: how an alert becomes an RFC 5424
// message. The address syntax, facility names, message format and transport
// are osl's (airssys/osl/audit_syslog.hpp), shared with osl's audit sink;
// the names here keep DaemonEye's callers (config, sink) as they were.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/osl/audit_syslog.hpp>

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

using SyslogAddress = osl::syslog::Address;

// "/dev/log" (any absolute unix socket path of at most 107 bytes),
// "udp://HOST:PORT" or "tcp://HOST:PORT" (an IPv6 HOST in brackets).
// A refused address is invalid_input with osl's message.
[[nodiscard]] Result<SyslogAddress> parse_syslog_address(std::string_view text);

// The facilities <syslog.h> offers programs (kern is the kernel's):
// user mail daemon auth syslog lpr news uucp cron authpriv ftp local0..local7.
[[nodiscard]] inline std::optional<int> syslog_facility_code(std::string_view name) {
  return osl::syslog::facility_code(name);
}

// RFC 5424 severity of an alert: critical → 2 (crit), high → 3 (err),
// medium → 4 (warning), low → 5 (notice).
[[nodiscard]] int syslog_severity(Severity s) noexcept;

// "<PRI>1 TIMESTAMP HOSTNAME daemoneye PROCID MSGID - MSG" with TIMESTAMP the
// alert's time (UTC, whole seconds), HOSTNAME the alert's host and MSGID its
// rule id, each reduced to printable US-ASCII and the RFC's length limits
// ("-" if empty); no structured data; MSG is `msg` as given (no BOM).
[[nodiscard]] std::string format_rfc5424(const Alert& alert, int facility, long procid, std::string_view msg);

}  // namespace airssys::daemoneye::detail
