#include "task_cgroups.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace airssys::watchdog {

namespace {

bool cgroups_disabled() {
  const char* off = std::getenv("TASK_WATCHDOG_NO_CGROUP");
  return off && std::string_view(off) == "1";
}

// osl names a failed limit by its controller ("memory limit: …"); the user
// asked for it with a flag.
std::string with_flag(const std::string& message) {
  static constexpr std::pair<std::string_view, std::string_view> kFlags[] = {
      {"memory limit: ", "--memory"}, {"cpu limit: ", "--cpus"}, {"pids limit: ", "--pids"}};
  for (const auto& [prefix, flag] : kFlags) {
    if (message.starts_with(prefix)) return fmt::format("cannot apply {}: {}", flag, message.substr(prefix.size()));
  }
  return "cannot apply limits: " + message;
}

std::vector<std::filesystem::path> dirs_of(const Containment& c) {
  std::vector<std::filesystem::path> out;
  if (c.kind == ContainmentKind::cgroup2 && !c.cgroup.empty()) out.emplace_back(c.cgroup);
  for (const auto& [ctl, dir] : c.v1) out.emplace_back(dir);
  return out;
}

bool remove_dirs(osl::System& system, const std::string& principal, const std::vector<std::filesystem::path>& dirs) {
  if (dirs.empty()) return true;
  return system.run(principal, osl::cgroup::Remove{dirs}).has_value();
}

}  // namespace

std::string cpu_max_line(double cpus) { return osl::cgroup::cpu_max_line(cpus); }

std::vector<std::filesystem::path> TaskCgroups::dirs() const {
  std::vector<std::filesystem::path> out;
  if (v2) out.push_back(*v2);
  for (const auto& [ctl, dir] : v1) out.push_back(dir);
  return out;
}

std::expected<void, std::string> move_into(osl::System& system, const std::string& principal, const TaskCgroups& cgroups,
                                           pid_t pid) {
  const auto dirs = cgroups.dirs();
  if (dirs.empty()) return {};
  auto r = system.run(principal, osl::cgroup::Attach{dirs, pid});
  if (!r) return std::unexpected(r.error().to_string());
  return {};
}

bool remove_task_cgroups(osl::System& system, const std::string& principal, const TaskCgroups& cgroups) {
  return remove_dirs(system, principal, cgroups.dirs());
}

std::expected<void, std::string> remove_task_cgroups(osl::System& system, const std::string& principal, const Containment& c) {
  const auto dirs = dirs_of(c);
  if (dirs.empty()) return {};
  auto r = system.run(principal, osl::cgroup::Remove{dirs});
  if (!r) return std::unexpected(r.error().message);
  return {};
}

std::expected<TaskCgroups, std::string> create_task_cgroups(osl::System& system, const std::string& principal,
                                                            const osl::cgroup::Layout& layout, std::string_view id,
                                                            pid_t monitor, const Limits& limits) {
  TaskCgroups cg;
  if (cgroups_disabled()) {
    if (limits.any()) return std::unexpected("cannot apply limits: cgroups disabled by TASK_WATCHDOG_NO_CGROUP=1");
    cg.v2_error = "cgroups disabled by TASK_WATCHDOG_NO_CGROUP=1";
    return cg;
  }
  osl::cgroup::Create op;
  op.name = fmt::format("task-watchdog/{}-{}", id, monitor);
  op.limits = osl::cgroup::Limits{limits.memory_bytes, limits.cpus, limits.pids};
  op.account_memory = true;
  op.layout = layout;
  auto made = system.run(principal, op);
  if (!made) {
    if (limits.any()) return std::unexpected(with_flag(made.error().message));
    cg.v2_error = made.error().message;  // the fallback: its group and descendants are tracked
    return cg;
  }
  cg.v2 = made->v2;
  cg.v2_error = made->v2_error;
  cg.v1 = made->v1;
  return cg;
}

}  // namespace airssys::watchdog
