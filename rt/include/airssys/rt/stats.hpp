#pragma once
// Per-actor counters (health). Read from any thread; values are relaxed
// snapshots, exact once the actor is idle.
#include <cstdint>
#include <vector>

namespace airssys::rt {

struct ActorStats {
  std::uint64_t processed = 0;      // messages handled (successfully or not)
  std::uint64_t dropped = 0;        // refused or discarded by the mailbox's overflow strategy
  std::uint64_t expired = 0;        // TTL passed before the actor reached them
  std::uint64_t failures = 0;       // handler exceptions
  std::uint32_t restarts = 0;       // in-place restarts (on_error -> Directive::restart)
  std::uint32_t mailbox_depth = 0;  // enqueued, not yet consumed
};

struct SystemStats {
  std::uint64_t live_actors = 0;
  std::uint64_t spawned = 0;
  std::uint64_t dead_letters = 0;   // sent to actors that had stopped
};

struct ActorHealth {
  std::uint64_t id = 0;
  ActorStats stats;
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
