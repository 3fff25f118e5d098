// The read and kill commands of the task-watchdog CLI (start and register
// live in the library: runner.hpp). Specified in docs/task-watchdog.md.

#include "commands.hpp"
#include "exit_status.hpp"

// The library's internal headers (watchdog/src): the CLI is part of task-watchdog.
#include "container.hpp"
#include "kill_tree.hpp"
#include "proc.hpp"
#include "registry_json.hpp"
#include "task_cgroups.hpp"
#include "usage.hpp"

#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/runner.hpp>
#include <airssys/watchdog/units.hpp>

#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>

namespace wd = airssys::watchdog;
namespace osl = airssys::osl;

// Helpers are internal to this file; the cmd_* functions are declared in commands.hpp.
using nlohmann::json;

namespace airssys::watchdog::cli {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int report(const wd::Error& e) {
  fmt::print(stderr, "task-watchdog: {}\n", e.message);
  return exit_status(e.category);
}

// The recorded state, corrected for a monitor that is gone.
std::string effective_state(const wd::TaskRecord& t, std::size_t alive) {
  const std::string state(wd::to_string(t.state));
  if (wd::is_terminal(t.state)) return state;
  const bool monitor_alive = t.monitor_pid && !wd::process_gone(static_cast<pid_t>(*t.monitor_pid), t.monitor_start_time);
  if (monitor_alive) return state;
  return alive > 0 ? state + " (monitor gone: deadline not enforced)" : "lost";
}

std::string command_line(const wd::TaskRecord& t) {
  std::string s;
  for (const auto& a : t.argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

std::string deadline_text(const wd::TaskRecord& t) {
  if (!t.deadline_ms) return t.timeout_ms ? wd::format_duration(std::chrono::milliseconds(*t.timeout_ms)) : "none";
  if (wd::is_terminal(t.state)) return "-";
  const auto left = *t.deadline_ms - now_ms();
  return left > 0 ? "in " + wd::format_duration(std::chrono::milliseconds(left)) : "passed";
}

std::string containment_text(const wd::TaskRecord& t) {
  std::string v1;
  for (const auto& [ctl, dir] : t.containment.v1) v1 += fmt::format("\n             cgroup v1 {}: {}", ctl, dir);
  if (t.containment.kind == wd::ContainmentKind::cgroup2) return "cgroup v2 " + t.containment.cgroup + v1;
  if (t.containment.kind == wd::ContainmentKind::none) return "-";
  if (wd::is_container_task(t)) return t.containment.note;
  return fmt::format("process group{} + descendant walk (fallback: {}){}", t.pid ? fmt::format(" {}", *t.pid) : "",
                     t.containment.note.empty() ? "no cgroup" : t.containment.note, v1);
}

std::string human_bytes(std::uint64_t b);

std::string limits_text(const wd::TaskRecord& t) {
  if (!t.limits.any()) return "none";
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (t.limits.memory_bytes) add("memory " + human_bytes(*t.limits.memory_bytes));
  if (t.limits.cpus) add(fmt::format("cpus {:g}", *t.limits.cpus));
  if (t.limits.pids) add(fmt::format("pids {}", *t.limits.pids));
  return s;
}

json status_json(const wd::TaskRecord& t) {
  if (wd::is_container_task(t)) {  // the engine knows its processes and usage
    json j = wd::detail::task_to_json(t);
    j["cpu_percent"] = nullptr;
    j["memory_bytes"] = nullptr;
    j["memory_source"] = nullptr;
    wd::add_container_status(t, j);
    j["effective_state"] = effective_state(t, j["processes_alive"].get<std::size_t>());
    return j;
  }
  const auto tp = wd::task_processes(t);
  const auto alive = wd::collect_processes(tp).size();
  json j = wd::detail::task_to_json(t);
  j["effective_state"] = effective_state(t, alive);
  j["processes_alive"] = alive;
  j["cpu_percent"] = nullptr;
  j["memory_bytes"] = nullptr;
  j["memory_source"] = nullptr;
  if (alive > 0) {
    if (auto u = wd::sample_usage(tp)) {
      j["cpu_percent"] = std::round(u->cpu_percent * 10) / 10;
      j["memory_bytes"] = u->memory_bytes;
      j["memory_source"] = u->memory_source;
    }
  }
  return j;
}

std::string human_bytes(std::uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int i = 0;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    ++i;
  }
  return i == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[i]);
}

std::expected<wd::TaskRecord, wd::Error> find_task(const wd::Registry& reg, const std::string& id) {
  auto data = reg.load();
  if (!data) return std::unexpected(data.error());
  auto it = data->tasks.find(id);
  if (it == data->tasks.end()) {
    return std::unexpected(wd::Error{wd::ErrorCategory::not_found, fmt::format("no task '{}' in {}", id, reg.path().string())});
  }
  return it->second;
}

int cmd_list(const wd::Registry& reg, bool as_json) {
  auto data = reg.load();
  if (!data) return report(data.error());
  std::vector<const wd::TaskRecord*> tasks;
  for (const auto& [id, t] : data->tasks) tasks.push_back(&t);
  std::sort(tasks.begin(), tasks.end(), [](auto* a, auto* b) { return a->created_ms < b->created_ms; });
  if (as_json) {
    json arr = json::array();
    for (const auto* t : tasks) arr.push_back(wd::detail::task_to_json(*t));
    fmt::print("{}\n", arr.dump());
    return 0;
  }
  fmt::print("{:<24} {:<10} {:>8} {:<12} {}\n", "ID", "STATE", "PID", "DEADLINE", "COMMAND");
  for (const auto* t : tasks) {
    fmt::print("{:<24} {:<10} {:>8} {:<12} {}\n", t->id, wd::to_string(t->state), t->pid ? std::to_string(*t->pid) : "-",
               deadline_text(*t), command_line(*t));
  }
  return 0;
}

int cmd_status(const wd::Registry& reg, const std::string& id, bool as_json) {
  auto t = find_task(reg, id);
  if (!t) return report(t.error());
  const json j = status_json(*t);
  if (as_json) {
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("id:          {}\n", t->id);
  fmt::print("state:       {}\n", j["effective_state"].get<std::string>());
  fmt::print("command:     {}\n", command_line(*t));
  fmt::print("pid:         {}\n", t->pid ? fmt::format("{} (start time {})", *t->pid, t->pid_start_time.value_or(0)) : "-");
  fmt::print("monitor:     {}\n", t->monitor_pid ? fmt::format("{}{}", *t->monitor_pid,
                                                                 wd::process_gone(static_cast<pid_t>(*t->monitor_pid), t->monitor_start_time) ? " (gone)" : " (running)")
                                                   : "-");
  fmt::print("containment: {}\n", containment_text(*t));
  if (j.contains("container")) fmt::print("container:   {}\n", wd::container_status_text(j["container"]));
  fmt::print("limits:      {}\n", limits_text(*t));
  fmt::print("processes:   {} alive\n", j["processes_alive"].get<std::size_t>());
  if (j["cpu_percent"].is_number()) {
    fmt::print("cpu:         {:.1f}% (two samples, 250ms apart)\n", j["cpu_percent"].get<double>());
    fmt::print("memory:      {} ({})\n", human_bytes(j["memory_bytes"].get<std::uint64_t>()), j["memory_source"].get<std::string>());
  }
  fmt::print("timeout:     {} (grace {}{})\n", t->timeout_ms ? wd::format_duration(std::chrono::milliseconds(*t->timeout_ms)) : "none",
             wd::format_duration(std::chrono::milliseconds(t->grace_ms)),
             t->idle_timeout_ms ? ", idle " + wd::format_duration(std::chrono::milliseconds(*t->idle_timeout_ms)) : std::string());
  fmt::print("deadline:    {}\n", deadline_text(*t));
  if (t->exit_code) fmt::print("exit:        code {}\n", *t->exit_code);
  if (t->exit_signal) fmt::print("exit:        signal {}\n", *t->exit_signal);
  if (t->leftover_processes && *t->leftover_processes > 0) fmt::print("leftovers:   {} process(es) killed after the main process ended\n", *t->leftover_processes);
  if (!t->error.empty()) fmt::print("note:        {}\n", t->error);
  fmt::print("logs:        {}\n             {}\n", t->stdout_log, t->stderr_log);
  return 0;
}

int cmd_kill(const wd::Registry& reg, const std::string& id, const std::string& grace_text, const std::string& policy) {
  auto t = find_task(reg, id);
  if (!t) return report(t.error());
  std::chrono::milliseconds grace(t->grace_ms);
  if (!grace_text.empty()) {
    auto g = wd::parse_duration(grace_text);
    if (!g) return report(g.error());
    grace = *g;
  }
  if (wd::is_terminal(t->state)) {
    fmt::print("task '{}' already ended ({})\n", id, wd::to_string(t->state));
    return 0;
  }
  if (wd::is_container_task(*t)) {
    auto done = wd::kill_container_task(reg, *t, grace);
    if (!done) return report(done.error());
    fmt::print("{}\n", *done);
    return 0;
  }
  const auto tp = wd::task_processes(*t);
  if (wd::collect_processes(tp).empty()) {
    if (!tp.monitor && t->pid && wd::process_gone(static_cast<pid_t>(*t->pid), t->pid_start_time)) {
      return report(wd::Error{wd::ErrorCategory::stale, fmt::format("task '{}': nothing to kill: pid {} has ended or now belongs to "
                                                                "another process (start time differs)", id, *t->pid)});
    }
    fmt::print("task '{}': no processes left\n", id);
    return 0;
  }
  auto system = wd::make_system(policy, reg.dir());
  if (!system) return report(system.error());
  // Kill first (SIGTERM, grace, SIGKILL sweeps retried for up to 15 s), then
  // verify: `killed` is recorded only once nothing of the task is found. The
  // monitor may record the end it sees meanwhile (exited, by our signal);
  // the verified verdict replaces it.
  const bool monitor_alive = tp.monitor.has_value();
  const auto r = wd::kill_task(*system, wd::current_principal(), tp, grace);
  const auto survivors = wd::collect_processes(tp);
  auto recorded = reg.update([&](wd::RegistryData& d) -> std::expected<void, wd::Error> {
    auto it = d.tasks.find(id);
    if (it == d.tasks.end() || it->second.created_ms != t->created_ms) return {};  // removed or replaced meanwhile
    if (survivors.empty()) {
      it->second.state = wd::TaskState::killed;
      it->second.error = "killed by `task-watchdog kill`";
      if (!monitor_alive || !it->second.ended_ms) it->second.ended_ms = now_ms();
    } else {
      it->second.error = fmt::format("`task-watchdog kill`: {} process(es) survived SIGKILL", survivors.size());
    }
    return {};
  });
  if (!recorded) return report(recorded.error());
  if (!survivors.empty()) {
    std::string pids;
    for (const auto& p : survivors) pids += fmt::format("{}{}", pids.empty() ? "" : ", ", p.pid);
    fmt::print(stderr, "task-watchdog: task '{}': {} process(es) survived SIGKILL, retried for 15 s (pids {}); not recorded as killed\n",
               id, survivors.size(), pids);
  }
  fmt::print("task '{}': {} process(es) found, {} ended on SIGTERM, {} left ({})\n", id, r.found, r.terminated, survivors.size(), r.method);
  return survivors.empty() ? 0 : 1;
}

// Copies what `fd` has beyond its current offset to `out`; true if anything came.
bool drain(int fd, std::FILE* out) {
  bool any = false;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::fwrite(buf, 1, static_cast<std::size_t>(n), out);
    any = true;
  }
  std::fflush(out);
  return any;
}

int cmd_logs(const wd::Registry& reg, const std::string& id, bool follow) {
  auto t = find_task(reg, id);
  if (!t) return report(t.error());
  osl::UniqueFd out_fd(::open(t->stdout_log.c_str(), O_RDONLY | O_CLOEXEC));
  osl::UniqueFd err_fd(::open(t->stderr_log.c_str(), O_RDONLY | O_CLOEXEC));
  if (out_fd) drain(out_fd.get(), stdout);
  if (err_fd) drain(err_fd.get(), stderr);
  if (!follow) return 0;
  // Follow until the task has ended: inotify wakes us on writes; once a
  // second the registry is re-read to see whether the task ended.
  osl::UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!in) return report(wd::Error::from_errno(errno, "inotify"));
  if (out_fd) ::inotify_add_watch(in.get(), t->stdout_log.c_str(), IN_MODIFY);
  if (err_fd) ::inotify_add_watch(in.get(), t->stderr_log.c_str(), IN_MODIFY);
  for (;;) {
    pollfd p{in.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, 1000);
    if (r > 0) {
      char ev[4096];
      while (::read(in.get(), ev, sizeof ev) > 0) {
      }
    }
    if (out_fd) drain(out_fd.get(), stdout);
    if (err_fd) drain(err_fd.get(), stderr);
    if (r == 0) {
      auto now = find_task(reg, id);
      if (!now) return report(now.error());
      if (wd::is_terminal(now->state) || effective_state(*now, wd::collect_processes(wd::task_processes(*now)).size()) == "lost") {
        if (out_fd) drain(out_fd.get(), stdout);
        if (err_fd) drain(err_fd.get(), stderr);
        return 0;
      }
    }
  }
}

// The last non-empty line of a log file (at most its last 4 KiB are read).
std::string last_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const auto size = static_cast<std::streamoff>(in.tellg());
  const std::streamoff from = size > 4096 ? size - 4096 : 0;
  in.seekg(from);
  std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  const auto nl = tail.rfind('\n');
  std::string line = nl == std::string::npos ? tail : tail.substr(nl + 1);
  if (line.size() > 120) line = line.substr(0, 117) + "...";
  return line;
}

// A compact summary of the tasks that are not over, for someone resuming work.
int cmd_rehydrate(const wd::Registry& reg, bool as_json) {
  auto data = reg.load();
  if (!data) return report(data.error());
  json arr = json::array();
  std::size_t ended = 0;
  for (const auto& [id, t] : data->tasks) {
    if (wd::is_terminal(t.state)) {
      ++ended;
      continue;
    }
    // A container task's processes are the engine's to count (container.hpp).
    const auto alive = wd::is_container_task(t) ? std::size_t{wd::container_task_running(t).value_or(false)}
                                                : wd::collect_processes(wd::task_processes(t)).size();
    json j;
    j["id"] = id;
    j["state"] = effective_state(t, alive);
    j["pid"] = t.pid ? json(*t.pid) : json(nullptr);
    j["processes_alive"] = alive;
    j["running_for"] = wd::format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, now_ms() - t.created_ms)));
    j["deadline"] = deadline_text(t);
    j["command"] = command_line(t);
    j["last_output"] = last_line(t.stdout_log);
    j["last_error"] = last_line(t.stderr_log);
    arr.push_back(std::move(j));
  }
  if (as_json) {
    fmt::print("{}\n", json{{"registry", reg.path().string()}, {"live", arr}, {"ended", ended}}.dump());
    return 0;
  }
  fmt::print("{} live task(s), {} ended, in {}\n", arr.size(), ended, reg.path().string());
  for (const auto& j : arr) {
    fmt::print("- {} [{}] pid {} ({} process(es)), up {}, deadline {}: {}\n", j["id"].get<std::string>(),
               j["state"].get<std::string>(), j["pid"].is_null() ? std::string("-") : std::to_string(j["pid"].get<std::int64_t>()),
               j["processes_alive"].get<std::size_t>(), j["running_for"].get<std::string>(), j["deadline"].get<std::string>(),
               j["command"].get<std::string>());
    if (!j["last_output"].get<std::string>().empty()) fmt::print("    stdout: {}\n", j["last_output"].get<std::string>());
    if (!j["last_error"].get<std::string>().empty()) fmt::print("    stderr: {}\n", j["last_error"].get<std::string>());
  }
  return 0;
}

// Counts by state and outcome.
int cmd_stats(const wd::Registry& reg, bool as_json) {
  auto data = reg.load();
  if (!data) return report(data.error());
  std::map<std::string, std::size_t> by_state;
  std::int64_t total_ms = 0;
  std::size_t timed = 0;
  std::int64_t leftovers = 0;
  for (const auto& [id, t] : data->tasks) {
    ++by_state[std::string(wd::to_string(t.state))];
    if (t.ended_ms) {
      total_ms += *t.ended_ms - t.created_ms;
      ++timed;
    }
    leftovers += t.leftover_processes.value_or(0);
  }
  const std::int64_t mean_ms = timed ? total_ms / static_cast<std::int64_t>(timed) : 0;
  if (as_json) {
    fmt::print("{}\n", json{{"tasks", data->tasks.size()}, {"by_state", by_state}, {"mean_duration_ms", timed ? json(mean_ms) : json(nullptr)},
                            {"leftover_processes_killed", leftovers}}.dump());
    return 0;
  }
  fmt::print("tasks: {}\n", data->tasks.size());
  for (const auto& [state, n] : by_state) fmt::print("  {:<10} {}\n", state, n);
  if (timed) fmt::print("mean duration of ended tasks: {}\n", wd::format_duration(std::chrono::milliseconds(mean_ms)));
  fmt::print("leftover processes killed after their task's main process ended: {}\n", leftovers);
  return 0;
}

int cmd_cleanup(const wd::Registry& reg, const std::string& older_text) {
  std::chrono::milliseconds older(0);
  if (!older_text.empty()) {
    auto d = wd::parse_duration(older_text);
    if (!d) return report(d.error());
    older = *d;
  }
  // Container tasks whose monitor died end here too, without a daemon.
  auto unmonitored = wd::end_unmonitored_containers(reg);
  if (!unmonitored) return report(unmonitored.error());
  for (const auto& line : *unmonitored) fmt::print("{}\n", line);
  const auto cutoff = now_ms() - older.count();
  std::vector<wd::TaskRecord> removed;
  auto r = reg.update([&](wd::RegistryData& data) -> std::expected<void, wd::Error> {
    for (auto it = data.tasks.begin(); it != data.tasks.end();) {
      const auto& t = it->second;
      const auto ended = t.ended_ms.value_or(t.created_ms);
      if (wd::is_terminal(t.state) && ended <= cutoff) {
        removed.push_back(t);
        it = data.tasks.erase(it);
      } else {
        ++it;
      }
    }
    return {};
  });
  if (!r) return report(r.error());
  // Their cgroups go through osl (cgroup.remove, built-in policy, audited).
  auto system = wd::make_system({}, reg.dir());
  for (const auto& t : removed) {
    std::error_code ec;
    std::filesystem::remove(t.stdout_log, ec);
    std::filesystem::remove(t.stderr_log, ec);
    std::filesystem::remove(reg.log_path(t.id, "monitor"), ec);
    if (system) (void)wd::remove_task_cgroups(*system, wd::current_principal(), t.containment);
    wd::remove_leftover_container(reg, t);
  }
  fmt::print("removed {} ended task(s)\n", removed.size());
  return 0;
}

}  // namespace airssys::watchdog::cli
