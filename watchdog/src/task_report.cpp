#include <airssys/watchdog/task_report.hpp>

#include <airssys/watchdog/task_status.hpp>

#include "task_seen.hpp"
#include "task_records.hpp"

#include <algorithm>

namespace airssys::watchdog {

namespace {

constexpr std::size_t kLongest = 5;
constexpr std::size_t kFailures = 10;

bool is_failure(const TaskRecord& t) {
  if (t.state == TaskState::failed || t.state == TaskState::timed_out || t.state == TaskState::killed) return true;
  return t.state == TaskState::exited && ((t.exit_code && *t.exit_code != 0) || t.exit_signal);
}

}  // namespace

std::expected<TaskReport, Error> task_report(const Registry& reg) {
  auto data = reg.load();
  if (!data) return std::unexpected(data.error());
  TaskReport out;
  out.now_ms = detail::now_ms();
  out.tasks = data->tasks.size();
  for (auto& [id, t] : data->tasks) {
    std::string state(to_string(t.state));
    if (!is_terminal(t.state)) {
      const auto seen = see_native_task(t);
      state = shown_state(t, seen);
      // A hidden process counts even while the monitor runs and the state has no suffix.
      if (!seen.unverified.empty()) ++out.unverified;
    }
    ++out.by_state[state.substr(0, state.find(' '))];
    if (is_failure(t)) out.recent_failures.push_back(t);
    if (!is_terminal(t.state) && state != "lost") out.longest_running.push_back(ReportedTask{std::move(t), std::move(state)});
  }
  // std::sort on the registry's id order, as the CLI did: ties come out as before.
  auto& live = out.longest_running;
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.record.created_ms < b.record.created_ms; });
  if (live.size() > kLongest) live.resize(kLongest);
  auto& failures = out.recent_failures;
  std::sort(failures.begin(), failures.end(), [](const TaskRecord& a, const TaskRecord& b) {
    return a.ended_ms.value_or(a.created_ms) > b.ended_ms.value_or(b.created_ms);
  });
  if (failures.size() > kFailures) failures.resize(kFailures);
  return out;
}

}  // namespace airssys::watchdog
