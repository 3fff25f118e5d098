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

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

std::string state_problem(std::string_view text) {
  return fmt::format("has state '{}' (must be one of {})", has_nul(text) ? std::string("<contains NUL>") : std::string(text),
                     task_state_spellings());
}

std::string kind_problem(std::string_view text) {
  return fmt::format("must be one of {} or empty (not '{}')", containment_kind_spellings(),
                     has_nul(text) ? std::string("<contains NUL>") : std::string(text));
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
