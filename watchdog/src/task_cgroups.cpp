#include <airssys/watchdog/task_cgroups.hpp>

#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace airssys::watchdog {

namespace {

using osl::UniqueFd;

// Writes `text` to an existing control file (never creates one).
std::expected<void, std::string> write_control(const std::filesystem::path& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return std::unexpected(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  const ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size())) {
    return std::unexpected(fmt::format("cannot write '{}' to {}: {}", text, path.string(), n < 0 ? std::strerror(errno) : "short write"));
  }
  return {};
}

std::set<std::string> read_words(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::set<std::string> out;
  std::string w;
  while (in >> w) out.insert(w);
  return out;
}

bool cgroups_disabled() {
  const char* off = std::getenv("TASK_WATCHDOG_NO_CGROUP");
  return off && std::string_view(off) == "1";
}

// One limit: its controller, the flag that asked for it, and its files.
struct Want {
  const char* controller;
  const char* flag;
  std::vector<std::pair<std::string, std::string>> v2_files;  // file → value
  std::vector<std::pair<std::string, std::string>> v1_files;
  std::vector<std::string> optional;  // files that may be missing (then skipped)
};

std::vector<Want> wanted(const Limits& l) {
  std::vector<Want> out;
  if (l.memory_bytes) {
    const auto v = std::to_string(*l.memory_bytes);
    // Limit first, then memsw (which must stay >= the limit): no swapping past it.
    out.push_back(Want{"memory", "--memory", {{"memory.max", v}, {"memory.swap.max", "0"}},
                       {{"memory.limit_in_bytes", v}, {"memory.memsw.limit_in_bytes", v}},
                       {"memory.memsw.limit_in_bytes", "memory.swap.max"}});
  }
  if (l.cpus) {
    const auto line = cpu_max_line(*l.cpus);
    const auto quota = line.substr(0, line.find(' '));
    out.push_back(Want{"cpu", "--cpus", {{"cpu.max", line}},
                       {{"cpu.cfs_period_us", std::to_string(kCpuPeriodUsec)}, {"cpu.cfs_quota_us", quota}}, {}});
  }
  if (l.pids) {
    const auto v = std::to_string(*l.pids);
    out.push_back(Want{"pids", "--pids", {{"pids.max", v}}, {{"pids.max", v}}, {}});
  }
  return out;
}

std::expected<void, std::string> write_files(const std::filesystem::path& dir, const std::vector<std::pair<std::string, std::string>>& files,
                                             const std::vector<std::string>& optional) {
  for (const auto& [file, value] : files) {
    const bool may_miss = std::find(optional.begin(), optional.end(), file) != optional.end();
    if (may_miss && ::access((dir / file).c_str(), F_OK) != 0) continue;
    if (auto r = write_control(dir / file, value); !r) return r;
  }
  return {};
}

}  // namespace

std::string cpu_max_line(double cpus) {
  // The kernel refuses quotas below 1 ms.
  const auto quota = std::max<std::uint64_t>(1000, static_cast<std::uint64_t>(std::llround(cpus * static_cast<double>(kCpuPeriodUsec))));
  return fmt::format("{} {}", quota, kCpuPeriodUsec);
}

std::vector<std::filesystem::path> TaskCgroups::dirs() const {
  std::vector<std::filesystem::path> out;
  if (v2) out.push_back(*v2);
  for (const auto& [ctl, dir] : v1) out.push_back(dir);
  return out;
}

std::expected<void, std::string> move_into(const TaskCgroups& cgroups, pid_t pid) {
  for (const auto& dir : cgroups.dirs()) {
    if (auto r = write_control(dir / "cgroup.procs", std::to_string(pid)); !r) return r;
  }
  return {};
}

void remove_task_cgroups(const TaskCgroups& cgroups) {
  for (const auto& d : cgroups.dirs()) remove_cgroup(d);
}

void remove_task_cgroups(const Containment& c) {
  if (c.kind == "cgroup2" && !c.cgroup.empty()) remove_cgroup(c.cgroup);
  for (const auto& [ctl, dir] : c.v1) remove_cgroup(dir);
}

std::expected<TaskCgroups, std::string> create_task_cgroups(const CgroupLayout& layout, std::string_view id, pid_t monitor,
                                                            const Limits& limits) {
  TaskCgroups cg;
  auto v2 = create_task_cgroup(layout, id, monitor);
  if (v2) cg.v2 = *v2;
  else cg.v2_error = v2.error();
  auto fail = [&](std::string msg) -> std::expected<TaskCgroups, std::string> {
    remove_task_cgroups(cg);
    return std::unexpected(std::move(msg));
  };
  if (cgroups_disabled()) {
    if (limits.any()) return fail("cannot apply limits: cgroups disabled by TASK_WATCHDOG_NO_CGROUP=1");
    return cg;
  }

  const auto own_v2 = own_v2_dir(layout);
  const auto v2_controllers = cg.v2 && own_v2 ? read_words(*own_v2 / "cgroup.controllers") : std::set<std::string>{};
  const auto wants = wanted(limits);

  // v2 limits: enable the controllers for the task's cgroup, in one write per level.
  std::string enable;
  for (const auto& w : wants) {
    if (v2_controllers.contains(w.controller)) enable += fmt::format("{}+{}", enable.empty() ? "" : " ", w.controller);
  }
  if (!enable.empty()) {
    for (const auto& level : {*own_v2, *own_v2 / "task-watchdog"}) {
      if (auto r = write_control(level / "cgroup.subtree_control", enable); !r) {
        return fail(fmt::format("cannot enable the cgroup v2 controllers for the limits: {} (a v2 cgroup that holds "
                                "processes cannot delegate controllers; run task-watchdog in a cgroup with delegation)",
                                r.error()));
      }
    }
  }
  for (const auto& w : wants) {
    if (v2_controllers.contains(w.controller)) {
      if (auto r = write_files(*cg.v2, w.v2_files, w.optional); !r) return fail(fmt::format("cannot apply {}: {}", w.flag, r.error()));
      continue;
    }
    const auto base = own_v1_dir(layout, w.controller);
    if (!base) {
      return fail(fmt::format("cannot apply {}: no {} controller (not in the v2 cgroup.controllers{}, and no v1 {} hierarchy "
                              "is mounted)", w.flag, w.controller,
                              cg.v2 ? "" : fmt::format(" — no v2 cgroup: {}", cg.v2_error), w.controller));
    }
    auto dir = make_task_cgroup_dir(*base, id, monitor);
    if (!dir) return fail(fmt::format("cannot apply {}: {}", w.flag, dir.error()));
    cg.v1.emplace(w.controller, *dir);
    if (auto r = write_files(*dir, w.v1_files, w.optional); !r) return fail(fmt::format("cannot apply {}: {}", w.flag, r.error()));
  }
  // Memory accounting of the whole task on hybrid layouts (best effort).
  if (!limits.memory_bytes && !v2_controllers.contains("memory")) {
    if (const auto base = own_v1_dir(layout, "memory")) {
      if (auto dir = make_task_cgroup_dir(*base, id, monitor)) cg.v1.emplace("memory", *dir);
    }
  }
  return cg;
}

}  // namespace airssys::watchdog
