#pragma once
// bus::Error — the one error type every airssys-bus operation returns, in
// the shape every airssys component shares (docs/architecture.md "Errors:
// one shape"): callers branch on `category`; `errno_value` is the errno of
// the system call that failed (0 when none did); `message` is for people.

#include <string>
#include <string_view>

namespace airssys::bus {

enum class ErrorCategory {
  invalid_subject,    // empty token, wildcard where not allowed, too long, bad byte
  invalid_argument,   // other bad input (options, sizes)
  unsafe_directory,   // the socket's directory is another user's or open to group/other (Broker::start)
  malformed_frame,    // bytes on the wire that are not a valid frame
  frame_too_large,    // a frame's length prefix exceeds the maximum
  io,                 // a system call failed (errno_value says which way)
  not_connected,      // the client has no live connection (it may be reconnecting)
  timeout,            // a request or flush got no answer in time
  not_authorized,     // the broker refused this peer's uid/gid (SO_PEERCRED)
  permission_denied,  // the broker refused a publish/subscribe for this uid
  closed,             // the client or broker was closed
};
// The enum's name before it had the shared one.
using Errc = ErrorCategory;

[[nodiscard]] std::string_view to_string(ErrorCategory c) noexcept;

struct Error {
  ErrorCategory category = ErrorCategory::io;
  int errno_value = 0;  // 0 when no system call failed
  std::string message;

  // "invalid_subject: empty token in 'a..b'"
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] static Error make(ErrorCategory c, std::string message);
  // Appends strerror(err) to `what`; category io, errno_value err.
  [[nodiscard]] static Error from_errno(int err, std::string_view what);
  // The whole value: category, errno_value and message. To ask "is this a
  // timeout?", compare `category`.
  friend bool operator==(const Error&, const Error&) = default;
};

}  // namespace airssys::bus
