#pragma once
// For the command-line programs of this repository: whether what was
// printed through stdio reached standard output, checked once before exit.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace airssys::osl::detail {

// Flushes stdout. nullopt when everything printed was written; else the
// errno of the write that failed, or 0 when it is not known any more: the
// error flag was set by an earlier write nobody checked, and errno has
// changed since (it must not be read then: it names some later, unrelated
// call's failure).
[[nodiscard]] inline std::optional<int> stdout_flush_failure() noexcept {
  errno = 0;
  if (std::fflush(stdout) != 0) return errno;
  if (std::ferror(stdout) != 0) return 0;
  return std::nullopt;
}

// The reason printed for stdout_flush_failure's result.
[[nodiscard]] inline std::string write_failure_reason(int err) {
  return err == 0 ? std::string("write error") : std::string(std::strerror(err));
}

}  // namespace airssys::osl::detail
