#pragma once
// How messages name a file that is not the kind they wanted ("not a
// regular file (a FIFO)", "is a FIFO, not a unix socket"): the policy
// loader, the audit log's path check and the syslog sender share it.

#include <sys/stat.h>

#include <string_view>

namespace airssys::osl::detail {

// "a FIFO", "a directory", "a character device", "a block device",
// "a socket", "a symbolic link", "a regular file"; "not a regular file"
// for anything else.
[[nodiscard]] std::string_view file_type_name(mode_t mode) noexcept;

}  // namespace airssys::osl::detail
