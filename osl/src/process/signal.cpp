// Signals through pidfds, and process.signal / process.kill for any target.

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>

#include <fmt/format.h>

#include <airssys/osl/proc.hpp>

#include "core/core.hpp"
#include "process/process_state.hpp"

namespace airssys::osl {

namespace detail {

std::expected<void, Error> send_signal(int pidfd, int signo, std::string_view what) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0) != 0) {
    const int err = errno;
    if (err == ESRCH) return std::unexpected(Error{ErrorCategory::not_found, err, 0, fmt::format("{}: process has exited", what)});
    return std::unexpected(Error::from_errno(err, fmt::format("signal {} to {}", signo, what)));
  }
  return {};
}

std::string executable_of(pid_t pid) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink(fmt::format("/proc/{}/exe", pid), ec);
  return ec ? std::string() : p.string();
}

std::expected<UniqueFd, Error> open_target(const process::Target& target) {
  if (target.pid <= 0) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("invalid pid {}", target.pid)));
  }
  const long fd = ::syscall(SYS_pidfd_open, target.pid, 0);
  if (fd < 0) {
    const int err = errno;
    if (err == ESRCH) return std::unexpected(Error{ErrorCategory::not_found, err, 0, fmt::format("no process with pid {}", target.pid)});
    return std::unexpected(Error::from_errno(err, fmt::format("pidfd_open {}", target.pid)));
  }
  UniqueFd pidfd(static_cast<int>(fd));
  if (target.start_time) {
    auto st = process::start_time_of(target.pid);
    // Read after pidfd_open, then confirm the pidfd's process is still alive:
    // if it is, the /proc entry we read was that process, not a successor.
    pollfd p{pidfd.get(), POLLIN, 0};
    const bool exited = ::poll(&p, 1, 0) > 0;
    if (!st || exited || *st != *target.start_time) {
      return std::unexpected(Error{ErrorCategory::not_found, ESRCH, 0,
                                   fmt::format("pid {} is no longer the expected process (start time {} expected)",
                                               target.pid, *target.start_time)});
    }
  }
  return pidfd;
}

}  // namespace detail

namespace process {

std::expected<std::uint64_t, Error> start_time_of(pid_t pid) {
  auto st = proc::read_stat(pid);
  if (!st) return std::unexpected(std::move(st.error()));
  return st->starttime;
}

}  // namespace process

namespace {
std::expected<Done, Error> signal_target(detail::Core& core, std::string_view principal, OpKind kind,
                                         const process::Target& target, int signo) {
  auto pidfd = detail::open_target(target);
  std::string exe = pidfd ? detail::executable_of(target.pid) : std::string();
  // A program replaced on disk reads as "/usr/sbin/x (deleted)": the policy
  // sees the path, with the raw text as alias (a deny on either wins).
  std::string alias;
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.ends_with(kDeleted)) {
    alias = exe;
    exe.resize(exe.size() - kDeleted.size());
  }
  std::optional<Error> invalid;
  if (signo < 0 || signo > 64) {
    invalid = Error::make(ErrorCategory::invalid_argument, fmt::format("invalid signal number {}", signo));
  } else if (!pidfd) {
    invalid = pidfd.error();
  } else if (exe.empty()) {
    // Without the target's program there is nothing a deny rule could match:
    // refuse rather than decide on a placeholder.
    invalid = Error{ErrorCategory::permission, EACCES, 0,
                    fmt::format("cannot read /proc/{}/exe, so the policy cannot be applied to it", target.pid)};
  }
  if (exe.empty()) exe = fmt::format("pid:{}", target.pid);
  // A missing or recycled target is reported as such whatever the policy
  // says: process existence is public (/proc) and the caller must know.
  detail::Request req{.kind = kind,
                      .checks = {detail::Check{kind, {exe}, {alias}}},
                      .invalid = invalid,
                      .detail_json = fmt::format(R"({{"pid":{},"signal":{}}})", target.pid, signo)};
  return core.pipeline<Done>(principal, std::move(req), [&](std::uint64_t) -> std::expected<Done, Error> {
    if (auto r = detail::send_signal(pidfd->get(), signo, exe); !r) return std::unexpected(r.error());
    return Done{};
  });
}
}  // namespace

std::expected<Done, Error> System::run(std::string_view principal, const process::Signal& op) {
  return signal_target(*core_, principal, OpKind::process_signal, op.target, op.signo);
}

std::expected<Done, Error> System::run(std::string_view principal, const process::Kill& op) {
  return signal_target(*core_, principal, OpKind::process_kill, op.target, SIGKILL);
}

}  // namespace airssys::osl
