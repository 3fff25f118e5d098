// Container tasks (container.hpp): the monitor, status and kill.

#include <airssys/watchdog/container.hpp>

#include "container/engine.hpp"
#include "monitor_support.hpp"
#include "task_logs.hpp"

#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/proc.hpp>
#include <airssys/watchdog/units.hpp>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <optional>
#include <thread>

namespace airssys::watchdog {

using container::DockerClient;
using nlohmann::json;
using osl::UniqueFd;

namespace {

using detail::make_timer;
using detail::now_ms;
using detail::update_task;
using detail::write_all_fd;

// The container's id in the record (empty when the monitor has not made it yet).
std::string recorded_cid(const TaskRecord& t) {
  const auto it = t.extra.find("container");
  if (it == t.extra.end() || !it->is_object() || !it->contains("id") || !(*it)["id"].is_string()) return {};
  return (*it)["id"].get<std::string>();
}

// The task's container on engine `c`: the recorded id, else — the monitor
// died between create and recording the id — the container named task-<id>
// if it carries the label task-watchdog.id=<id>. Empty when there is none;
// an error when the engine does not answer.
std::expected<std::string, Error> find_container(const DockerClient& c, const TaskRecord& t) {
  if (auto cid = recorded_cid(t); !cid.empty()) return cid;
  auto info = container::inspect_container(c, container::container_name(t.id));
  if (!info) return std::unexpected(info.error());
  if (!*info) return std::string();
  const json& in = **info;
  const auto config = in.find("Config");
  if (config == in.end() || !config->is_object()) return std::string();
  const auto labels = config->find("Labels");
  if (labels == config->end() || !labels->is_object() || labels->value("task-watchdog.id", "") != t.id) return std::string();
  const auto id = in.find("Id");
  return id != in.end() && id->is_string() ? id->get<std::string>() : std::string();
}

// The engine the task was started on (status and kill may run with another
// DOCKER_HOST, or none); DOCKER_HOST only for records without one.
std::expected<DockerClient, Error> client_for(const TaskRecord& t) {
  const auto it = t.extra.find("container");
  if (it != t.extra.end() && it->is_object() && it->contains("engine") && (*it)["engine"].is_string()) {
    const auto engine = (*it)["engine"].get<std::string>();
    if (engine.starts_with("unix://") && engine.size() > 7) return DockerClient(engine.substr(7));
  }
  return DockerClient::from_env();
}

// Stop with grace, SIGKILL if the stop failed, then remove. Returns the
// first error (the later steps run anyway).
std::expected<void, Error> stop_kill_remove(const DockerClient& c, const std::string& cid, std::chrono::milliseconds grace,
                                            bool remove) {
  std::optional<Error> first;
  if (auto r = container::stop_container(c, cid, grace); !r) {
    first = r.error();
    if (auto k = container::kill_container(c, cid); !k && !first) first = k.error();
  }
  if (remove) {
    if (auto r = container::remove_container(c, cid); !r && !first) first = r.error();
  }
  if (first) return std::unexpected(*first);
  return {};
}

// Blocks until `fd` is readable or `bound` passes.
bool wait_readable(int fd, std::chrono::milliseconds bound) {
  const UniqueFd ep = detail::epoll_of({fd});
  epoll_event out{};
  for (;;) {
    const int n = ::epoll_wait(ep.get(), &out, 1, static_cast<int>(bound.count()));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

}  // namespace

bool is_container_task(const TaskRecord& t) { return t.containment.kind == "container"; }

std::expected<void, Error> check_container_engine() {
  auto client = DockerClient::from_env();
  if (!client) return std::unexpected(client.error());
  return client->ping();
}

int container_monitor(const Registry& reg, const StartRequest& req, int handshake) {
  const bool foreground = handshake < 0;
  auto fail = [&](const Error& e, int status) {
    detail::report_start_failure(reg, req.id, handshake, e);
    return status;
  };

  UniqueFd sigfd = detail::block_into_signalfd({SIGINT, SIGTERM, SIGHUP, SIGQUIT});  // before the threads start

  auto client = DockerClient::from_env();
  if (!client) return fail(client.error(), kExitWatchdogFailed);
  // The container's output goes to the task's log files, copied as it comes
  // from the engine's log stream, so `logs`, `logs --follow`, `rehydrate` and
  // --idle-timeout work as for native tasks. Opened as native tasks' are.
  auto logs = detail::open_task_logs(reg, req.id);
  if (!logs) {
    return fail(Error{ErrorCode::spawn_failed, fmt::format("cannot start task '{}': {}", req.id, logs.error().message)}, kExitWatchdogFailed);
  }
  const UniqueFd out_log = std::move(logs->out);
  const UniqueFd err_log = std::move(logs->err);
  // --idle-timeout watches the log files; if it cannot, the start fails
  // (before any container is made).
  auto idle = detail::IdleWatch::create(reg, req.id, req.idle_timeout);
  if (!idle) return fail(Error{ErrorCode::spawn_failed, fmt::format("cannot start task '{}': {}", req.id, idle.error().message)}, kExitWatchdogFailed);
  container::ContainerSpec spec;
  spec.id = req.id;
  spec.image = req.container;
  spec.argv = req.argv;
  spec.env = req.env;
  spec.workdir = req.cwd.string();
  spec.memory_bytes = req.limits.memory_bytes;
  spec.cpus = req.limits.cpus;
  spec.pids = req.limits.pids;
  if (const char* net = std::getenv("TASK_WATCHDOG_CONTAINER_NETWORK"); net != nullptr) spec.network = net;

  // Recorded before the container exists: a monitor that dies from here on
  // leaves a record `run` and `kill` act on (kind container, the deadline,
  // the engine; they find the container by name and label until its id is
  // recorded right after create).
  std::optional<std::int64_t> deadline_ms;
  if (req.timeout) deadline_ms = now_ms() + req.timeout->count();
  const auto self_start = osl::process::start_time_of(::getpid());
  auto prepared = update_task(reg, req.id, [&](TaskRecord& t) {
    t.monitor_pid = ::getpid();
    if (self_start) t.monitor_start_time = *self_start;
    t.containment = Containment{};
    t.containment.kind = "container";
    t.containment.note = fmt::format("container {} at {}", container::container_name(req.id), client->endpoint());
    t.limits = req.limits;
    t.deadline_ms = deadline_ms;
    t.extra["container"] = json{{"name", container::container_name(req.id)}, {"image", req.container}, {"engine", client->endpoint()}};
  });
  if (!prepared) return fail(prepared.error(), kExitWatchdogFailed);

  auto cid = container::create_container(*client, spec);
  if (!cid) return fail(Error{ErrorCode::spawn_failed, fmt::format("task '{}': {}", req.id, cid.error().message)}, kExitCannotRun);
  if (auto r = update_task(reg, req.id, [&](TaskRecord& t) { t.extra["container"]["id"] = *cid; }); !r) {
    (void)container::remove_container(*client, *cid);
    return fail(r.error(), kExitWatchdogFailed);
  }
  if (auto s = container::start_container(*client, *cid); !s) {
    (void)container::remove_container(*client, *cid);
    return fail(Error{ErrorCode::spawn_failed, fmt::format("task '{}': {}", req.id, s.error().message)}, kExitCannotRun);
  }
  auto recorded = update_task(reg, req.id, [&](TaskRecord& t) { t.state = "running"; });
  if (!recorded) {
    (void)stop_kill_remove(*client, *cid, std::chrono::milliseconds(0), true);
    return fail(recorded.error(), kExitWatchdogFailed);
  }

  std::atomic<bool> cancel_logs{false};
  std::atomic<bool> cancel_wait{false};
  UniqueFd logs_done(::eventfd(0, EFD_CLOEXEC));
  UniqueFd ended_fd(::eventfd(0, EFD_CLOEXEC));
  std::expected<int, Error> wait_result = std::unexpected(Error{ErrorCode::failure, "not waited"});
  // Both threads only touch what is declared above and are joined below.
  std::jthread log_thread([&] {
    auto copied = container::follow_logs(
        *client, *cid, [&](int stream, std::string_view data) { write_all_fd(stream == 2 ? err_log.get() : out_log.get(), data); },
        &cancel_logs);
    if (!copied) fmt::print(stderr, "task-watchdog: task '{}': copying the container's logs: {}\n", req.id, copied.error().message);
    const std::uint64_t one = 1;
    (void)!::write(logs_done.get(), &one, sizeof one);
  });
  std::jthread wait_thread([&] {
    wait_result = container::wait_container(*client, *cid, &cancel_wait);
    const std::uint64_t one = 1;
    (void)!::write(ended_fd.get(), &one, sizeof one);
  });
  if (!foreground) {
    write_all_fd(handshake, "OK\n");
    ::close(handshake);
  }

  UniqueFd deadline;
  if (deadline_ms) deadline = make_timer(std::chrono::milliseconds(*deadline_ms - now_ms()));
  idle->arm();  // counted from the container's start
  const UniqueFd ep = detail::epoll_of({ended_fd.get(), sigfd.get(), deadline.get(), idle->timer_fd(), idle->inotify_fd()});
  enum class End { exited, timed_out, killed } end = End::exited;
  std::string note;
  std::optional<Error> stop_error;
  auto stop = [&](End why, std::string why_note) {
    end = why;
    note = std::move(why_note);
    if (auto r = stop_kill_remove(*client, *cid, req.grace, false); !r) stop_error = r.error();
  };
  for (bool done = false; !done;) {
    epoll_event evs[8];
    const int n = ::epoll_wait(ep.get(), evs, 8, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      stop(End::killed, fmt::format("epoll_wait failed: {}", std::strerror(errno)));
      break;
    }
    for (int i = 0; i < n && !done; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == ended_fd.get()) {
        done = true;
      } else if (fd == deadline.get()) {
        stop(End::timed_out, "");
        done = true;
      } else if (fd == idle->inotify_fd()) {
        idle->on_output();
      } else if (fd == idle->timer_fd()) {
        stop(End::timed_out, fmt::format("no output for {} (--idle-timeout)", format_duration(*req.idle_timeout)));
        done = true;
      } else if (fd == sigfd.get()) {
        signalfd_siginfo si{};
        if (::read(sigfd.get(), &si, sizeof si) != sizeof si) continue;
        const int signo = static_cast<int>(si.ssi_signo);
        if (foreground && (signo == SIGINT || signo == SIGTERM)) {
          (void)container::kill_container(*client, *cid, signo == SIGINT ? "SIGINT" : "SIGTERM");  // like timeout(1)
        } else if (signo != SIGHUP) {
          stop(End::killed, fmt::format("the monitor received signal {}", signo));
          done = true;
        }
      }
    }
  }
  // The container is down (or being torn down): /wait returns; bound it anyway.
  if (!wait_readable(ended_fd.get(), std::chrono::milliseconds(60'000))) {
    (void)container::kill_container(*client, *cid);
    if (!wait_readable(ended_fd.get(), std::chrono::milliseconds(10'000))) cancel_wait = true;
  }
  wait_thread.join();
  // The log stream ends with the container; what is still in flight gets a few seconds.
  if (!wait_readable(logs_done.get(), std::chrono::milliseconds(5'000))) cancel_logs = true;
  log_thread.join();
  const auto removed = container::remove_container(*client, *cid);

  (void)update_task(reg, req.id, [&](TaskRecord& t) {
    if (t.state != "killed") {  // `task-watchdog kill` got there first: keep its verdict
      t.state = end == End::timed_out ? "timed_out" : end == End::killed ? "killed" : "exited";
      if (!note.empty()) t.error = note;
    }
    if (wait_result) {
      t.exit_code = *wait_result;
    } else if (end == End::exited && t.state != "killed") {
      t.state = "failed";
      t.error = wait_result.error().message;
    }
    if (stop_error) t.error = stop_error->message;
    if (!removed) t.error = removed.error().message;
    t.ended_ms = now_ms();
    t.extra["container"]["removed"] = removed.has_value();
  });
  if (end == End::timed_out) return kExitTimedOut;
  if (!wait_result) return kExitWatchdogFailed;
  return *wait_result;
}

void add_container_status(const TaskRecord& t, json& j) {
  json c = t.extra.contains("container") ? t.extra["container"] : json::object();
  j["processes_alive"] = 0;
  auto client = client_for(t);
  if (!client) {
    c["error"] = client.error().message;
    j["container"] = c;
    return;
  }
  const auto found = find_container(*client, t);
  if (!found || found->empty()) {
    if (!found) c["error"] = found.error().message;
    j["container"] = c;
    return;
  }
  const std::string& cid = *found;
  auto info = container::inspect_container(*client, cid);
  if (!info) {
    c["error"] = info.error().message;
  } else if (!*info) {
    c["state"] = "removed";
  } else {
    const json& in = **info;
    const json state = in.value("State", json::object());
    c["state"] = state.value("Status", "");
    c["exit_code"] = state.value("ExitCode", 0);
    c["pid"] = state.value("Pid", 0);
    c["oom_killed"] = state.value("OOMKilled", false);
    const json host = in.value("HostConfig", json::object());
    c["memory"] = host.value("Memory", std::int64_t{0});
    c["nano_cpus"] = host.value("NanoCpus", std::int64_t{0});
    c["pids_limit"] = host.value("PidsLimit", std::int64_t{0});
    if (state.value("Running", false)) {
      if (auto u = container::container_usage(*client, cid, std::chrono::milliseconds(250))) {
        j["cpu_percent"] = std::round(u->cpu_percent * 10) / 10;
        j["memory_bytes"] = u->memory_bytes;
        j["memory_source"] = "container stats";
        j["processes_alive"] = u->pids.value_or(1);
      } else {
        j["processes_alive"] = 1;
      }
    }
  }
  j["container"] = c;
}

std::string container_status_text(const json& c) {
  const auto str = [&](const char* k) { return c.contains(k) && c[k].is_string() ? c[k].get<std::string>() : std::string(); };
  const auto num = [&](const char* k) { return c.contains(k) && c[k].is_number() ? c[k].get<std::int64_t>() : std::int64_t{0}; };
  std::string s = fmt::format("{} ({}) of image {}", str("name"), str("id").substr(0, 12), str("image"));
  if (!str("error").empty()) return s + "; engine: " + str("error");
  const std::string state = str("state");
  if (state.empty()) return s;
  s += "; engine: " + state;
  if (state == "running") s += fmt::format(", pid {}", num("pid"));
  if (state == "exited") s += fmt::format(", exit code {}", num("exit_code"));
  if (c.value("oom_killed", false)) s += ", OOM-killed";
  if (state != "removed") {
    s += fmt::format("; HostConfig Memory {} NanoCpus {} PidsLimit {}", num("memory"), num("nano_cpus"), num("pids_limit"));
  }
  return s;
}

int kill_container_task(const Registry& reg, const TaskRecord& t, std::chrono::milliseconds grace) {
  auto client = client_for(t);
  if (!client) {
    fmt::print(stderr, "task-watchdog: {}\n", client.error().message);
    return client.error().exit_code();
  }
  const auto found = find_container(*client, t);
  if (!found) {
    fmt::print(stderr, "task-watchdog: task '{}': {}\n", t.id, found.error().message);
    return 1;
  }
  if (found->empty()) {
    fmt::print(stderr, "task-watchdog: task '{}': no container has been made for it yet\n", t.id);
    return static_cast<int>(ErrorCode::stale);
  }
  const std::string& cid = *found;
  // The verdict is recorded only once the container is gone: while the
  // engine fails, the record stays live, so `run` (or a later `kill`) still
  // enforces the task's end when its monitor is dead.
  auto r = stop_kill_remove(*client, cid, grace, true);
  auto after = container::inspect_container(*client, cid);
  if (!r || !after || *after) {
    const std::string why = !r ? r.error().message : !after ? after.error().message : "it still exists";
    fmt::print(stderr, "task-watchdog: task '{}': container {} was not removed: {}\n", t.id, container::container_name(t.id), why);
    return 1;
  }
  auto marked = reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    auto it = d.tasks.find(t.id);
    if (it == d.tasks.end() || it->second.created_ms != t.created_ms) return {};  // replaced meanwhile: not ours to mark
    // Also over the monitor's `exited`, recorded when /wait returned for our stop.
    it->second.state = "killed";
    it->second.error = "killed by `task-watchdog kill`";
    if (!it->second.ended_ms) it->second.ended_ms = now_ms();
    return {};
  });
  if (!marked) {
    fmt::print(stderr, "task-watchdog: task '{}': container {} stopped and removed, but the registry was not updated: {}\n", t.id,
               container::container_name(t.id), marked.error().message);
    return marked.error().exit_code();
  }
  fmt::print("task '{}': container {} stopped and removed\n", t.id, container::container_name(t.id));
  return 0;
}

std::optional<bool> container_task_running(const TaskRecord& t) {
  auto client = client_for(t);
  if (!client) return std::nullopt;
  const auto cid = find_container(*client, t);
  if (!cid) return std::nullopt;
  if (cid->empty()) return false;  // never made: nothing can run
  auto info = container::inspect_container(*client, *cid);
  if (!info) return std::nullopt;
  return *info && (**info).value("State", json::object()).value("Running", false);
}

KillReport stop_container_task(const TaskRecord& t, std::chrono::milliseconds grace) {
  KillReport kr;
  kr.method = "container stop";
  auto client = client_for(t);
  if (!client) return kr;
  const auto found = find_container(*client, t);
  if (!found || found->empty()) return kr;
  const std::string& cid = *found;
  kr.found = container_task_running(t).value_or(false) ? 1 : 0;
  (void)stop_kill_remove(*client, cid, grace, true);
  auto after = container::inspect_container(*client, cid);
  kr.left = after && !*after ? 0 : 1;
  kr.killed = kr.found - std::min(kr.found, kr.left);
  return kr;
}

}  // namespace airssys::watchdog
