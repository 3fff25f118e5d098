// airssys-osl exec — run a program through process.spawn and pass on its exit code.

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/osl/duration.hpp>
#include <airssys/osl/keep_fd_option.hpp>

#include "common.hpp"

namespace airssys::osl::cli {

namespace {

struct ExecOptions {
  CommonOptions common;
  std::vector<std::string> argv;
  std::string timeout;
  std::vector<std::string> env;
  bool clear_env = false;
  std::string cwd;
  bool sandbox = false;
  std::vector<std::string> keep_fds;  // --keep-fd as typed (parse_keep_fd_option): handed on under the same numbers
};

// Signals we pass on to the child instead of dying from them.
constexpr std::array kForwarded = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};

// Blocks the forwarded signals and reads them from a signalfd; restores the
// mask when destroyed. The child starts with an empty mask (spawn resets it).
class SignalCatcher {
 public:
  SignalCatcher() {
    sigset_t set;
    sigemptyset(&set);
    for (const int s : kForwarded) sigaddset(&set, s);
    if (::sigprocmask(SIG_BLOCK, &set, &old_) == 0) {
      blocked_ = true;
      fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    }
  }
  ~SignalCatcher() {
    if (blocked_) ::sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalCatcher(const SignalCatcher&) = delete;
  SignalCatcher& operator=(const SignalCatcher&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  sigset_t old_{};
  bool blocked_ = false;
  UniqueFd fd_;
};

int spawn_failure_code(const Error& e) {
  switch (e.category) {
    case ErrorCategory::not_found: return kExitNotFound;
    default: return kExitDenied;  // denied, or found but could not be started
  }
}

// Waits for the child, forwarding signals sent to us with kill(2). Signals
// from the terminal (Ctrl-C) already reach the child through its process
// group, so they are not sent twice. Returns the exit code for airssys-osl.
int supervise(process::Process& proc, const SignalCatcher& signals,
              std::optional<std::chrono::steady_clock::time_point> deadline, const std::string& program,
              const std::string& timeout_text) {
  using Clock = std::chrono::steady_clock;
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
    }
    std::array<pollfd, 2> fds{{{proc.pidfd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}}};
    const int r = ::poll(fds.data(), signals.fd() >= 0 ? 2 : 1, wait_ms);
    if (r < 0 && errno != EINTR) break;  // let wait() below report the state
    if (r > 0 && (fds[1].revents & POLLIN)) {
      signalfd_siginfo si{};
      while (::read(signals.fd(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        const int signo = static_cast<int>(si.ssi_signo);
        if (si.ssi_code == SI_KERNEL) continue;  // from the terminal: the child has it too
        if (auto f = proc.signal(signo); !f && f.error().category != ErrorCategory::not_found) {
          detail::print_stderr("airssys-osl: cannot pass SIG{} on to {} ({}); killing it\n", sigabbrev_np(signo),
                               detail::shown_path(program),
                               f.error().to_string());
          return 128 + signo;  // the Process handle kills and reaps the child
        }
      }
    }
    if ((r > 0 && fds[0].revents != 0) || (deadline && Clock::now() >= *deadline)) break;
  }
  auto status = proc.wait();
  if (!status) {
    print_error(status.error());
    return kExitInternal;
  }
  if (status->timed_out) {
    detail::print_stderr("airssys-osl: {} timed out after {} and was killed\n", detail::shown_path(program),
                         timeout_text);
    return kExitTimeout;
  }
  return status->shell_code();
}

int run_exec(const ExecOptions& o) {
  // First, before this process opens anything: an fd of our own (the policy,
  // the audit log) must not pass for a --keep-fd the caller left closed.
  const auto keep_fds = process::parse_keep_fd_option(o.keep_fds);
  if (!keep_fds) {
    detail::print_stderr("airssys-osl: {}\n", keep_fds.error().message);
    return kExitUsage;
  }
  if (auto kept = process::check_keep_fd_option(
          *keep_fds, {.child = "the program's", .set_by = "exec", .program = "airssys-osl"});
      !kept) {
    detail::print_stderr("airssys-osl: {}\n", kept.error().message);
    return kExitUsage;
  }
  if (o.sandbox && !o.keep_fds.empty()) {
    detail::print_stderr("airssys-osl: --keep-fd cannot be combined with --sandbox: an open fd would carry access past "
                         "the Landlock ruleset\n");
    return kExitUsage;
  }
  std::optional<std::chrono::milliseconds> timeout;
  if (!o.timeout.empty()) {
    // Accepted forms as before: a bare number is seconds, fractions pass
    // ("1.5s"), at most a year; zero is refused (leave it out for none).
    auto parsed = parse_duration(o.timeout, {.what = "--timeout",
                                             .allow_fraction = true,
                                             .max = std::chrono::milliseconds(365LL * 86'400'000)});
    if (!parsed) {
      detail::print_stderr("airssys-osl: {}\n", parsed.error().message);
      return kExitUsage;
    }
    timeout = *parsed;
  }
  for (const auto& kv : o.env) {
    if (kv.find('=') == std::string::npos || kv.front() == '=') {
      detail::print_stderr("airssys-osl: --env '{}': expected KEY=VALUE\n", detail::shown_text(kv));
      return kExitUsage;
    }
  }
  // Policy and sinks are opened while SIGINT/SIGTERM still work (a path
  // that blocks there can be interrupted). The forwarded signals are blocked
  // before the System starts its audit writer thread, so every thread
  // inherits the mask and none can die from them.
  auto options = make_system_options(o.common);
  if (!options) return options.error();
  const SignalCatcher signals;
  std::optional<System> system;
  system.emplace(std::move(*options));

  // The library drops these silently (recording their names); here the
  // person who typed them is told.
  const auto env_allowed = system->policy().env_allowlist(o.common.principal);
  for (const auto& kv : o.env) {
    const std::string name = kv.substr(0, kv.find('='));
    if (is_loader_variable(name) && std::find(env_allowed.begin(), env_allowed.end(), name) == env_allowed.end()) {
      detail::print_stderr(
          "airssys-osl: warning: --env {} is not passed on: the policy does not name this dynamic-loader "
          "variable in the env list of '{}'\n",
          detail::shown_text(name), detail::shown_text(o.common.principal));
    }
  }

  process::Spawn spawn;
  spawn.argv = o.argv;
  spawn.options.stdin_ = process::Stdio::inherit();
  spawn.options.stdout_ = process::Stdio::inherit();
  spawn.options.stderr_ = process::Stdio::inherit();
  if (o.clear_env) spawn.options.env = std::vector<std::string>{};
  spawn.options.extra_env = o.env;
  spawn.options.cwd = o.cwd;
  spawn.options.deadline = timeout;
  spawn.options.keep_fds = *keep_fds;
  if (o.sandbox) {
    spawn.options.sandbox.no_new_privs = true;
    spawn.options.sandbox.landlock = true;
  }

  auto proc = system->run(o.common.principal, spawn);
  if (!proc) {
    print_error(proc.error());
    return finish(*system, spawn_failure_code(proc.error()));
  }
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (timeout) deadline = std::chrono::steady_clock::now() + *timeout;
  const int code = supervise(*proc, signals, deadline, o.argv.front(), o.timeout);
  return finish(*system, code);
}

}  // namespace

void add_exec_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ExecOptions>();
  CLI::App* exec = app.add_subcommand(
      "exec",
      "run PROGRAM through process.spawn (stdin/stdout/stderr inherited) and exit with its exit code");
  add_common_options(*exec, o->common);
  exec->add_option("--timeout", o->timeout, "kill the program after DUR (30, 1.5s, 500ms, 2m, 1h); exit 124");
  exec->add_option("--env", o->env, "set KEY=VALUE in the program's environment (repeatable)");
  exec->add_flag("--clear-env", o->clear_env, "start from an empty environment (then add --env entries)");
  exec->add_option("--cwd", o->cwd, "working directory of the program");
  exec->add_flag("--sandbox", o->sandbox,
                 "no_new_privs + a Landlock ruleset derived from the policy's allow rules for the principal");
  exec->add_option("--keep-fd", o->keep_fds,
                   "an fd above 2 the program gets open under the same number, e.g. a lock: ( flock 9; airssys-osl "
                   "exec --keep-fd 9 ... ) 9>lock (repeatable; not with --sandbox)")
      ->allow_extra_args(false);
  exec->add_option("PROGRAM", o->argv, "program (path, or a name searched in PATH) and its arguments, after --")
      ->required();
  exec->callback([o, &exit_code] { exit_code = run_exec(*o); });
}

}  // namespace airssys::osl::cli
