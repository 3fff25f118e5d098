#pragma once
// ledger::Error — the one error type airssys-ledger returns.
//
// Callers branch on `category`; `message` is for people. Nothing in the
// library throws across its boundary (allocation failure aside): fallible
// calls return Result<T> = std::expected<T, Error>.

#include <expected>
#include <string>
#include <string_view>

namespace airssys::ledger {

enum class ErrorCategory {
  invalid_argument,  // malformed input: bad hex, wrong hash length, bad option
  out_of_range,      // index or size beyond the tree, or size1 > size2
  not_found,         // no such ledger, key or file
  already_exists,    // init on an existing ledger, key file already present
  busy,              // another process holds the ledger's writer lock
  io,                // a system call failed
  corrupt,           // stored data contradicts itself (tampering or media damage)
  invalid_proof,     // a proof or signature does not verify
  crypto,            // OpenSSL refused (bad key file, unsupported algorithm)
  internal,          // a bug or an impossible state; please report
};

[[nodiscard]] std::string_view to_string(ErrorCategory c) noexcept;

struct Error {
  ErrorCategory category = ErrorCategory::internal;
  int errno_value = 0;  // 0 when no system call failed
  std::string message;

  // "corrupt: head checksum mismatch in /var/lib/audit/head"
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] static Error make(ErrorCategory c, std::string message);
  // Maps an errno to a category and appends strerror to `what`.
  [[nodiscard]] static Error from_errno(int err, std::string_view what);
};

template <class T>
using Result = std::expected<T, Error>;

// Shorthand for `return fail(ErrorCategory::x, "...")` in functions returning Result<T>.
[[nodiscard]] inline std::unexpected<Error> fail(ErrorCategory c, std::string message) {
  return std::unexpected(Error::make(c, std::move(message)));
}

}  // namespace airssys::ledger
