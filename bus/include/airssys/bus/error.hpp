#pragma once
// bus::Error — the one error type every airssys-bus operation returns.
// Callers branch on `code`; `message` is for people.

#include <string>
#include <string_view>

namespace airssys::bus {

enum class Errc {
  invalid_subject,    // empty token, wildcard where not allowed, too long, bad byte
  invalid_argument,   // other bad input (options, sizes)
  malformed_frame,    // bytes on the wire that are not a valid frame
  frame_too_large,    // a frame's length prefix exceeds the maximum
  io,                 // a system call failed
  not_connected,      // the client has no live connection (it may be reconnecting)
  timeout,            // a request or flush got no answer in time
  not_authorized,     // the broker refused this peer's uid/gid (SO_PEERCRED)
  permission_denied,  // the broker refused a publish/subscribe for this uid
  closed,             // the client or broker was closed
};

[[nodiscard]] std::string_view to_string(Errc c) noexcept;

struct Error {
  Errc code = Errc::io;
  std::string message;

  // "invalid_subject: empty token in 'a..b'"
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] static Error make(Errc c, std::string message);
  // Appends strerror(err) to `what`; code io.
  [[nodiscard]] static Error from_errno(int err, std::string_view what);
};

}  // namespace airssys::bus
