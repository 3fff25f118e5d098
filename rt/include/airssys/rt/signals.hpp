#pragma once
// Notifications an actor can receive besides its own message types.
#include <airssys/rt/envelope.hpp>
#include <airssys/rt/exit_reason.hpp>
#include <exception>
#include <string>

namespace airssys::rt {

// Delivered to on_exit() of an actor that traps exits, when a linked actor
// terminates (or someone sends it an exit signal). Without trap_exit an
// abnormal exit signal terminates the receiver with the same reason.
struct ExitSignal {
  ActorId from = 0;
  ExitReason reason = ExitReason::normal;
};

// Delivered to on_down() of a monitoring actor, once, when the monitored
// actor terminates (immediately if it already had).
struct Down {
  ActorId from = 0;
  ExitReason reason = ExitReason::normal;
};

// A handler failure passed to on_error().
struct Failure {
  std::exception_ptr exception;
  std::string what;
};

}  // namespace airssys::rt
