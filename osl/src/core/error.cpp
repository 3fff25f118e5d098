#include <airssys/osl/error.hpp>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace airssys::osl {

std::string_view to_string(ErrorCategory c) noexcept {
  switch (c) {
    case ErrorCategory::denied: return "denied";
    case ErrorCategory::not_found: return "not_found";
    case ErrorCategory::permission: return "permission";
    case ErrorCategory::invalid_argument: return "invalid_argument";
    case ErrorCategory::already_exists: return "already_exists";
    case ErrorCategory::io: return "io";
    case ErrorCategory::timeout: return "timeout";
    case ErrorCategory::resource_exhausted: return "resource_exhausted";
    case ErrorCategory::unsupported: return "unsupported";
    case ErrorCategory::internal: return "internal";
  }
  return "internal";
}

std::string Error::to_string() const {
  std::string s = fmt::format("{}: {}", osl::to_string(category), message);
  if (op_id != 0) s += fmt::format(" (op {})", op_id);
  return s;
}

namespace {
ErrorCategory category_of(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ESRCH:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ECONNREFUSED:
      return ErrorCategory::not_found;
    case EACCES:
    case EPERM:
    case EROFS:
      return ErrorCategory::permission;
    case EINVAL:
    case ENAMETOOLONG:
    case ELOOP:
    case EISDIR:
    case ENOTEMPTY:
    case E2BIG:
    case EXDEV:
    case EBADF:
    case ENOEXEC:
      return ErrorCategory::invalid_argument;
    case EEXIST:
    case EADDRINUSE:
      return ErrorCategory::already_exists;
    case ETIMEDOUT:
    case ETIME:
      return ErrorCategory::timeout;
    case EMFILE:
    case ENFILE:
    case EAGAIN:
    case ENOMEM:
    case ENOSPC:
    case EDQUOT:
      return ErrorCategory::resource_exhausted;
    case ENOSYS:
    case EOPNOTSUPP:
    case EAFNOSUPPORT:
      return ErrorCategory::unsupported;
    default:
      return ErrorCategory::io;
  }
}
}  // namespace

Error Error::from_errno(int err, std::string_view what) {
  return Error{category_of(err), err, 0, fmt::format("{}: {}", what, std::strerror(err))};
}

Error Error::make(ErrorCategory c, std::string message) { return Error{c, 0, 0, std::move(message)}; }

}  // namespace airssys::osl
