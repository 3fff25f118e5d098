#include <airssys/ledger/error.hpp>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace airssys::ledger {

std::string_view to_string(ErrorCategory c) noexcept {
  switch (c) {
    case ErrorCategory::invalid_argument: return "invalid_argument";
    case ErrorCategory::out_of_range: return "out_of_range";
    case ErrorCategory::not_found: return "not_found";
    case ErrorCategory::already_exists: return "already_exists";
    case ErrorCategory::busy: return "busy";
    case ErrorCategory::io: return "io";
    case ErrorCategory::corrupt: return "corrupt";
    case ErrorCategory::invalid_proof: return "invalid_proof";
    case ErrorCategory::crypto: return "crypto";
    case ErrorCategory::internal: return "internal";
  }
  return "internal";
}

std::string Error::to_string() const { return fmt::format("{}: {}", ledger::to_string(category), message); }

Error Error::make(ErrorCategory c, std::string msg) { return Error{c, 0, std::move(msg)}; }

Error Error::from_errno(int err, std::string_view what) {
  ErrorCategory c = ErrorCategory::io;
  switch (err) {
    case ENOENT:
    case ENOTDIR: c = ErrorCategory::not_found; break;
    case EEXIST: c = ErrorCategory::already_exists; break;
    case EWOULDBLOCK: c = ErrorCategory::busy; break;
    case ELOOP:
    case EINVAL:
    case EISDIR:
    case ENAMETOOLONG: c = ErrorCategory::invalid_argument; break;
    default: break;
  }
  return Error{c, err, fmt::format("{}: {}", what, std::strerror(err))};
}

}  // namespace airssys::ledger
