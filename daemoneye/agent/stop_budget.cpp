#include "stop_budget.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace airssys::daemoneye::agent {

namespace {

using std::chrono::milliseconds;

// The stop's parts before the webhook sinks: what storing must fit in with.
milliseconds rest_before_webhooks(const Config& config) {
  milliseconds rest = kStoreLockWait + kStopCountTime;
  if (config.events.nats) rest += kSpoolDrain;
  return rest;
}

// "alerts.sinks #2 5000ms, #4 3000ms": each webhook sink by its place in the list.
std::string webhook_list(const Config& config) {
  std::string out;
  for (std::size_t i = 0; i < config.alerts.sinks.size(); ++i) {
    const SinkConfig& s = config.alerts.sinks[i];
    if (s.type != SinkType::webhook) continue;
    out += fmt::format("{}#{} {}ms", out.empty() ? "alerts.sinks " : ", ", i + 1, s.timeout.count());
  }
  return out;
}

}  // namespace

milliseconds webhook_shutdown_time(const Config& config) {
  milliseconds sum{0};
  for (const SinkConfig& s : config.alerts.sinks) {
    if (s.type == SinkType::webhook) sum += s.timeout;
  }
  return sum;
}

milliseconds stop_timeout_room(const Config& config) {
  return kUnitStopTimeout - rest_before_webhooks(config) - webhook_shutdown_time(config);
}

bool started_by_systemd() {
  const char* id = std::getenv("INVOCATION_ID");
  return id != nullptr && *id != '\0';
}

std::optional<std::string> stop_timeout_warning(const Config& config, bool under_systemd) {
  const milliseconds room = stop_timeout_room(config);
  const milliseconds stop_timeout = config.database.stop_timeout;
  if (!under_systemd || stop_timeout <= room) return std::nullopt;
  const milliseconds webhooks = webhook_shutdown_time(config);
  const std::string over =
      room >= milliseconds{0}
          ? fmt::format("more than the {}ms the systemd unit's TimeoutStopSec={}s leaves for it", room.count(),
                        kUnitStopTimeout.count())
          : fmt::format("but the systemd unit's TimeoutStopSec={}s leaves nothing for it", kUnitStopTimeout.count());
  const std::string rest = fmt::format(
      "up to {}s for the store write under way, {}s to count what is given up{}{}", kStoreLockWait.count(),
      kStopCountTime.count(),
      config.events.nats ? fmt::format(", {}s for the events spool to drain", kSpoolDrain.count()) : "",
      webhooks.count() > 0 ? fmt::format(", {}ms for the webhook sinks' last deliveries, one sink after another ({})",
                                         webhooks.count(), webhook_list(config))
                           : "");
  // The webhook sinks shut down after everything is stored: a stop_timeout
  // that fits without them loses only their last alerts.
  const milliseconds storing_room = kUnitStopTimeout - rest_before_webhooks(config);
  const bool storing_cut = stop_timeout > storing_room;
  const std::string loss =
      storing_cut ? "systemd would SIGKILL the agent before it finishes storing, and the events it loses would not "
                    "be counted"
                  : "systemd would SIGKILL the agent after it has stored everything, while its webhook sinks deliver "
                    "their last alerts: the alerts they still hold would not be delivered (they are in the audit "
                    "ledger, and no event is lost)";
  // What to lower. With room left, stop_timeout alone (or the webhooks')
  // fits it; when the webhook timeouts alone exceed the room (room < 0,
  // only with webhooks), no stop_timeout does: they must be lowered, and
  // stop_timeout only when it cuts the storing too.
  std::string lower;
  if (room >= milliseconds{0}) {
    lower = fmt::format("Lower database.stop_timeout{}", webhooks.count() > 0 ? " or the webhook sinks' timeouts" : "");
  } else if (storing_cut) {
    lower = fmt::format(
        "Lower database.stop_timeout to at most {}ms, and the webhook sinks' timeouts (no stop_timeout leaves room "
        "for them)",
        storing_room.count());
  } else {
    lower = "Lower the webhook sinks' timeouts (no stop_timeout leaves room for them)";
  }
  return fmt::format(
      "database.stop_timeout is {}ms, {} (the rest of a stop: {}): at a stop {}. {}, or raise TimeoutStopSec in a "
      "drop-in (this check assumes the shipped {}s)",
      stop_timeout.count(), over, rest, loss, lower, kUnitStopTimeout.count());
}

}  // namespace airssys::daemoneye::agent
