#pragma once
// RFC 5424 syslog: the address syntax, the message format and the transport
// (unix datagram, UDP, TCP with RFC 6587 octet counting). One implementation
// for every airssys program that speaks syslog: osl's audit sink
// (make_syslog_sink in activity.hpp) and DaemonEye's alert sink.
//
// Thread safety: the free functions are; a Sender is used by one thread at a
// time.

#include <airssys/osl/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace airssys::osl::syslog {

struct Address {
  enum class Transport : std::uint8_t { unix_datagram, udp, tcp };
  Transport transport = Transport::unix_datagram;
  std::string path{};  // unix_datagram
  std::string host{};  // udp/tcp: a name, an IPv4 address or an IPv6 address (without brackets)
  std::uint16_t port = 0;
};

// "/dev/log" (any absolute unix socket path of at most 107 bytes),
// "udp://HOST:PORT" or "tcp://HOST:PORT" (an IPv6 HOST in brackets).
// Errors are invalid_argument with a message naming the text, e.g.
// "syslog address 'udp://h' needs a port (e.g. udp://h:514)".
[[nodiscard]] std::expected<Address, Error> parse_address(std::string_view text);

// The facilities <syslog.h> offers programs (kern is the kernel's):
// user mail daemon auth syslog lpr news uucp cron authpriv ftp local0..local7.
[[nodiscard]] std::optional<int> facility_code(std::string_view name);
[[nodiscard]] std::string_view facility_names();  // "user, mail, ..." for messages
// facility_code, or invalid_argument naming the text and the choices:
// "unknown syslog facility 'kern' (one of: user, mail, ...)". The one check
// for every program that takes a facility from a person.
[[nodiscard]] std::expected<int, Error> parse_facility(std::string_view name);

// RFC 5424 severities used by airssys.
inline constexpr int kCritical = 2, kError = 3, kWarning = 4, kNotice = 5, kInfo = 6;

struct Header {
  int facility = 1;  // 0..23
  int severity = kInfo;  // 0..7
  // Microseconds, the RFC's finest: spans every year the TIMESTAMP can show.
  std::chrono::sys_time<std::chrono::microseconds> time{};
  bool microseconds = false;  // TIMESTAMP with 6 fraction digits; else whole seconds
  std::string_view hostname{};  // each field: reduced to printable US-ASCII (others become '_'),
  std::string_view app_name{};  // cut to the RFC's limits (255, 48, 128, 32),
  std::string_view procid{};    // and "-" (NILVALUE) when empty
  std::string_view msgid{};
};

struct SdParam {
  std::string_view name{};   // SD-NAME: printable US-ASCII without = SP ] " (others become '_'), at most 32
  std::string_view value{};  // any UTF-8; " \ and ] are escaped with a backslash
};
struct SdElement {
  std::string_view id{};  // SD-ID, e.g. "airssys@32473"; reduced like an SD-NAME
  std::span<const SdParam> params{};
};

// The PARAM-VALUE escaping of RFC 5424 §6.3.3: '"', '\' and ']' get a '\' before them.
[[nodiscard]] std::string escape_sd_value(std::string_view value);
// The same, appended to `out`.
void append_sd_value(std::string& out, std::string_view value);

// "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG": SD is "-" when
// `sd` is empty; MSG is `msg` as given (no BOM, so it is MSG-ANY: receivers
// take it as octets, which UTF-8 JSON is). TIMESTAMP is UTC ("Z"), "-" for a
// time outside years 0000..9999.
[[nodiscard]] std::string format_rfc5424(const Header& header, std::span<const SdElement> sd, std::string_view msg);
// The same, appended to `out`: a sender that formats many messages reuses one buffer.
void append_rfc5424(std::string& out, const Header& header, std::span<const SdElement> sd, std::string_view msg);

// RFC 6587 octet counting, the framing on TCP: "LEN SP MSG".
[[nodiscard]] std::string octet_counted(std::string_view message);

// Sends messages to one address. Sockets are non-blocking; send() waits in
// poll() for a full socket only until `deadline`.
//  - unix datagram: not connected, each message is a sendto(), so a
//    restarted syslog daemon (a new /dev/log) is reached without reopening.
//    Success means the receiving socket's queue took the message.
//  - UDP: connected, so an ICMP "port unreachable" fails a later send();
//    success means the kernel accepted the datagram, not that anyone got it.
//  - TCP: connects on the first send and reconnects when the connection
//    failed, a frame could not be sent whole (the stream would be out of
//    step) or the server closed it; success means the whole frame is in the
//    kernel's send buffer.
// Errors: io (with errno) for a failed send or connect, timeout when the
// socket stayed full or the connect did not finish by the deadline,
// not_found for a host that does not resolve.
class Sender {
 public:
  [[nodiscard]] static std::expected<Sender, Error> open(Address address);

  // One RFC 5424 message (without framing: TCP adds octet counting).
  [[nodiscard]] std::expected<void, Error> send(std::string_view message,
                                                std::chrono::steady_clock::time_point deadline);
  [[nodiscard]] const Address& address() const noexcept { return address_; }

 private:
  Sender() = default;
  std::expected<void, Error> send_datagram(std::string_view message, std::chrono::steady_clock::time_point deadline);
  std::expected<void, Error> send_stream(std::string_view message, std::chrono::steady_clock::time_point deadline);
  std::expected<void, Error> connect_stream(std::chrono::steady_clock::time_point deadline);
  bool peer_closed() const;

  Address address_;
  sockaddr_storage target_{};
  socklen_t target_len_ = 0;
  int family_ = 0;
  UniqueFd fd_;
};

}  // namespace airssys::osl::syslog
