// The commands of the task-watchdog CLI other than start/register: argument
// checks, printing and exit statuses around the library's calls
// (task_status.hpp, task_kill.hpp, task_cleanup.hpp, task_overview.hpp,
// task_report.hpp, task_log_files.hpp).
// Specified in docs/task-watchdog.md.

#include "commands.hpp"
#include "exit_status.hpp"

// The registry's JSON form (watchdog/src), for `list --json` and `status --json`.
#include "registry_json.hpp"

#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/runner.hpp>
#include <airssys/watchdog/task_cleanup.hpp>
#include <airssys/watchdog/task_kill.hpp>
#include <airssys/watchdog/task_log_files.hpp>
#include <airssys/watchdog/task_overview.hpp>
#include <airssys/watchdog/task_status.hpp>
#include <airssys/watchdog/units.hpp>

#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
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
  osl::detail::print_stderr("task-watchdog: {}\n", e.message);
  return exit_status(e.category);
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
  if (t.containment.kind == wd::ContainmentKind::container) return t.containment.note;
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

// `status --json`: every field of the record, then what status found.
json status_json(const wd::TaskStatus& s) {
  json j = wd::detail::task_to_json(s.record);
  j["effective_state"] = s.effective_state;
  j["processes_alive"] = s.processes_alive;
  j["cpu_percent"] = s.cpu_percent ? json(*s.cpu_percent) : json(nullptr);
  j["memory_bytes"] = s.memory_bytes ? json(*s.memory_bytes) : json(nullptr);
  j["memory_source"] = s.cpu_percent ? json(s.memory_source) : json(nullptr);
  j["unverified"] = s.unverified.empty() ? json(nullptr) : json(s.unverified);
  if (!s.container_json.empty()) j["container"] = json::parse(s.container_json);
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

int cmd_status(const wd::Registry& reg, const std::string& id, bool as_json) {
  auto s = wd::task_status(reg, id);
  if (!s) return report(s.error());
  if (as_json) {
    fmt::print("{}\n", status_json(*s).dump());
    return 0;
  }
  const wd::TaskRecord& t = s->record;
  fmt::print("id:          {}\n", t.id);
  fmt::print("state:       {}\n", s->effective_state);
  fmt::print("command:     {}\n", command_line(t));
  fmt::print("pid:         {}\n", t.pid ? fmt::format("{} (start time {})", *t.pid, t.pid_start_time.value_or(0)) : "-");
  // task_seen.hpp: `unverified` names the monitor ("monitor: …") only when
  // every process could be seen; that reason belongs on the monitor line.
  constexpr std::string_view kMonitorReason = "monitor: ";
  const bool about_monitor = s->unverified.starts_with(kMonitorReason);
  const std::string monitor_why = about_monitor ? s->unverified.substr(kMonitorReason.size()) : "/proc cannot show it";
  fmt::print("monitor:     {}\n", t.monitor_pid ? fmt::format("{}{}", *t.monitor_pid, s->monitor_unverified ? " (unverified: " + monitor_why + ")"
                                                                            : s->monitor_running       ? " (running)"
                                                                                                       : " (gone)")
                                                : "-");
  fmt::print("containment: {}\n", containment_text(t));
  if (!s->container_json.empty()) fmt::print("container:   {}\n", s->container_text);
  fmt::print("limits:      {}\n", limits_text(t));
  fmt::print("processes:   {} alive{}\n", s->processes_alive, s->unverified.empty() || about_monitor ? "" : " (unverified: " + s->unverified + ")");
  if (s->cpu_percent) {
    fmt::print("cpu:         {:.1f}% (two samples, 250ms apart)\n", *s->cpu_percent);
    fmt::print("memory:      {} ({})\n", human_bytes(s->memory_bytes.value_or(0)), s->memory_source);
  }
  fmt::print("timeout:     {} (grace {}{})\n", t.timeout_ms ? wd::format_duration(std::chrono::milliseconds(*t.timeout_ms)) : "none",
             wd::format_duration(std::chrono::milliseconds(t.grace_ms)),
             t.idle_timeout_ms ? ", idle " + wd::format_duration(std::chrono::milliseconds(*t.idle_timeout_ms)) : std::string());
  fmt::print("deadline:    {}\n", deadline_text(t));
  if (t.exit_code) fmt::print("exit:        code {}\n", *t.exit_code);
  if (t.exit_signal) fmt::print("exit:        signal {}\n", *t.exit_signal);
  // Set by the monitor as it records the task ended. On a live or timed_out
  // record it is an older daemon's count of processes its kill at the
  // deadline left (daemon.cpp, kill_unfinished): nothing was killed after
  // the main process ended.
  if (wd::is_terminal(t.state) && t.state != wd::TaskState::timed_out && t.leftover_processes && *t.leftover_processes > 0) fmt::print("leftovers:   {} process(es) killed after the main process ended\n", *t.leftover_processes);
  if (!t.error.empty()) fmt::print("note:        {}\n", t.error);
  if (t.stdout_log.empty() && t.stderr_log.empty()) {
    // An adopted task (register) or one that failed before its logs were made.
    fmt::print("logs:        none{}\n", t.extra.contains("adopted") ? " (adopted with register: its output is not captured)" : "");
  } else {
    fmt::print("logs:        {}\n             {}\n", t.stdout_log, t.stderr_log);
  }
  return 0;
}

std::expected<std::chrono::milliseconds, wd::Error> parse_sigkill_wait(const std::string& text) {
  if (text.empty()) return wd::kDefaultSigkillWait;
  auto d = wd::parse_duration(text, "--sigkill-wait");
  if (!d) return std::unexpected(d.error());
  if (d->count() < 100) return std::unexpected(wd::Error::make(wd::ErrorCategory::usage, "--sigkill-wait must be at least 100ms"));
  return *d;
}

int cmd_kill(const wd::Registry& reg, const std::string& id, const std::string& grace_text, const std::string& policy,
             const std::string& sigkill_wait_text) {
  wd::KillRequest req;
  req.policy_file = policy;
  if (!grace_text.empty()) {
    auto g = wd::parse_duration(grace_text, "--grace");
    if (!g) return report(g.error());
    req.grace = *g;
  }
  auto sigkill_wait = parse_sigkill_wait(sigkill_wait_text);
  if (!sigkill_wait) return report(sigkill_wait.error());
  req.sigkill_wait = *sigkill_wait;
  auto r = wd::kill_recorded_task(reg, id, req);
  if (!r) return report(r.error());
  switch (r->outcome) {
    case wd::KillOutcome::already_ended:
      fmt::print("task '{}' already ended ({})\n", id, wd::to_string(r->ended_as));
      return 0;
    case wd::KillOutcome::nothing_left:
      fmt::print("task '{}': no processes left\n", id);
      return 0;
    case wd::KillOutcome::container:
      fmt::print("{}\n", r->container_summary);
      return 0;
    case wd::KillOutcome::killed:
    case wd::KillOutcome::survived:
    case wd::KillOutcome::unverified:
      break;
  }
  if (r->outcome == wd::KillOutcome::unverified) {
    osl::detail::print_stderr("task-watchdog: task '{}': could not verify that its processes are gone ({}); not recorded as killed\n",
                              id, r->unverified_reason);
    if (r->found == 0) return 1;
  }
  if (!r->survivors.empty()) {
    std::string pids;
    for (const pid_t p : r->survivors) pids += fmt::format("{}{}", pids.empty() ? "" : ", ", p);
    osl::detail::print_stderr("task-watchdog: task '{}': {} process(es) survived SIGKILL, retried for {} (pids {}); not recorded as killed\n",
                              id, r->survivors.size(), wd::format_duration(req.sigkill_wait), pids);
  }
  fmt::print("task '{}': {} process(es) found, {} ended on SIGTERM, {} left ({})\n", id, r->found, r->terminated, r->survivors.size(),
             wd::to_string(r->method));
  if (r->outcome == wd::KillOutcome::killed && r->recorded_as && *r->recorded_as != wd::TaskState::killed) {
    fmt::print("task '{}': its monitor recorded it {} meanwhile; that is kept\n", id, wd::to_string(*r->recorded_as));
  }
  return r->outcome == wd::KillOutcome::killed ? 0 : 1;
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
  auto logs = wd::open_task_logs(reg, id);
  if (!logs) return report(logs.error());
  const osl::UniqueFd& out_fd = logs->stdout_fd;
  const osl::UniqueFd& err_fd = logs->stderr_fd;
  if (out_fd) drain(out_fd.get(), stdout);
  if (err_fd) drain(err_fd.get(), stderr);
  if (!follow) return 0;
  // Follow until the task has ended: inotify wakes us on writes; once a
  // second the registry is re-read to see whether the task ended.
  osl::UniqueFd in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!in) return report(wd::Error::from_errno(errno, "inotify"));
  if (out_fd) ::inotify_add_watch(in.get(), logs->stdout_path.c_str(), IN_MODIFY | IN_DONT_FOLLOW);
  if (err_fd) ::inotify_add_watch(in.get(), logs->stderr_path.c_str(), IN_MODIFY | IN_DONT_FOLLOW);
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
      auto ended = wd::task_has_ended(reg, id);
      if (!ended) return report(ended.error());
      if (*ended) {
        if (out_fd) drain(out_fd.get(), stdout);
        if (err_fd) drain(err_fd.get(), stderr);
        return 0;
      }
    }
  }
}

// A compact summary of the tasks that are not over, for someone resuming work.
int cmd_rehydrate(const wd::Registry& reg, bool as_json) {
  auto live = wd::live_tasks(reg);
  if (!live) return report(live.error());
  json arr = json::array();
  for (const auto& l : live->live) {
    const wd::TaskRecord& t = l.record;
    json j;
    j["id"] = t.id;
    j["state"] = l.effective_state;
    j["pid"] = t.pid ? json(*t.pid) : json(nullptr);
    j["processes_alive"] = l.processes_alive;
    j["unverified"] = l.unverified.empty() ? json(nullptr) : json(l.unverified);
    j["running_for"] = wd::format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, now_ms() - t.created_ms)));
    j["deadline"] = deadline_text(t);
    j["command"] = command_line(t);
    j["last_output"] = l.last_output;
    j["last_error"] = l.last_error;
    arr.push_back(std::move(j));
  }
  if (as_json) {
    fmt::print("{}\n", json{{"registry", reg.path().string()}, {"live", arr}, {"ended", live->ended}}.dump());
    return 0;
  }
  fmt::print("{} live task(s), {} ended, in {}\n", arr.size(), live->ended, reg.path().string());
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
  auto s = wd::registry_stats(reg);
  if (!s) return report(s.error());
  // By the state's name, as the output has always been ordered.
  std::map<std::string, std::size_t> by_state;
  for (const auto& [state, n] : s->by_state) by_state[std::string(wd::to_string(state))] = n;
  if (as_json) {
    fmt::print("{}\n", json{{"tasks", s->tasks}, {"by_state", by_state},
                            {"mean_duration_ms", s->mean_duration_ms ? json(*s->mean_duration_ms) : json(nullptr)},
                            {"leftover_processes_killed", s->leftover_processes_killed}}.dump());
    return 0;
  }
  fmt::print("tasks: {}\n", s->tasks);
  for (const auto& [state, n] : by_state) fmt::print("  {:<10} {}\n", state, n);
  if (s->mean_duration_ms) fmt::print("mean duration of ended tasks: {}\n", wd::format_duration(std::chrono::milliseconds(*s->mean_duration_ms)));
  fmt::print("leftover processes killed after their task's main process ended: {}\n", s->leftover_processes_killed);
  return 0;
}

int cmd_cleanup(const wd::Registry& reg, const std::string& older_text) {
  std::chrono::milliseconds older(0);
  if (!older_text.empty()) {
    auto d = wd::parse_duration(older_text, "--older-than");
    if (!d) return report(d.error());
    older = *d;
  }
  auto r = wd::cleanup_tasks(reg, older);
  if (!r) return report(r.error());
  for (const auto& line : r->ended_containers) fmt::print("{}\n", line);
  fmt::print("removed {} ended task(s)\n", r->removed.size());
  std::fflush(stdout);
  for (const auto& line : r->not_removed) osl::detail::print_stderr("task-watchdog: {}\n", line);
  return r->not_removed.empty() ? 0 : 1;
}

}  // namespace airssys::watchdog::cli
