// `task-watchdog report`: prints the library's TaskReport (task_report.hpp)
// — counts by (effective) state, the longest-running live tasks, recent
// failures. Format: docs/task-watchdog.md ("report").

#include "commands.hpp"

#include <airssys/watchdog/task_report.hpp>
#include <airssys/watchdog/units.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace airssys::watchdog::cli {

namespace {

std::string outcome(const TaskRecord& t) {
  std::string s(to_string(t.state));
  if (t.exit_code) s += fmt::format(", exit {}", *t.exit_code);
  if (t.exit_signal) s += fmt::format(", signal {}", *t.exit_signal);
  if (!t.error.empty()) s += ": " + t.error;
  return s;
}

}  // namespace

int cmd_report(const Registry& reg, bool as_json) {
  auto r = task_report(reg);
  if (!r) return report(r.error());
  const auto now = r->now_ms;
  if (as_json) {
    using nlohmann::json;
    json longest = json::array();
    for (const auto& [t, state] : r->longest_running) {
      longest.push_back({{"id", t.id}, {"state", state}, {"running_for_ms", now - t.created_ms},
                         {"deadline_ms", t.deadline_ms ? json(*t.deadline_ms) : json(nullptr)}, {"command", command_line(t)}});
    }
    json failed = json::array();
    for (const auto& t : r->recent_failures) {
      failed.push_back({{"id", t.id}, {"state", to_string(t.state)}, {"ended_ms", t.ended_ms ? json(*t.ended_ms) : json(nullptr)},
                        {"exit_code", t.exit_code ? json(*t.exit_code) : json(nullptr)},
                        {"exit_signal", t.exit_signal ? json(*t.exit_signal) : json(nullptr)}, {"error", t.error},
                        {"command", command_line(t)}});
    }
    fmt::print("{}\n", json{{"registry", reg.path().string()}, {"tasks", r->tasks}, {"by_state", r->by_state},
                            {"unverified", r->unverified}, {"longest_running", longest}, {"recent_failures", failed}}.dump());
    return 0;
  }
  fmt::print("{} task(s) in {}\n", r->tasks, reg.path().string());
  for (const auto& [state, n] : r->by_state) fmt::print("  {:<10} {}\n", state, n);
  if (r->unverified > 0) fmt::print("  ({} of them unverified: /proc could not show their processes)\n", r->unverified);
  fmt::print("\nlongest running:{}\n", r->longest_running.empty() ? " none" : "");
  for (const auto& [t, state] : r->longest_running) {
    fmt::print("  {:<24} {:<10} up {:<10} deadline {:<12} {}\n", t.id, state.substr(0, state.find(' ')),
               format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, now - t.created_ms))), deadline_text(t),
               command_line(t));
  }
  fmt::print("\nrecent failures:{}\n", r->recent_failures.empty() ? " none" : "");
  for (const auto& t : r->recent_failures) {
    const auto ago = now - t.ended_ms.value_or(t.created_ms);
    fmt::print("  {:<24} {} ago  {}\n", t.id, format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, ago) / 1000 * 1000)),
               outcome(t));
  }
  return 0;
}

}  // namespace airssys::watchdog::cli
