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

struct Error {
  Errc code;
  std::string message;
  friend bool operator==(const Error& a, const Error& b) { return a.code == b.code; }
};

}  // namespace airssys::rt
