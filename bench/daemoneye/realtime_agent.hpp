#pragma once
// daemoneye-agent (with its procmond) as the real-time benchmark runs it: a
// temporary config with scan.interval 1s, no rules, no alert sinks, and
// procmond.events forced to one tier; the agent's environment carries no
// DAEMONEYE_* variable, so the config file alone decides.
//
// The agent is a Child ended with SIGTERM (it then stops its procmond) when
// the TierAgent is destroyed.

#include "children.hpp"

#include <airssys/daemoneye/events.hpp>

#include <sys/types.h>

#include <chrono>
#include <expected>
#include <optional>
#include <string>

namespace airssys::daemoneye::bench {

struct TierAgent {
  std::string tier;  // ebpf | proc_connector | poll, as in procmond.events
  std::string dir;   // config.yaml, agent.log, rules/, var/ (database, status.json, bus, ledger)
  std::string db, log, status_path;
  Child agent;
  pid_t procmond = -1;

  // Starts the agent in `<work_dir>/<tier>` and returns once procmond has
  // reported this tier running and the agent has stored a scan. An error
  // when the agent dies, procmond fell back to a lower tier (its reason
  // quoted), or it is not ready within `limit`.
  [[nodiscard]] static std::expected<TierAgent, std::string> start(const std::string& agent_bin,
                                                                   const std::string& work_dir, const std::string& tier,
                                                                   std::chrono::seconds limit = std::chrono::seconds(40));

  // procmond's latest status as the agent wrote it in status.json (written
  // every second at a 1 s interval, so at most ~2 s old).
  [[nodiscard]] std::expected<ProcmondStatus, std::string> procmond_status() const;
  // The same, once one received after `after` (Unix s) is there.
  [[nodiscard]] std::expected<ProcmondStatus, std::string> procmond_status_after(std::int64_t after) const;
  [[nodiscard]] bool alive() const;
  [[nodiscard]] std::string log_tail() const;
};

// This process's environment without DAEMONEYE_*.
[[nodiscard]] std::vector<std::string> environment_without_daemoneye();

// `"sources":{"ebpf":{"events":..,"dropped":..,"lost":..},...}` from a status.
[[nodiscard]] std::string sources_json(const ProcmondStatus& s);
// Counters of `after` minus `before`, per source.
[[nodiscard]] ProcmondStatus counters_delta(const ProcmondStatus& before, const ProcmondStatus& after);

}  // namespace airssys::daemoneye::bench
