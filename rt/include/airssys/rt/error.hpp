#pragma once
// Errors returned by the runtime's fallible calls. No exception crosses the
// public API: every call that can fail returns std::expected<T, rt::Error>.
#include <cstdint>
#include <string>

namespace airssys::rt {

enum class Errc : std::uint8_t {
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

[[nodiscard]] const char* to_string(Errc c) noexcept;

// `code` is the category callers branch on (`if (r.error().code ==
// Errc::timeout)`); `message` is for people and names the actor or call.
struct Error {
  Errc code;
  std::string message;
  // Value equality: the same category and the same message. (It compared
  // only the code, so EXPECT_EQ of two different timeouts passed.) To ask
  // "is this a timeout?", compare .code.
  friend bool operator==(const Error& a, const Error& b) = default;
};

}  // namespace airssys::rt
