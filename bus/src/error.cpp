#include <airssys/bus/error.hpp>

#include <cstring>

namespace airssys::bus {

std::string_view to_string(ErrorCategory c) noexcept {
  switch (c) {
    case ErrorCategory::invalid_subject: return "invalid_subject";
    case ErrorCategory::invalid_argument: return "invalid_argument";
    case ErrorCategory::unsafe_directory: return "unsafe_directory";
    case ErrorCategory::malformed_frame: return "malformed_frame";
    case ErrorCategory::frame_too_large: return "frame_too_large";
    case ErrorCategory::io: return "io";
    case ErrorCategory::not_connected: return "not_connected";
    case ErrorCategory::timeout: return "timeout";
    case ErrorCategory::not_authorized: return "not_authorized";
    case ErrorCategory::permission_denied: return "permission_denied";
    case ErrorCategory::closed: return "closed";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string s(bus::to_string(category));
  s += ": ";
  s += message;
  return s;
}

Error Error::make(ErrorCategory c, std::string message) { return Error{c, 0, std::move(message)}; }

Error Error::from_errno(int err, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  return Error{ErrorCategory::io, err, std::move(m)};
}

}  // namespace airssys::bus
