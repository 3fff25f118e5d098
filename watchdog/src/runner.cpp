// `start` and `register` (runner.hpp): record the task, then hand it to its
// monitor — in this process with --wait, else detached (detach.hpp).

#include <airssys/watchdog/runner.hpp>

#include "adopted_task.hpp"
#include "container/container_monitor.hpp"
#include "detach.hpp"
#include "native_task.hpp"
#include "task_records.hpp"

#include <airssys/osl/keep_fd_option.hpp>
#include <airssys/osl/process.hpp>
#include "container.hpp"
#include "proc.hpp"
#include "registry_json.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace airssys::watchdog {

namespace {

std::expected<void, Error> insert_record(const Registry& reg, const StartRequest& req) {
  TaskRecord t;
  t.id = req.id;
  t.argv = req.argv;
  std::error_code ec;
  t.cwd = req.cwd.empty() ? std::filesystem::current_path(ec).string() : std::filesystem::absolute(req.cwd, ec).string();
  t.env = req.env;
  t.created_ms = detail::now_ms();
  if (req.timeout) t.timeout_ms = req.timeout->count();
  if (req.idle_timeout) t.idle_timeout_ms = req.idle_timeout->count();
  t.grace_ms = req.grace.count();
  t.limits = req.limits;
  t.foreground = req.wait;
  t.stdout_log = reg.log_path(req.id, "stdout").string();
  t.stderr_log = reg.log_path(req.id, "stderr").string();
  // An extra key, not a schema field: readers that do not know it keep it.
  if (!req.keep_fds.empty()) detail::set_extra(t, "keep_fds", req.keep_fds);
  return detail::insert_new_task(reg, std::move(t));
}

// True when `pid` is this process or one of its ancestors, following
// /proc's ppid links up to init. A link that cannot be read (hidepid, a
// process that just ended) ends the walk: an ancestor we cannot see is not
// one we may signal either.
bool is_self_or_ancestor(pid_t pid) {
  pid_t at = ::getpid();
  // Bounded: a ppid chain is acyclic, but a /proc read racing exits need not be.
  for (int depth = 0; depth < 4096 && at > 0; ++depth) {
    if (at == pid) return true;
    const auto st = read_proc_stat(at);
    if (!st || st->ppid == at) return false;
    at = st->ppid;
  }
  return false;
}

}  // namespace

std::expected<void, Error> check_keep_fds(const std::vector<int>& fds) {
  auto ok = osl::process::check_keep_fd_option(fds, {.child = "the task's", .set_by = "start", .program = "task-watchdog"});
  if (!ok) return std::unexpected(Error{ErrorCategory::usage, std::move(ok.error().message), ok.error().errno_value});
  return {};
}

std::expected<void, Error> register_task(const Registry& reg, RegisterRequest req) {
  // Adoption moves the process and every descendant into the task's cgroup
  // and kills them all at the deadline: for pid 1 (a typo for 11, say) that
  // is every process of the PID namespace, the caller's shell included.
  if (req.pid == 1) {
    return std::unexpected(Error{ErrorCategory::usage,
                                 "--pid 1 is the init process of this PID namespace: adopting it would put every "
                                 "process under the task's deadline; refused"});
  }
  // The same for the caller's own session: --pid $PPID, $$ or the pid of
  // its shell, sshd or systemd --user would adopt the caller itself.
  if (is_self_or_ancestor(req.pid)) {
    return std::unexpected(Error{ErrorCategory::usage,
                                 fmt::format("--pid {} is task-watchdog itself or one of its ancestors (the shell or "
                                             "session that ran it): adopting it would put the caller under the "
                                             "task's deadline; refused",
                                             req.pid)});
  }
  auto st = osl::process::start_time_of(req.pid);
  if (!st || process_gone(req.pid)) return std::unexpected(Error{ErrorCategory::stale, fmt::format("no running process with pid {}", req.pid)});
  req.pid_start_time = *st;
  if (req.timeout) req.deadline_ms = detail::now_ms() + req.timeout->count();
  TaskRecord t;
  t.id = req.id;
  auto adopted = detail::describe_process(req.pid);
  t.argv = std::move(adopted.argv);
  t.cwd = std::move(adopted.cwd);
  t.created_ms = detail::now_ms();
  if (req.timeout) t.timeout_ms = req.timeout->count();
  t.grace_ms = req.grace.count();
  t.deadline_ms = req.deadline_ms;
  t.state = TaskState::running;
  t.pid = req.pid;
  t.pid_start_time = req.pid_start_time;
  t.containment.kind = ContainmentKind::process_group;
  t.containment.note = "adopted with register: no cgroup; its group and descendants are tracked";
  t.extra.insert_or_assign("adopted", "true");
  if (auto inserted = detail::insert_new_task(reg, std::move(t)); !inserted) return std::unexpected(inserted.error());
  return detail::run_detached(reg, req.id, req.policy_file, [&](detail::Handshake& hs) { detail::run_adopted_monitor(reg, req, hs); });
}

std::expected<int, Error> start_task(const Registry& reg, const StartRequest& req) {
  const bool container = !req.container.empty();
  if (container && !req.keep_fds.empty()) {
    return std::unexpected(Error::make(ErrorCategory::usage, "--keep-fd applies to native tasks, not to --container ones"));
  }
  if (auto fds = check_keep_fds(req.keep_fds); !fds) return std::unexpected(fds.error());
  // No engine: say so before anything is recorded (native tasks are unaffected).
  if (container) {
    // A DOCKER_HOST this client cannot use (tcp://, ssh://) is the caller's
    // mistake (usage, 2); an engine that does not answer fails the start (6).
    if (auto e = check_container_engine(); !e) {
      const auto category = e.error().category == ErrorCategory::usage ? ErrorCategory::usage : ErrorCategory::spawn_failed;
      return std::unexpected(Error{category, e.error().message});
    }
  }
  if (auto r = insert_record(reg, req); !r) return std::unexpected(r.error());
  auto monitor = [&](detail::Handshake& hs) {
    return container ? detail::run_container_monitor(reg, req, hs) : detail::run_native_monitor(reg, req, hs);
  };
  if (req.wait) {
    detail::Handshake foreground;
    return monitor(foreground);
  }
  if (auto detached = detail::run_detached(reg, req.id, req.policy_file, [&](detail::Handshake& hs) { (void)monitor(hs); }); !detached) {
    return std::unexpected(detached.error());
  }
  return 0;
}

}  // namespace airssys::watchdog
