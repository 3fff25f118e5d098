#pragma once
// Per-actor counters (health). Read from any thread; values are relaxed
// snapshots, exact once the actor is idle.
#include <airssys/rt/exit_reason.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace airssys::rt {

struct ActorStats {
  std::uint64_t processed = 0;      // messages handled (successfully or not)
  std::uint64_t dropped = 0;        // refused or discarded by the mailbox's overflow strategy
  std::uint64_t expired = 0;        // TTL passed before the actor reached them
  std::uint64_t failures = 0;       // handler exceptions
  std::uint32_t restarts = 0;       // in-place restarts (on_error -> Directive::restart)
  std::uint32_t mailbox_depth = 0;  // enqueued, not yet consumed
  // Bounded mailbox: slots senders reserved for tells they have accepted
  // but not yet queued (coalesced tells, docs/rt.md Mailboxes). They count
  // against the capacity with mailbox_depth.
  std::uint32_t mailbox_reserved = 0;
};

struct SystemStats {
  std::uint64_t live_actors = 0;
  std::uint64_t spawned = 0;
  std::uint64_t dead_letters = 0;   // sent to actors that had stopped
};

// One child of a supervisor, in start order (static and dynamic children;
// a terminated child whose spec is kept is listed with actor == 0).
struct ChildHealth {
  std::string id;
  std::uint64_t actor = 0;                // the running incarnation's actor id; 0 if not running
  std::uint32_t restarts = 0;             // times this supervisor started it again (any strategy)
  std::optional<ExitReason> last_exit;    // why its last incarnation ended, if one has
};

// A supervisor's restart state, as of the snapshot. Restarts and the
// intensity window count restart decisions (one per child failure that the
// strategy answers with restarts, however many children that restarts):
// the supervisor gives up once restarts_in_period would exceed intensity.
struct SupervisorHealth {
  std::uint64_t restarts = 0;              // restart decisions since the supervisor started
  std::uint32_t restarts_in_period = 0;    // of those, within `period` before the snapshot (ActorSystem::now())
  int intensity = 0;                       // SupervisorFlags::intensity
  std::chrono::milliseconds period{0};     // SupervisorFlags::period
  std::uint64_t ignored_exits = 0;         // exit signals from actors neither child nor parent (ignored, as in OTP)
  std::vector<ChildHealth> children;
};

struct ActorHealth {
  std::uint64_t id = 0;
  ActorStats stats;
  std::optional<SupervisorHealth> supervisor;  // set for supervisors
};

// A point-in-time view of the whole system (ActorSystem::health()).
struct HealthSnapshot {
  SystemStats system;
  std::uint64_t mailbox_depth_total = 0;
  std::uint64_t dropped_total = 0;
  std::uint64_t failures_total = 0;
  std::vector<ActorHealth> actors;  // live actors, by id
};

}  // namespace airssys::rt
