// check_audit_log_path (activity.hpp): the audit log must be a regular file.
// Kept apart from the file sink's open, which a test seam drives with
// devices on purpose (the sink reports those as write failures).
#include <airssys/osl/activity.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "core/file_type.hpp"

namespace airssys::osl {

std::expected<void, Error> check_audit_log_path(const std::filesystem::path& path) {
  // O_PATH neither waits for a FIFO's writer nor follows a symlink.
  const UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return {};  // missing: the sink creates it; other errors are the sink's to report
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || S_ISREG(st.st_mode)) return {};
  return std::unexpected(Error::make(ErrorCategory::invalid_argument,
                                     "not a regular file (" + std::string(detail::file_type_name(st.st_mode)) +
                                         "); the audit log must be a regular file"));
}

}  // namespace airssys::osl
