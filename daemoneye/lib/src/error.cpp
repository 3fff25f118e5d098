#include <airssys/daemoneye/error.hpp>

#include <cerrno>
#include <cstring>
#include <ostream>

#include <fmt/format.h>

namespace airssys::daemoneye {

std::string_view to_string(ErrorCategory c) noexcept {
  switch (c) {
    case ErrorCategory::invalid_input: return "invalid_input";
    case ErrorCategory::not_found: return "not_found";
    case ErrorCategory::denied: return "denied";
    case ErrorCategory::busy: return "busy";
    case ErrorCategory::timeout: return "timeout";
    case ErrorCategory::resource_exhausted: return "resource_exhausted";
    case ErrorCategory::unavailable: return "unavailable";
    case ErrorCategory::corrupt: return "corrupt";
    case ErrorCategory::io: return "io";
    case ErrorCategory::internal: return "internal";
  }
  return "internal";
}

std::string Error::to_string() const { return fmt::format("{}: {}", daemoneye::to_string(category), message); }

Error Error::make(ErrorCategory c, std::string message) { return Error{c, 0, std::move(message)}; }

Error Error::prefixed(std::string_view where) const {
  return Error{category, errno_value, fmt::format("{}: {}", where, message)};
}

namespace {

ErrorCategory category_of(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ESRCH:
      return ErrorCategory::not_found;
    case EACCES:
    case EPERM:
    case EROFS:
    case ELOOP:  // O_NOFOLLOW met a symlink: refused on purpose
      return ErrorCategory::denied;
    case EWOULDBLOCK:
    case EBUSY:
      return ErrorCategory::busy;
    case ETIMEDOUT:
    case ETIME:
      return ErrorCategory::timeout;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EFBIG:
    case ENOBUFS:
      return ErrorCategory::resource_exhausted;
    case ECONNREFUSED:
    case ENOSYS:
    case EOPNOTSUPP:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case EHOSTUNREACH:
    case ENETUNREACH:
      return ErrorCategory::unavailable;
    case EINVAL:
    case ENAMETOOLONG:
    case EISDIR:
    case E2BIG:
      return ErrorCategory::invalid_input;
    default:
      return ErrorCategory::io;
  }
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Error& e) { return os << e.to_string(); }

Error Error::from_errno(int err, std::string_view what) {
  return Error{category_of(err), err, fmt::format("{}: {}", what, std::strerror(err))};
}

}  // namespace airssys::daemoneye
