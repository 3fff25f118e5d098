#pragma once
// Errors returned by the runtime's fallible calls. No exception crosses the
// public API: every call that can fail returns std::expected<T, rt::Error>.
// The shape is the one every airssys component shares (docs/architecture.md,
// "Errors: one shape"): category + message + context.
#include <cstdint>
#include <string>

namespace airssys::rt {

enum class ErrorCategory : std::uint8_t {
  actor_stopped,     // the receiver has terminated (the message is a dead letter)
  mailbox_full,      // bounded mailbox with Overflow::fail, or block timed out
  timeout,           // ask: no reply within the timeout
  system_stopped,    // the actor system is shutting down or gone
  invalid_argument,  // e.g. a blocking call made from a worker thread
  broken_promise,    // ask: the request was dropped without a reply
  name_taken,        // registry: the name is already registered
  not_found,         // registry: no such name; supervisor: no such child
  start_failed,      // an actor's pre_start failed (supervisor child start, start_supervisor)
  circuit_open,      // a circuit breaker refused the call without sending it
};

// The enum's name until 2026-12-05 (it was `Errc`, and Error's field `code`).
using Errc [[deprecated("use rt::ErrorCategory (and Error::category)")]] = ErrorCategory;

[[nodiscard]] const char* to_string(ErrorCategory c) noexcept;

// `category` is what callers branch on (`if (r.error().category ==
// ErrorCategory::timeout)`); `message` is for people and names the actor or
// call; `errno_value` is the context where a system call failed (0 when none
// did, which is so for every error rt's core returns today: its failures are
// the runtime's own, not the kernel's).
struct Error {
  ErrorCategory category;
  std::string message;
  int errno_value = 0;

  // "timeout: no reply before the timeout"
  [[nodiscard]] std::string to_string() const;

  // Value equality: category, message and context. (It compared only the
  // category, so EXPECT_EQ of two different timeouts passed.) To ask "is
  // this a timeout?", compare .category.
  friend bool operator==(const Error& a, const Error& b) = default;
};

}  // namespace airssys::rt
