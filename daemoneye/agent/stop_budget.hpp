#pragma once
// What a clean stop of the agent takes beyond database.stop_timeout, and the
// start-up warning when the shipped systemd unit's TimeoutStopSec does not
// leave stop_timeout that much room: past TimeoutStopSec systemd SIGKILLs
// the agent - in the middle of storing, and what it loses is never counted,
// or after it, while the webhook sinks deliver their last alerts
// (docs/daemoneye.md "The agent").

#include <airssys/daemoneye/config.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace airssys::daemoneye::agent {

// After the storing budget, a stop counts what it gives up for at most this long,
inline constexpr std::chrono::seconds kStopCountTime{2};
// and, with events.nats, lets the events spool hand over its last events for at most this long.
inline constexpr std::chrono::seconds kSpoolDrain{5};
// The write under way at the deadline is not cut: it may wait this long for
// SQLite's lock (the store's busy timeout, store.cpp).
inline constexpr std::chrono::seconds kStoreLockWait{5};
// TimeoutStopSec in packaging/systemd/daemoneye-agent.service.
inline constexpr std::chrono::seconds kUnitStopTimeout{60};

// What the webhook sinks of `config` may take once the agent is destroyed
// after the stop (main.cpp): each gives its last alerts one more attempt
// within its own `timeout` (sink_webhook.cpp), and the sinks are destroyed
// one after another, so their timeouts add up. Everything is stored by then:
// only these alerts' delivery is at stake.
[[nodiscard]] std::chrono::milliseconds webhook_shutdown_time(const Config& config);

// The longest database.stop_timeout that kUnitStopTimeout leaves room for,
// given the rest of `config` (the spool's drain only with events.nats, the
// webhook sinks' timeouts); negative when the rest alone is longer. A rule
// pass running when the signal comes is not counted: nothing bounds it here
// but rules.timeout per rule.
[[nodiscard]] std::chrono::milliseconds stop_timeout_room(const Config& config);

// True when systemd started this process: $INVOCATION_ID is set and not empty.
[[nodiscard]] bool started_by_systemd();

// The warning for a stop_timeout over stop_timeout_room(), naming both
// values and what would be lost (storing, or only the webhook sinks' last
// deliveries); nullopt when it fits or when !under_systemd (run by hand,
// there is no TimeoutStopSec to outlast).
[[nodiscard]] std::optional<std::string> stop_timeout_warning(const Config& config, bool under_systemd);

}  // namespace airssys::daemoneye::agent
