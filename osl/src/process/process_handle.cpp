#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <cerrno>
#include <csignal>

#include <fmt/format.h>

#include "core/core.hpp"
#include "process/process_state.hpp"

namespace airssys::osl::process {

namespace {
using Clock = std::chrono::steady_clock;

ExitStatus status_of(const siginfo_t& info) {
  ExitStatus s;
  if (info.si_code == CLD_EXITED) {
    s.code = info.si_status;
  } else {
    s.signal = info.si_status;
  }
  return s;
}

// Reaps the child if it has exited (blocking when `block`). Returns true once reaped.
std::expected<bool, Error> reap(Process::State& st, bool block) {
  if (st.status) return true;
  siginfo_t info{};
  for (;;) {
    const int r = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(st.pidfd.get()), &info,
                           WEXITED | (block ? 0 : WNOHANG));
    if (r == 0) break;
    if (errno == EINTR) continue;
    return std::unexpected(Error::from_errno(errno, fmt::format("waiting for pid {}", st.pid)));
  }
  if (info.si_pid == 0) return false;  // WNOHANG and still running
  st.status = status_of(info);
  st.slot.release();
  return true;
}

// Milliseconds to pass to poll(): until the earlier of `until` and the deadline; -1 = forever.
int poll_timeout(const Process::State& st, std::optional<Clock::time_point> until) {
  std::optional<Clock::time_point> t = until;
  if (st.deadline && (!t || *st.deadline < *t)) t = st.deadline;
  if (!t) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*t - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// SIGKILL sent by the handle itself (deadline, dropped handle): audited as a
// process.kill by the spawning principal, detail.reason saying why. Not
// asked of the policy: the spawn it allowed implies ending the child.
void implied_kill(Process::State& st, std::string_view reason) {
  detail::Request req{.kind = OpKind::process_kill,
                      .checks = {detail::Check{OpKind::process_kill, {st.program}, {}}},
                      .detail_json = fmt::format(R"({{"pid":{},"signal":{},"reason":"{}"}})", st.pid, SIGKILL, reason)};
  (void)st.core->implied<Done>(st.principal, std::move(req), [&](std::uint64_t) -> std::expected<Done, Error> {
    if (auto s = detail::send_signal(st.pidfd.get(), SIGKILL, st.program); !s) return std::unexpected(s.error());
    return Done{};
  });
}

std::expected<ExitStatus, Error> kill_for_deadline(Process::State& st) {
  // It may have exited just now: then it is reaped, not killed (and the
  // deadline still reports timed_out, as the caller's clock says).
  if (auto done = reap(st, false); !done || !*done) implied_kill(st, "deadline");
  auto r = reap(st, true);
  if (!r) return std::unexpected(r.error());
  st.status->timed_out = true;
  return *st.status;
}

// write(2) to a pipe whose reader is gone raises SIGPIPE, which would kill
// the host process; block it for this thread and consume it if raised.
ssize_t write_without_sigpipe(int fd, std::string_view data) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  const ssize_t w = ::write(fd, data.data(), data.size());
  const int err = errno;
  if (w < 0 && err == EPIPE && !already_pending) {
    const timespec zero{0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return w;
}

bool deadline_passed(const Process::State& st) { return st.deadline && Clock::now() >= *st.deadline; }

}  // namespace

Process::Process(std::unique_ptr<State> s) : state_(std::move(s)) {}
Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    Process old(std::move(*this));  // kills/reaps our current child, if any
    state_ = std::move(o.state_);
  }
  return *this;
}

Process::~Process() {
  if (!state_ || state_->detached || state_->status) return;
  // The owner dropped a running child: end it rather than leak it. One that
  // has already exited is only reaped (no kill, no record).
  if (auto done = reap(*state_, false); done && *done) return;
  implied_kill(*state_, "handle_destroyed");
  (void)reap(*state_, true);
}

pid_t Process::pid() const noexcept { return state_ ? state_->pid : 0; }
int Process::pidfd() const noexcept { return state_ ? state_->pidfd.get() : -1; }

std::expected<ExitStatus, Error> Process::wait(std::optional<std::chrono::milliseconds> timeout) {
  if (!state_) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "empty process handle"));
  State& st = *state_;
  if (st.status) return *st.status;
  const std::optional<Clock::time_point> until =
      timeout ? std::optional<Clock::time_point>(Clock::now() + *timeout) : std::nullopt;
  for (;;) {
    auto done = reap(st, false);
    if (!done) return std::unexpected(done.error());
    if (*done) return *st.status;
    if (deadline_passed(st)) return kill_for_deadline(st);
    if (until && Clock::now() >= *until) {
      return std::unexpected(Error::make(ErrorCategory::timeout,
                                         fmt::format("pid {} still running after {} ms", st.pid, timeout->count())));
    }
    pollfd p{st.pidfd.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, poll_timeout(st, until));
    if (r < 0 && errno != EINTR) return std::unexpected(Error::from_errno(errno, "poll pidfd"));
  }
}

std::expected<std::optional<ExitStatus>, Error> Process::try_wait() {
  if (!state_) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "empty process handle"));
  auto done = reap(*state_, false);
  if (!done) return std::unexpected(done.error());
  if (*done) return state_->status;
  if (deadline_passed(*state_)) return kill_for_deadline(*state_);
  return std::optional<ExitStatus>{};
}

std::expected<Output, Error> Process::communicate(std::string_view input) {
  if (!state_) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "empty process handle"));
  State& st = *state_;
  Output out;
  std::size_t in_off = 0;
  if (st.stdin_fd && input.empty()) st.stdin_fd.reset();
  if (st.stdin_fd) ::fcntl(st.stdin_fd.get(), F_SETFL, ::fcntl(st.stdin_fd.get(), F_GETFL) | O_NONBLOCK);
  char buf[65536];
  while (st.stdin_fd || st.stdout_fd || st.stderr_fd) {
    if (deadline_passed(st)) {
      auto s = kill_for_deadline(st);
      if (!s) return std::unexpected(s.error());
      out.status = *s;
      st.stdin_fd.reset();
      st.stdout_fd.reset();
      st.stderr_fd.reset();
      return out;
    }
    pollfd fds[3];
    int n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (st.stdin_fd) { idx_in = n; fds[n++] = {st.stdin_fd.get(), POLLOUT, 0}; }
    if (st.stdout_fd) { idx_out = n; fds[n++] = {st.stdout_fd.get(), POLLIN, 0}; }
    if (st.stderr_fd) { idx_err = n; fds[n++] = {st.stderr_fd.get(), POLLIN, 0}; }
    const int r = ::poll(fds, static_cast<nfds_t>(n), poll_timeout(st, std::nullopt));
    if (r < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno(errno, "poll child pipes"));
    }
    if (idx_in >= 0 && fds[idx_in].revents) {
      const ssize_t w = write_without_sigpipe(st.stdin_fd.get(), input.substr(in_off));
      if (w < 0 && errno != EAGAIN && errno != EINTR) {
        st.stdin_fd.reset();  // EPIPE: the child closed its stdin
      } else if (w > 0) {
        in_off += static_cast<std::size_t>(w);
        if (in_off == input.size()) st.stdin_fd.reset();
      }
    }
    auto drain = [&](int idx, UniqueFd& fd, std::string& dst) {
      if (idx < 0 || fds[idx].revents == 0) return;
      const ssize_t got = ::read(fd.get(), buf, sizeof buf);
      if (got > 0) {
        dst.append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    };
    drain(idx_out, st.stdout_fd, out.out);
    drain(idx_err, st.stderr_fd, out.err);
  }
  auto s = wait();
  if (!s) return std::unexpected(s.error());
  out.status = *s;
  return out;
}

namespace {
// `group`: the whole process group (kill(-pgid), which cannot go through a
// pidfd). That is safe only while the leader is unreaped: until then no new
// process or group can get its id.
std::expected<void, Error> signal_through_pipeline(Process::State& st, OpKind kind, int signo, bool group = false) {
  if (st.status) {
    return std::unexpected(Error{ErrorCategory::not_found, ESRCH, 0,
                                 group ? fmt::format("pid {} has already been reaped: its process group id may be reused", st.pid)
                                       : fmt::format("pid {} has already exited", st.pid)});
  }
  if (group && !st.group_leader) {
    return std::unexpected(Error::make(
        ErrorCategory::invalid_argument,
        fmt::format("pid {} does not lead a process group (spawn it with new_process_group or new_session)", st.pid)));
  }
  detail::Request req{.kind = kind,
                      .checks = {detail::Check{kind, {st.program}, {}}},
                      .detail_json = fmt::format(R"({{"{}":{},"signal":{}}})", group ? "pgid" : "pid", st.pid, signo)};
  auto r = st.core->pipeline<Done>(st.principal, std::move(req), [&](std::uint64_t) -> std::expected<Done, Error> {
    if (!group) {
      if (auto s = detail::send_signal(st.pidfd.get(), signo, st.program); !s) return std::unexpected(s.error());
    } else if (::kill(-st.pid, signo) != 0) {
      const int err = errno;
      if (err == ESRCH)
        return std::unexpected(Error{ErrorCategory::not_found, err, 0, fmt::format("process group {} is empty", st.pid)});
      return std::unexpected(Error::from_errno(err, fmt::format("signal {} to process group {}", signo, st.pid)));
    }
    return Done{};
  });
  if (!r) return std::unexpected(r.error());
  return {};
}
}  // namespace

std::expected<void, Error> Process::signal(int signo) {
  if (!state_) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "empty process handle"));
  return signal_through_pipeline(*state_, OpKind::process_signal, signo);
}

std::expected<void, Error> Process::kill() {
  if (!state_) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "empty process handle"));
  return signal_through_pipeline(*state_, OpKind::process_kill, SIGKILL);
}

std::expected<void, Error> Process::signal_group(int signo) {
  if (!state_) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "empty process handle"));
  return signal_through_pipeline(*state_, OpKind::process_signal, signo, true);
}

std::expected<void, Error> Process::kill_group() {
  if (!state_) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "empty process handle"));
  return signal_through_pipeline(*state_, OpKind::process_kill, SIGKILL, true);
}

UniqueFd Process::take_stdin() noexcept { return state_ ? std::move(state_->stdin_fd) : UniqueFd{}; }
UniqueFd Process::take_stdout() noexcept { return state_ ? std::move(state_->stdout_fd) : UniqueFd{}; }
UniqueFd Process::take_stderr() noexcept { return state_ ? std::move(state_->stderr_fd) : UniqueFd{}; }

void Process::detach() noexcept {
  if (!state_) return;
  state_->detached = true;
  state_->slot.release();
}

}  // namespace airssys::osl::process
