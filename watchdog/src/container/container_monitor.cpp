#include "container/container_monitor.hpp"

#include "container/engine.hpp"
#include "container/task_container.hpp"
#include "event_fds.hpp"
#include "kill_tree.hpp"
#include "task_logs.hpp"
#include "task_monitor.hpp"
#include "registry_json.hpp"
#include "task_records.hpp"

#include <airssys/osl/process.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <thread>

namespace airssys::watchdog::detail {

using container::DockerClient;
using nlohmann::json;
using osl::UniqueFd;

namespace {

class ContainerTarget final : public MonitorTarget {
 public:
  ContainerTarget(const Registry& reg, const std::string& task_id, const DockerClient& client, const std::string& cid,
                  int ended_fd)
      : reg_(reg), task_id_(task_id), client_(client), cid_(cid), ended_fd_(ended_fd) {}
  [[nodiscard]] int ended_fd() const override { return ended_fd_; }
  void stop(std::chrono::milliseconds grace, StopCause cause) override {
    // The audit's reason: "deadline" when the deadline timer fired, "monitor"
    // for --idle-timeout, a signal to the monitor or its failure.
    const container::KillAudit audit{reg_.dir(), task_id_, cause == StopCause::deadline ? "deadline" : "monitor"};
    if (auto e = container::stop_kill_remove(audit, client_, cid_, grace, false).first_error()) stop_error = std::move(e);
  }
  void forward(int signo) override {
    (void)container::audited_kill({reg_.dir(), task_id_, "forward"}, client_, cid_, signo == SIGINT ? "SIGINT" : "SIGTERM");
  }

  std::optional<Error> stop_error;

 private:
  const Registry& reg_;
  const std::string& task_id_;
  const DockerClient& client_;
  const std::string& cid_;
  int ended_fd_;
};

void signal_eventfd(int fd) {
  const std::uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);
}

}  // namespace

std::expected<int, Error> run_container_monitor(const Registry& reg, const StartRequest& req, Handshake& handshake) {
  const StartFailure fail(reg, req.id, handshake);

  TaskMonitor monitor(handshake.foreground(), /*reap_children=*/false);  // before the threads start

  auto client = DockerClient::from_env();
  if (!client) return fail(client.error());
  // The container's output goes to the task's log files, opened as native tasks' are.
  auto logs = open_task_logs(reg, req.id);
  if (!logs) return fail.cannot_start(logs.error());
  const UniqueFd out_log = std::move(logs->out);
  const UniqueFd err_log = std::move(logs->err);
  // --idle-timeout watches the log files; if it cannot, the start fails
  // (before any container is made).
  auto idle = IdleWatch::create(reg, req.id, req.idle_timeout);
  if (!idle) return fail.cannot_start(idle.error());
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
  // leaves a record `run` and `kill` act on (they find the container by name
  // and label until its id is recorded right after create).
  std::optional<std::int64_t> deadline_ms;
  if (req.timeout) deadline_ms = now_ms() + req.timeout->count();
  const auto self_start = osl::process::start_time_of(::getpid());
  auto prepared = update_task(reg, req.id, [&](TaskRecord& t) {
    t.monitor_pid = ::getpid();
    if (self_start) t.monitor_start_time = *self_start;
    record_boot(t);  // as native tasks: a later boot tells this monitor pid is not ours
    t.containment = Containment{};
    t.containment.kind = ContainmentKind::container;
    t.containment.note = fmt::format("container {} at {}", container::container_name(req.id), client->endpoint());
    t.limits = req.limits;
    t.deadline_ms = deadline_ms;
    set_extra(t, "container", json{{"name", container::container_name(req.id)}, {"image", req.container}, {"engine", client->endpoint()}});
  });
  if (!prepared) return fail(prepared.error());

  auto cid = container::create_container(*client, spec);
  if (!cid) return fail(Error{ErrorCategory::not_executable, fmt::format("task '{}': {}", req.id, cid.error().message)});
  if (auto r = update_task(reg, req.id, [&](TaskRecord& t) {
        json c = extra_object(t, "container");
        c["id"] = *cid;
        set_extra(t, "container", c);
      }); !r) {
    (void)container::remove_container(*client, *cid);
    return fail(r.error());
  }
  if (auto s = container::start_container(*client, *cid); !s) {
    (void)container::remove_container(*client, *cid);
    return fail(Error{ErrorCategory::not_executable, fmt::format("task '{}': {}", req.id, s.error().message)});
  }
  if (auto r = update_task(reg, req.id, [&](TaskRecord& t) { t.state = TaskState::running; }); !r) {
    (void)container::stop_kill_remove({reg.dir(), req.id, "start failed"}, *client, *cid, std::chrono::milliseconds(0), true);
    return fail(r.error());
  }

  std::atomic<bool> cancel_logs{false};
  std::atomic<bool> cancel_wait{false};
  UniqueFd logs_done(::eventfd(0, EFD_CLOEXEC));
  UniqueFd ended_fd(::eventfd(0, EFD_CLOEXEC));
  std::expected<int, Error> wait_result = std::unexpected(Error{ErrorCategory::failure, "not waited"});
  std::optional<Error> copy_error;
  // Both threads only touch what is declared above and are joined below.
  std::jthread log_thread([&] {
    auto copied = container::follow_logs(
        *client, *cid, [&](int stream, std::string_view data) { write_all_fd(stream == 2 ? err_log.get() : out_log.get(), data); },
        &cancel_logs);
    if (!copied) copy_error = copied.error();
    signal_eventfd(logs_done.get());
  });
  std::jthread wait_thread([&] {
    wait_result = container::wait_container(*client, *cid, &cancel_wait);
    signal_eventfd(ended_fd.get());
  });
  handshake.ready();

  ContainerTarget target(reg, req.id, *client, *cid, ended_fd.get());
  MonitorWatch watch;
  if (deadline_ms) watch.deadline_in = std::chrono::milliseconds(*deadline_ms - now_ms());
  watch.idle = &*idle;  // counted from the container's start
  watch.idle_timeout = req.idle_timeout;
  watch.grace = req.grace;
  const MonitorOutcome outcome = monitor.run(target, watch);

  // The container is down (or being torn down): /wait returns; bound it anyway.
  if (!wait_readable(ended_fd.get(), std::chrono::milliseconds(60'000))) {
    (void)container::audited_kill({reg.dir(), req.id, "wait hung"}, *client, *cid);
    if (!wait_readable(ended_fd.get(), std::chrono::milliseconds(10'000))) cancel_wait = true;
  }
  wait_thread.join();
  // The log stream ends with the container; what is still in flight gets a few seconds.
  if (!wait_readable(logs_done.get(), std::chrono::milliseconds(5'000))) cancel_logs = true;
  log_thread.join();
  const auto removed = container::remove_container(*client, *cid);

  (void)update_task(reg, req.id, [&](TaskRecord& t) {
    if (t.state != TaskState::killed) {  // `task-watchdog kill` got there first: keep its verdict
      t.state = outcome.end == MonitorEnd::timed_out ? TaskState::timed_out : outcome.end == MonitorEnd::killed ? TaskState::killed : TaskState::exited;
      if (!outcome.note.empty()) t.error = outcome.note;
    }
    if (wait_result) {
      t.exit_code = *wait_result;
    } else if (outcome.end == MonitorEnd::exited && t.state != TaskState::killed) {
      t.state = TaskState::failed;
      t.error = wait_result.error().message;
    }
    if (copy_error && t.error.empty()) t.error = "copying the container's logs: " + copy_error->message;
    if (target.stop_error) t.error = target.stop_error->message;
    if (!removed) t.error = removed.error().message;
    t.ended_ms = now_ms();
    json c = extra_object(t, "container");
    c["removed"] = removed.has_value();
    set_extra(t, "container", c);
  });
  if (outcome.end == MonitorEnd::timed_out) return kExitTimedOut;
  if (!wait_result) return kExitWatchdogFailed;  // recorded `failed` with the engine's error
  return *wait_result;
}

}  // namespace airssys::watchdog::detail
