// `task-watchdog report`: a human summary of the registry — counts by
// (effective) state, the longest-running live tasks, recent failures.
// Format: docs/task-watchdog.md ("report").

#include "commands.hpp"

#include "kill_tree.hpp"
#include <airssys/watchdog/units.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace airssys::watchdog::cli {

namespace {

constexpr std::size_t kLongest = 5;
constexpr std::size_t kFailures = 10;

bool is_failure(const TaskRecord& t) {
  if (t.state == TaskState::failed || t.state == TaskState::timed_out || t.state == TaskState::killed) return true;
  return t.state == TaskState::exited && ((t.exit_code && *t.exit_code != 0) || t.exit_signal);
}

std::string outcome(const TaskRecord& t) {
  std::string s(to_string(t.state));
  if (t.exit_code) s += fmt::format(", exit {}", *t.exit_code);
  if (t.exit_signal) s += fmt::format(", signal {}", *t.exit_signal);
  if (!t.error.empty()) s += ": " + t.error;
  return s;
}

}  // namespace

int cmd_report(const Registry& reg, bool as_json) {
  auto data = reg.load();
  if (!data) return report(data.error());
  const auto now = now_ms();
  std::map<std::string, std::size_t> by_state;
  std::vector<std::pair<const TaskRecord*, std::string>> live;  // record, effective state
  std::vector<const TaskRecord*> failures;
  for (const auto& [id, t] : data->tasks) {
    std::string state(to_string(t.state));
    if (!is_terminal(t.state)) {
      state = effective_state(t, collect_processes(task_processes(t)).size());
      if (state != "lost") live.emplace_back(&t, state);
    }
    ++by_state[state.substr(0, state.find(' '))];  // "running (monitor gone…)" counts as running
    if (is_failure(t)) failures.push_back(&t);
  }
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.first->created_ms < b.first->created_ms; });
  if (live.size() > kLongest) live.resize(kLongest);
  std::sort(failures.begin(), failures.end(), [](const TaskRecord* a, const TaskRecord* b) {
    return a->ended_ms.value_or(a->created_ms) > b->ended_ms.value_or(b->created_ms);
  });
  if (failures.size() > kFailures) failures.resize(kFailures);

  if (as_json) {
    using nlohmann::json;
    json longest = json::array();
    for (const auto& [t, state] : live) {
      longest.push_back({{"id", t->id}, {"state", state}, {"running_for_ms", now - t->created_ms},
                         {"deadline_ms", t->deadline_ms ? json(*t->deadline_ms) : json(nullptr)}, {"command", command_line(*t)}});
    }
    json failed = json::array();
    for (const auto* t : failures) {
      failed.push_back({{"id", t->id}, {"state", t->state}, {"ended_ms", t->ended_ms ? json(*t->ended_ms) : json(nullptr)},
                        {"exit_code", t->exit_code ? json(*t->exit_code) : json(nullptr)},
                        {"exit_signal", t->exit_signal ? json(*t->exit_signal) : json(nullptr)}, {"error", t->error},
                        {"command", command_line(*t)}});
    }
    fmt::print("{}\n", json{{"registry", reg.path().string()}, {"tasks", data->tasks.size()}, {"by_state", by_state},
                            {"longest_running", longest}, {"recent_failures", failed}}.dump());
    return 0;
  }
  fmt::print("{} task(s) in {}\n", data->tasks.size(), reg.path().string());
  for (const auto& [state, n] : by_state) fmt::print("  {:<10} {}\n", state, n);
  fmt::print("\nlongest running:{}\n", live.empty() ? " none" : "");
  for (const auto& [t, state] : live) {
    fmt::print("  {:<24} {:<10} up {:<10} deadline {:<12} {}\n", t->id, state.substr(0, state.find(' ')),
               format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, now - t->created_ms))), deadline_text(*t),
               command_line(*t));
  }
  fmt::print("\nrecent failures:{}\n", failures.empty() ? " none" : "");
  for (const auto* t : failures) {
    const auto ago = now - t->ended_ms.value_or(t->created_ms);
    fmt::print("  {:<24} {} ago  {}\n", t->id, format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, ago) / 1000 * 1000)),
               outcome(*t));
  }
  return 0;
}

}  // namespace airssys::watchdog::cli
