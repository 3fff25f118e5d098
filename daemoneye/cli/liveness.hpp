#pragma once
// Is the agent that wrote a status file running, and is its status fresh?
//
//   running      its pid is alive with the same start ticks, and the file is
//                younger than stale_after_seconds()
//   stale        alive, but the file is older: the scan loop is stuck
//   stopped      the file says it stopped cleanly (SIGTERM/SIGINT)
//   not_running  its pid is gone (or now another process): it crashed or was
//                killed without writing "stopped"

#include <airssys/daemoneye/agent_status.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace airssys::daemoneye::cli {

enum class Liveness : std::uint8_t { running, stale, stopped, not_running };
[[nodiscard]] std::string_view to_string(Liveness l) noexcept;

struct LivenessReport {
  Liveness state = Liveness::not_running;
  std::int64_t age = 0;  // seconds since the status was written
  std::string reason;    // one sentence for people
};

// 3 write intervals and 10 s of slack: a busy scan (rules up to their time
// limits) or a loaded machine does not make a healthy agent look stale.
[[nodiscard]] std::int64_t stale_after_seconds(const AgentStatus& s) noexcept;

[[nodiscard]] LivenessReport assess(const AgentStatus& s, std::int64_t now);

}  // namespace airssys::daemoneye::cli
