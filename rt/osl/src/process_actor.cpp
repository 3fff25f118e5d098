#include <airssys/rt_osl/process_actor.hpp>

#include <stdexcept>
#include <string>

#include "pidfd_watcher.hpp"

namespace airssys::rt_osl {

namespace {

std::string describe(pid_t pid, const std::vector<std::string>& argv, const osl::process::ExitStatus& st) {
  std::string who = "process " + std::to_string(pid) + " (" + (argv.empty() ? std::string("?") : argv[0]) + ")";
  if (st.code) return who + " exited with code " + std::to_string(*st.code);
  return who + " was killed by signal " + std::to_string(st.signal.value_or(0));
}

}  // namespace

ProcessActor::ProcessActor(ProcessOptions opts) : opts_(std::move(opts)) {}

ProcessActor::~ProcessActor() { unwatch(); }  // proc_'s destructor kills and reaps a live child

void ProcessActor::pre_start() {
  trap_exit(true);  // a shutdown from the supervisor becomes a graceful stop (on_exit)
  if (!opts_.system) throw std::invalid_argument("ProcessOptions::system is not set");
  // Its own process group (unless it gets a session, which is one too), so
  // stopping it also stops what it started.
  osl::process::Options spawn = opts_.spawn;
  if (!spawn.new_session) spawn.new_process_group = true;
  auto p = opts_.system->run(opts_.principal, osl::process::Spawn{opts_.argv, std::move(spawn)});
  if (!p) throw std::runtime_error(p.error().to_string());
  proc_.emplace(std::move(*p));
  pid_ = proc_->pid();
  // The callback runs on the watcher thread. It hands the exit to the actor
  // as a system message (the path schedule() and timers use), not a mailbox
  // message: a bounded mailbox that is full must neither lose the exit
  // (fail / drop: the actor would never stop and the child stay a zombie)
  // nor stall the one watcher thread every ProcessActor shares (block).
  // `this` is safe in the invoke: it runs only while the cell holds this
  // actor object, and reaped() ignores a watch id that is not its own.
  auto id = detail::PidfdWatcher::instance().watch(
      proc_->pidfd(), [cell = self_any().cell(), this](std::uint64_t watch_id) {
        cell->enqueue_system(rt::detail::SysMsg{rt::detail::SysMsg::Kind::invoke, 0, rt::ExitReason::normal,
                                                [this, watch_id] { reaped(watch_id); }});
      });
  if (!id) throw std::runtime_error(id.error().to_string());  // proc_ is killed and reaped with the actor
  watch_id_ = *id;
}

void ProcessActor::unwatch() noexcept {
  if (watch_id_ != 0) detail::PidfdWatcher::instance().unwatch(watch_id_);
  watch_id_ = 0;
}

void ProcessActor::reaped(std::uint64_t watch_id) {
  if (watch_id != watch_id_ || !proc_) return;  // stale
  // The leader has exited but is not reaped yet, so its group id cannot have
  // been reused: clear away whatever it left running in its group.
  (void)proc_->kill_group();
  auto st = proc_->try_wait();
  if (!st) throw std::runtime_error("reaping process " + std::to_string(pid_) + ": " + st.error().to_string());
  if (!*st) return;  // not exited after all (cannot happen with a pidfd; harmless)
  watch_id_ = 0;     // the watcher dropped it when it fired
  const osl::process::ExitStatus status = **st;
  proc_.reset();
  const pid_t pid = std::exchange(pid_, 0);
  if (opts_.listener.valid()) (void)opts_.listener.tell(ProcessExited{pid, status, stopping_});
  if (stopping_) {
    stop(stop_reason_);
    return;
  }
  if (status.code && *status.code == 0) {
    stop(rt::ExitReason::normal);
    return;
  }
  throw std::runtime_error(describe(pid, opts_.argv, status));  // fail: the supervisor decides
}

std::expected<void, osl::Error> ProcessActor::handle(SignalProcess& m) {
  if (!proc_) return std::unexpected(osl::Error::make(osl::ErrorCategory::not_found, "the process has exited"));
  return proc_->signal(m.signo);
}

ProcessInfo ProcessActor::handle(GetProcessInfo&) { return ProcessInfo{pid_, proc_.has_value()}; }

void ProcessActor::on_exit(const rt::ExitSignal& s) {
  // OTP: a normal exit of a linked actor other than the parent is ignored.
  if (s.reason == rt::ExitReason::normal && s.from != 0) return;
  begin_stop(s.reason == rt::ExitReason::normal ? rt::ExitReason::shutdown : s.reason);
}

// Graceful stop: stop_signal now, SIGKILL after kill_after; reaped() of the
// exit then stops the actor with `reason`.
void ProcessActor::begin_stop(rt::ExitReason reason) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = reason;
  if (!proc_) {
    stop(reason);
    return;
  }
  if (!signal_group(opts_.stop_signal)) kill_group();
  const std::uint64_t id = watch_id_;
  schedule(opts_.kill_after, [this, id] {
    if (proc_ && watch_id_ == id) kill_group();
  });
}

// The process's group first (its leader too); the process alone if the group
// signal fails (e.g. the caller's spawn options made it leave the group).
bool ProcessActor::signal_group(int signo) {
  return proc_->signal_group(signo).has_value() || proc_->signal(signo).has_value();
}
void ProcessActor::kill_group() {
  if (!proc_->kill_group()) (void)proc_->kill();
}

void ProcessActor::post_stop() {
  unwatch();
  if (proc_) {
    // Killed outright or failed while the process runs: neither it nor its
    // group may outlive the actor. Through osl first (audited); the handle's
    // destructor SIGKILLs and reaps the process itself in any case.
    kill_group();
    proc_.reset();
  }
}

rt::ChildSpec process_spec(std::string id, rt::Restart restart, ProcessOptions opts) {
  // Every restart spawns with a copy of these options, minutes later maybe,
  // when fd N may be another file (osl reads the numbers on each run and
  // hands on whatever holds them then).
  if (!opts.spawn.keep_fds.empty() && restart != rt::Restart::temporary) {
    throw std::invalid_argument("process_spec '" + id + "': spawn.keep_fds (fd " +
                                std::to_string(opts.spawn.keep_fds.front()) +
                                ") needs rt::Restart::temporary: a restart would hand on whatever holds that fd "
                                "number by then, not the file it names now");
  }
  rt::ChildSpec s = rt::worker_spec<ProcessActor>(std::move(id), restart, opts);
  s.shutdown = rt::Shutdown::after(opts.kill_after + std::chrono::seconds(1));
  return s;
}

}  // namespace airssys::rt_osl
