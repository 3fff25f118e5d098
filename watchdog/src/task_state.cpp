#include <airssys/watchdog/task_state.hpp>

#include <array>
#include <utility>

namespace airssys::watchdog {

namespace {

// The one table of spellings; the registry readers, its writer and the CLI
// all go through it.
constexpr std::array<std::pair<TaskState, std::string_view>, 6> kStates{{
    {TaskState::starting, "starting"},
    {TaskState::running, "running"},
    {TaskState::exited, "exited"},
    {TaskState::timed_out, "timed_out"},
    {TaskState::killed, "killed"},
    {TaskState::failed, "failed"},
}};

constexpr std::array<std::pair<ContainmentKind, std::string_view>, 4> kKinds{{
    {ContainmentKind::none, ""},
    {ContainmentKind::cgroup2, "cgroup2"},
    {ContainmentKind::process_group, "process-group"},
    {ContainmentKind::container, "container"},
}};

constexpr std::array<std::pair<KillMethod, std::string_view>, 3> kMethods{{
    {KillMethod::signals, "signals"},
    {KillMethod::cgroup_kill, "cgroup.kill"},
    {KillMethod::container_stop, "container stop"},
}};

template <class Table, class E>
std::string_view name_of(const Table& table, E value) noexcept {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "invalid";
}

template <class E, class Table>
std::optional<E> value_of(const Table& table, std::string_view text) noexcept {
  for (const auto& [v, name] : table) {
    if (name == text) return v;
  }
  return std::nullopt;
}

template <class Table>
std::string spellings(const Table& table) {
  std::string out;
  for (const auto& [v, name] : table) {
    if (name.empty()) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

std::string task_state_spellings() { return spellings(kStates); }

std::string containment_kind_spellings() { return spellings(kKinds); }

std::string_view to_string(TaskState s) noexcept { return name_of(kStates, s); }

std::optional<TaskState> task_state_from_string(std::string_view s) noexcept { return value_of<TaskState>(kStates, s); }

bool is_terminal(TaskState s) noexcept {
  return s == TaskState::exited || s == TaskState::timed_out || s == TaskState::killed || s == TaskState::failed;
}

std::string_view to_string(ContainmentKind k) noexcept { return name_of(kKinds, k); }

std::optional<ContainmentKind> containment_kind_from_string(std::string_view s) noexcept {
  return value_of<ContainmentKind>(kKinds, s);
}

std::string_view to_string(KillMethod m) noexcept { return name_of(kMethods, m); }

std::optional<KillMethod> kill_method_from_string(std::string_view s) noexcept { return value_of<KillMethod>(kMethods, s); }

}  // namespace airssys::watchdog
