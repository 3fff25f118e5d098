#include "registry_limits.hpp"

#include <airssys/osl/detail/shown_text.hpp>

#include <fmt/format.h>

#include <sys/types.h>

#include <algorithm>
#include <array>
#include <limits>

namespace airssys::watchdog::detail {

int nesting_depth(std::string_view text) noexcept {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

namespace {

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// A task's cgroup is only ever made as <dir>/task-watchdog/<id>-<monitor
// pid> (task_cgroups.cpp), and kill, run and cleanup signal every process
// its cgroup.procs lists and remove it. A record edited to name another
// cgroup - a service's - had `kill` end that service's processes. So a
// cgroup in a record is an absolute path whose parts are neither empty nor
// '.' or '..' (it is where it says, lexically) and whose parent directory
// is named task-watchdog, as the built-in policy's cgroup rule has it.
bool is_task_cgroup(std::string_view dir) {
  if (!dir.starts_with('/')) return false;
  std::string_view parent, name;
  std::size_t at = 1;
  while (true) {
    const std::size_t end = std::min(dir.find('/', at), dir.size());
    const std::string_view part = dir.substr(at, end - at);
    if (part.empty() || part == "." || part == "..") return false;
    parent = name;
    name = part;
    if (end == dir.size()) break;
    at = end + 1;
  }
  return parent == "task-watchdog";
}

// Times and durations the commands subtract from now or add to each other
// (time left, running for, ended ago): a record edited to hold -2^63 made
// `list` and `status` overflow (UBSan: signed integer overflow in
// deadline_text). Times are Unix ms up to the end of year 9999; durations
// at most the 36500 days a flag accepts (osl::DurationRules::max).
constexpr std::int64_t kMaxTimeMs = 253'402'300'799'999;
constexpr std::int64_t kMaxDurationMs = 36'500LL * 86'400'000;

std::optional<std::string> time_problem(std::string_view field, std::int64_t ms) {
  if (ms < 0 || ms > kMaxTimeMs) return fmt::format("has {} {} (Unix milliseconds, from 0 to {})", field, ms, kMaxTimeMs);
  return std::nullopt;
}

// Text from a hand-edited registry as messages show it (detail/shown_text.hpp):
// ids, states and names past 64 bytes are cut with their length, paths past
// 256; control bytes are escaped.
constexpr std::size_t kShownPathMax = 256;

std::string cgroup_problem(std::string_view field, std::string_view dir) {
  return fmt::format("has {} '{}', which is not a task-watchdog cgroup (an absolute path .../task-watchdog/NAME "
                     "without '.' or '..'): kill, run and cleanup would act on its processes",
                     field, osl::detail::shown_text(dir, kShownPathMax));
}

}  // namespace

std::string state_problem(std::string_view text) {
  return fmt::format("has state '{}' (must be one of {})", osl::detail::shown_text(text), task_state_spellings());
}

std::string kind_problem(std::string_view text) {
  return fmt::format("must be one of {} or empty (not '{}')", containment_kind_spellings(), osl::detail::shown_text(text));
}

std::optional<std::string> task_problem(const TaskRecord& t) {
  // Only a value cast from outside the enums gets here: text on disk is
  // checked while it is read (state_problem, kind_problem).
  if (to_string(t.state) == "invalid") return fmt::format("has state {} (not a TaskState)", static_cast<int>(t.state));
  if (to_string(t.containment.kind) == "invalid") {
    return fmt::format("has containment kind {} (not a ContainmentKind)", static_cast<int>(t.containment.kind));
  }
  if (t.pid && *t.pid <= 0) return fmt::format("has pid {} (must be positive)", *t.pid);
  if (t.monitor_pid && *t.monitor_pid <= 0) return fmt::format("has monitor_pid {} (must be positive)", *t.monitor_pid);
  // A pid_t is 32 bits: 2^32 + N was read as pid N, and `kill` signalled N.
  constexpr std::int64_t kMaxPid = std::numeric_limits<pid_t>::max();
  if (t.pid && *t.pid > kMaxPid) return fmt::format("has pid {} (a pid is at most {})", *t.pid, kMaxPid);
  if (t.monitor_pid && *t.monitor_pid > kMaxPid) {
    return fmt::format("has monitor_pid {} (a pid is at most {})", *t.monitor_pid, kMaxPid);
  }
  if (t.timeout_ms && *t.timeout_ms <= 0) return fmt::format("has timeout_ms {} (must be positive, or null for none)", *t.timeout_ms);
  if (t.idle_timeout_ms && *t.idle_timeout_ms <= 0) {
    return fmt::format("has idle_timeout_ms {} (must be positive, or null for none)", *t.idle_timeout_ms);
  }
  if (t.grace_ms < 0) return fmt::format("has grace_ms {} (must not be negative)", t.grace_ms);
  const std::pair<const char*, std::optional<std::int64_t>> durations[] = {
      {"timeout_ms", t.timeout_ms}, {"idle_timeout_ms", t.idle_timeout_ms}, {"grace_ms", t.grace_ms}};
  for (const auto& [name, ms] : durations) {
    if (ms && *ms > kMaxDurationMs) return fmt::format("has {} {} (at most {}, 36500 days)", name, *ms, kMaxDurationMs);
  }
  const std::pair<const char*, std::optional<std::int64_t>> times[] = {
      {"created_ms", t.created_ms}, {"deadline_ms", t.deadline_ms}, {"ended_ms", t.ended_ms}};
  for (const auto& [name, ms] : times) {
    if (!ms) continue;
    if (auto problem = time_problem(name, *ms)) return problem;
  }
  for (std::size_t i = 0; i < t.argv.size(); ++i) {
    if (has_nul(t.argv[i])) return fmt::format("has a NUL byte in argv[{}] (no program can receive it)", i);
  }
  for (std::size_t i = 0; i < t.env.size(); ++i) {
    if (has_nul(t.env[i])) return fmt::format("has a NUL byte in env[{}]", i);
  }
  const std::pair<const char*, const std::string*> paths[] = {
      {"cwd", &t.cwd}, {"stdout_log", &t.stdout_log}, {"stderr_log", &t.stderr_log}, {"containment cgroup", &t.containment.cgroup}};
  for (const auto& [name, value] : paths) {
    if (has_nul(*value)) return fmt::format("has a NUL byte in {}", name);
  }
  if (!t.containment.cgroup.empty() && !is_task_cgroup(t.containment.cgroup)) {
    return cgroup_problem("containment cgroup", t.containment.cgroup);
  }
  for (const auto& [controller, dir] : t.containment.v1) {
    if (!is_task_cgroup(dir)) return cgroup_problem(fmt::format("containment v1 {}", osl::detail::shown_text(controller)), dir);
  }
  return std::nullopt;
}

}  // namespace airssys::watchdog::detail
