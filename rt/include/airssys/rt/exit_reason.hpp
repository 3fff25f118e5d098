#pragma once
// Why an actor terminated, and what an actor's on_error hook decides.
// Erlang semantics: normal and shutdown are not abnormal (a transient child is
// not restarted after either); error and killed are abnormal. Links: a normal
// exit is not propagated; any other reason, shutdown included, terminates a
// linked actor that does not trap exits (a trapping one gets an ExitSignal).
#include <cstdint>

namespace airssys::rt {

enum class ExitReason : std::uint8_t {
  normal,    // the actor stopped itself (stop(), or on_error returned Stop)
  shutdown,  // it was asked to stop (supervisor, system shutdown, exit signal)
  error,     // a handler failed and on_error escalated, or a linked actor failed
  killed,    // forced: a shutdown timeout ran out or kill() was called
};

[[nodiscard]] constexpr bool is_abnormal(ExitReason r) noexcept {
  return r == ExitReason::error || r == ExitReason::killed;
}
[[nodiscard]] const char* to_string(ExitReason r) noexcept;

// What on_error returns for a failed message.
enum class Directive : std::uint8_t {
  resume,    // drop the failed message, keep the state, continue
  restart,   // post_stop, recreate the actor object from its spawn arguments, pre_start; mailbox kept
  stop,      // terminate with ExitReason::normal
  escalate,  // terminate with ExitReason::error: links, monitors and the supervisor decide
};

}  // namespace airssys::rt
