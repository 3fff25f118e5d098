#include "stop_budget.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace airssys::daemoneye::agent {

std::chrono::milliseconds stop_timeout_room(const Config& config) {
  auto rest = kStoreLockWait + kStopCountTime;
  if (config.events.nats) rest += kSpoolDrain;
  return kUnitStopTimeout - rest;
}

bool started_by_systemd() {
  const char* id = std::getenv("INVOCATION_ID");
  return id != nullptr && *id != '\0';
}

std::optional<std::string> stop_timeout_warning(const Config& config, bool under_systemd) {
  const auto room = stop_timeout_room(config);
  if (!under_systemd || config.database.stop_timeout <= room) return std::nullopt;
  return fmt::format(
      "database.stop_timeout is {}ms, more than the {}ms the systemd unit's TimeoutStopSec={}s leaves for it (the "
      "rest of a stop: up to {}s for the store write under way, {}s to count what is given up{}): at a stop systemd "
      "would SIGKILL the agent before it finishes storing, and the events it loses would not be counted. Lower "
      "database.stop_timeout, or raise TimeoutStopSec in a drop-in (this check assumes the shipped {}s)",
      config.database.stop_timeout.count(), room.count(), kUnitStopTimeout.count(), kStoreLockWait.count(),
      kStopCountTime.count(),
      config.events.nats ? fmt::format(", {}s for the events spool to drain", kSpoolDrain.count()) : "",
      kUnitStopTimeout.count());
}

}  // namespace airssys::daemoneye::agent
