#pragma once
// osl::Error — the one error type every airssys-osl operation returns.
//
// Callers branch on `category`; `message` is for people and says what to do.
// `errno_value` is 0 when no system call failed. `op_id` links the error to
// the operation's activity records (0 when the failure happened before an id
// was assigned, e.g. while loading a policy).

#include <cstdint>
#include <string>
#include <string_view>

namespace airssys::osl {

enum class ErrorCategory {
  denied,              // the security policy refused the operation
  not_found,           // file, program, host or tool does not exist
  permission,          // the kernel refused (EACCES/EPERM)
  invalid_argument,    // malformed request (bad path, NUL byte, bad address…)
  already_exists,      // target exists and the operation does not replace it
  io,                  // other I/O failure (including an audit log that cannot be written)
  timeout,             // a deadline or timeout expired
  resource_exhausted,  // a configured limit (files, processes, connections) stayed full
  unsupported,         // the kernel or platform lacks the feature
  internal,            // a bug or an impossible state; please report
};

[[nodiscard]] std::string_view to_string(ErrorCategory c) noexcept;

struct Error {
  ErrorCategory category = ErrorCategory::internal;
  int errno_value = 0;
  std::uint64_t op_id = 0;
  std::string message;

  // "denied: no rule allows fs.read on /etc/shadow for alice (op 12)"
  [[nodiscard]] std::string to_string() const;

  // Maps an errno to its category and appends strerror to `what`.
  [[nodiscard]] static Error from_errno(int err, std::string_view what);
  [[nodiscard]] static Error make(ErrorCategory c, std::string message);
};

}  // namespace airssys::osl
