#include "registry_limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

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

constexpr std::array<std::string_view, 6> kStates = {"starting", "running", "exited", "timed_out", "killed", "failed"};

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

std::optional<std::string> task_problem(const TaskRecord& t) {
  if (std::find(kStates.begin(), kStates.end(), t.state) == kStates.end()) {
    return fmt::format("has state '{}' (must be one of starting, running, exited, timed_out, killed, failed)",
                       has_nul(t.state) ? std::string("<contains NUL>") : t.state);
  }
  if (t.pid && *t.pid <= 0) return fmt::format("has pid {} (must be positive)", *t.pid);
  if (t.monitor_pid && *t.monitor_pid <= 0) return fmt::format("has monitor_pid {} (must be positive)", *t.monitor_pid);
  if (t.timeout_ms && *t.timeout_ms <= 0) return fmt::format("has timeout_ms {} (must be positive, or null for none)", *t.timeout_ms);
  if (t.idle_timeout_ms && *t.idle_timeout_ms <= 0) {
    return fmt::format("has idle_timeout_ms {} (must be positive, or null for none)", *t.idle_timeout_ms);
  }
  if (t.grace_ms < 0) return fmt::format("has grace_ms {} (must not be negative)", t.grace_ms);
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
  return std::nullopt;
}

}  // namespace airssys::watchdog::detail
