#include <airssys/bus/error.hpp>

#include <cstring>

namespace airssys::bus {

std::string_view to_string(Errc c) noexcept {
  switch (c) {
    case Errc::invalid_subject: return "invalid_subject";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::malformed_frame: return "malformed_frame";
    case Errc::frame_too_large: return "frame_too_large";
    case Errc::io: return "io";
    case Errc::not_connected: return "not_connected";
    case Errc::timeout: return "timeout";
    case Errc::not_authorized: return "not_authorized";
    case Errc::permission_denied: return "permission_denied";
    case Errc::closed: return "closed";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string s(bus::to_string(code));
  s += ": ";
  s += message;
  return s;
}

Error Error::make(Errc c, std::string message) { return Error{c, std::move(message)}; }

Error Error::from_errno(int err, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  return Error{Errc::io, std::move(m)};
}

}  // namespace airssys::bus
