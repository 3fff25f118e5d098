// task-watchdog — run tasks with deadlines; when one overruns, all of it dies.
// Usage and exit codes: docs/task-watchdog.md (and --help).

#include "commands.hpp"
#include "crypto_init.hpp"
#include "exit_status.hpp"

#include <airssys/osl/detail/cli_parse_error.hpp>
#include <airssys/osl/detail/empty_option_value.hpp>
#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/detail/standard_fds.hpp>
#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/osl/detail/stdout_flush.hpp>
#include <airssys/osl/keep_fd_option.hpp>
#include <airssys/watchdog/daemon.hpp>
#include <airssys/watchdog/audit.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/runner.hpp>
#include <airssys/watchdog/units.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <stdio_ext.h>

#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace wd = airssys::watchdog;

namespace {

// Set once `start` or `register` has a task running: its exit status then
// says so (0), even if printing the id failed (main warns instead).
bool g_task_running = false;

// The exit status when task-watchdog itself fails (an unexpected
// std::system_error, output it could not write): 125 under `start --wait`,
// where 1 would read as the task's own exit code (timeout(1)'s convention).
int g_own_failure = 1;

// The id a background `start` or `register` prints once its task runs. A
// reader that went away must not turn that success into death by SIGPIPE
// (141): the write fails with EPIPE instead, and main warns and keeps 0.
void print_id_of_running_task(const std::string& id) {
  std::signal(SIGPIPE, SIG_IGN);
  fmt::print("{}\n", id);
}

constexpr const char* kExitCodes = R"(Exit codes:
  0    success (start: the task is running; status: the task is known)
  1    failure (I/O, system call, a kill that left processes behind)
  2    usage error (bad option, id, duration or size)
  3    no task with that id
  4    the registry is corrupt or unreadable (it is left untouched)
  5    a task with that id is already running (run: another daemon sweeps
       this registry)
  6    the task could not be started (policy, program, cgroup)
  7    the recorded process is gone or its PID now belongs to another process
       (register: no such process)
 start --wait (like timeout(1)):
  N    the task's exit code; 128+S when signal S ended it
  124  the deadline killed the task
  125  task-watchdog itself failed
  126  the program could not be executed
  127  the program was not found)";

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"task-watchdog: run tasks with deadlines; when one overruns, all of it dies."};
  app.footer(kExitCodes);
  // AIRSSYS_VERSION: the CMake project version (cmake/AirssysInstall.cmake).
  app.set_version_flag("--version", "task-watchdog " AIRSSYS_VERSION);
  app.require_subcommand(1);
  std::string registry_opt;
  app.add_option("--registry", registry_opt, "registry file (default $TASK_WATCHDOG_REGISTRY, else ./.task-watchdog/registry.json)");
  std::string audit_ledger;
  app.add_option("--audit-ledger", audit_ledger,
                 "also append the audit trail (every spawn, signal, kill and cgroup operation) to this airssys-ledger "
                 "directory (created if missing), beside <registry dir>/audit.jsonl");
  app.fallthrough();

  wd::StartRequest req;
  std::string timeout_text, idle_text, grace_text = "10s", cwd_text, policy_text, memory_text, cpus_text, pids_text;
  auto* start = app.add_subcommand("start", "start a task in the background (or in the foreground with --wait)");
  start->add_option("--id", req.id, "task id: 1-64 of A-Z a-z 0-9 _ -, not starting with -")->required();
  start->add_option("--timeout", timeout_text, "deadline after the start, e.g. 90s, 15m, 2h, 500ms");
  start->add_option("--idle-timeout", idle_text, "kill the task when its stdout and stderr stay silent this long");
  start->add_option("--grace", grace_text, "time between SIGTERM and SIGKILL (default 10s)");
  start->add_option("--memory", memory_text, "memory limit of the whole task (cgroup), e.g. 512M, 2G");
  start->add_option("--cpus", cpus_text, "CPU limit in CPUs (cgroup quota), e.g. 0.5, 2");
  start->add_option("--pids", pids_text, "limit on the number of processes and threads of the task (cgroup)");
  start->add_option("--cwd", cwd_text, "working directory of the task");
  start->add_option("--env", req.env, "K=V added to the task's environment (repeatable)")->allow_extra_args(false);
  start->add_option("--policy", policy_text, "airssys-osl policy file (default: the built-in policy)");
  start->add_option("--container", req.container,
                    "run the task in a container of IMAGE via the Docker Engine API at $DOCKER_HOST "
                    "(default unix:///var/run/docker.sock)");
  // As typed: osl's parse_keep_fd_option reads them (decimal digits only) into req.keep_fds.
  std::vector<std::string> keep_fd_words;
  start->add_option("--keep-fd", keep_fd_words,
                    "an fd above 2 the task gets open under the same number, e.g. a lock: ( flock 9; task-watchdog start "
                    "--keep-fd 9 ... ) 9>lock (repeatable)")
      ->allow_extra_args(false);
  start->add_flag("--wait", req.wait, "stay in the foreground like timeout(1); exit 124 on the deadline");
  start->add_option("command", req.argv, "-- PROGRAM ARGS...")->required();

  wd::RegisterRequest reg_req;
  std::string reg_timeout, reg_grace = "10s", reg_policy;
  auto* regcmd = app.add_subcommand("register", "adopt a running process; its deadline is enforced by a monitor");
  regcmd->add_option("id", reg_req.id, "task id: 1-64 of A-Z a-z 0-9 _ -, not starting with -")->required();
  regcmd->add_option("--pid", reg_req.pid, "the process to adopt")->required();
  regcmd->add_option("--timeout", reg_timeout, "deadline from now, e.g. 90s, 15m, 2h");
  regcmd->add_option("--grace", reg_grace, "time between SIGTERM and SIGKILL (default 10s)");
  regcmd->add_option("--policy", reg_policy, "airssys-osl policy file (default: the built-in policy)");

  bool list_json = false;
  auto* list = app.add_subcommand("list", "list the tasks of the registry");
  list->add_flag("--json", list_json, "one JSON array");

  std::string id;
  bool status_json_flag = false;
  auto* status = app.add_subcommand("status", "show one task (alias: check)");
  status->alias("check");
  status->add_option("id", id, "task id")->required();
  status->add_flag("--json", status_json_flag, "one JSON object");

  std::string kill_grace, kill_policy, kill_sigkill_wait;
  auto* kill = app.add_subcommand("kill", "kill every process of a task: SIGTERM, grace, SIGKILL, verify");
  kill->add_option("id", id, "task id")->required();
  kill->add_option("--grace", kill_grace, "time between SIGTERM and SIGKILL (default: the task's)");
  kill->add_option("--policy", kill_policy, "airssys-osl policy file (default: the built-in policy)");
  kill->add_option("--sigkill-wait", kill_sigkill_wait, "how long SIGKILL is retried on survivors before they are reported (default 15s)");

  bool follow = false;
  auto* logs = app.add_subcommand("logs", "print the task's stdout log (to stdout) and stderr log (to stderr)");
  logs->add_option("id", id, "task id")->required();
  logs->add_flag("--follow,-f", follow, "keep printing new output until the task ends");

  bool rehydrate_json = false, stats_json = false;
  auto* rehydrate = app.add_subcommand("rehydrate", "a compact summary of the live tasks, for someone resuming work");
  rehydrate->add_flag("--json", rehydrate_json, "one JSON object");
  auto* stats = app.add_subcommand("stats", "counts of tasks by state, mean duration, leftovers killed");
  stats->add_flag("--json", stats_json, "one JSON object");

  bool report_json = false;
  auto* reportcmd = app.add_subcommand("report", "a summary: tasks by state, the longest running, recent failures");
  reportcmd->add_flag("--json", report_json, "one JSON object");

  std::string interval_text = "5s", run_policy, run_sigkill_wait;
  auto* runcmd = app.add_subcommand("run", "the optional daemon: enforces deadlines of tasks whose monitor died, marks "
                                           "ended tasks, removes stale cgroups; stops on SIGTERM/SIGINT");
  runcmd->add_option("--interval", interval_text, "time between sweeps (default 5s)");
  runcmd->add_option("--policy", run_policy, "airssys-osl policy file (default: the built-in policy)");
  runcmd->add_option("--sigkill-wait", run_sigkill_wait, "how long SIGKILL is retried on survivors before the sweep moves on (default 15s)");

  std::string older_than;
  auto* cleanup = app.add_subcommand("cleanup", "remove ended tasks (and their logs) from the registry");
  cleanup->add_option("--older-than", older_than, "only tasks that ended at least this long ago, e.g. 7d");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = airssys::osl::detail::exit_for_parse_error(app, e);
    return rc == 0 ? 0 : wd::cli::exit_status(wd::ErrorCategory::usage);
  }
  if (*start && req.wait) g_own_failure = wd::kExitWatchdogFailed;
  // `--timeout "$T"` with T unset: '' is a mistake, not "no deadline" (nor,
  // for `cleanup --older-than ''`, "every ended task"). --env and --keep-fd
  // refuse '' with their own messages.
  if (const auto empty = airssys::osl::detail::first_empty_option_value(app, {"--env", "--keep-fd"})) {
    airssys::osl::detail::print_stderr("task-watchdog: {}: no value given (leave the option out for its default)\n", *empty);
    return *start && req.wait ? wd::kExitWatchdogFailed : wd::cli::exit_status(wd::ErrorCategory::usage);
  }

  // Before we open anything: an fd of our own must not pass for a --keep-fd
  // the caller left closed.
  if (*start) {
    const auto keep_fds_refused = [&]() -> std::optional<std::string> {
      auto fds = airssys::osl::process::parse_keep_fd_option(keep_fd_words);
      if (!fds) return fds.error().message;
      req.keep_fds = std::move(*fds);
      if (auto ok = wd::check_keep_fds(req.keep_fds); !ok) return ok.error().message;
      return std::nullopt;
    };
    if (const auto refused = keep_fds_refused()) {
      airssys::osl::detail::print_stderr("task-watchdog: {}\n", *refused);
      return req.wait ? wd::kExitWatchdogFailed : wd::cli::exit_status(wd::ErrorCategory::usage);
    }
  }
  const wd::Registry reg(wd::Registry::default_path(registry_opt));
  if (!audit_ledger.empty()) {
    if (auto ready = wd::cli::crypto_init(); !ready) {
      airssys::osl::detail::print_stderr("task-watchdog: --audit-ledger needs libcrypto (OpenSSL 3): {}\n", ready.error());
      return wd::cli::exit_status(wd::ErrorCategory::failure);
    }
    std::error_code ec;
    const auto dir = std::filesystem::absolute(audit_ledger, ec);  // monitors outlive this working directory
    wd::set_audit_ledger(ec ? std::filesystem::path(audit_ledger) : dir);
  }
  if (*start) {
    const int fail = req.wait ? wd::kExitWatchdogFailed : wd::cli::exit_status(wd::ErrorCategory::usage);
    auto usage = [&](const std::string& m) {
      airssys::osl::detail::print_stderr("task-watchdog: {}\n", m);
      return fail;
    };
    if (!wd::valid_task_id(req.id)) return usage(fmt::format("invalid task id '{}': use 1-64 of A-Z a-z 0-9 _ -, not starting with -", airssys::osl::detail::shown_text(req.id)));
    if (!timeout_text.empty()) {
      auto d = wd::parse_duration(timeout_text, "--timeout");
      if (!d) return usage(d.error().message);
      if (d->count() == 0) return usage("--timeout must be greater than 0 (leave it out for no deadline)");
      req.timeout = *d;
    }
    if (!idle_text.empty()) {
      auto d = wd::parse_duration(idle_text, "--idle-timeout");
      if (!d) return usage(d.error().message);
      if (d->count() == 0) return usage("--idle-timeout must be greater than 0");
      req.idle_timeout = *d;
    }
    auto g = wd::parse_duration(grace_text, "--grace");
    if (!g) return usage(g.error().message);
    req.grace = *g;
    auto limits = wd::parse_limits(memory_text, cpus_text, pids_text);
    if (!limits) return usage(limits.error().message);
    req.limits = *limits;
    for (const auto& e : req.env) {
      if (e.find('=') == std::string::npos || e.front() == '=') return usage(fmt::format("--env '{}': expected K=V", airssys::osl::detail::shown_text(e)));
    }
    req.cwd = cwd_text;
    req.policy_file = policy_text;
    auto started = wd::start_task(reg, req);
    if (!started) {
      airssys::osl::detail::print_stderr("task-watchdog: {}\n", started.error().message);
      return req.wait ? wd::cli::wait_exit_status(started.error().category) : wd::cli::exit_status(started.error().category);
    }
    g_task_running = !req.wait;
    if (!req.wait) print_id_of_running_task(req.id);
    return *started;
  }
  if (*regcmd) {
    auto usage = [&](const std::string& m) {
      airssys::osl::detail::print_stderr("task-watchdog: {}\n", m);
      return wd::cli::exit_status(wd::ErrorCategory::usage);
    };
    if (!wd::valid_task_id(reg_req.id)) return usage(fmt::format("invalid task id '{}': use 1-64 of A-Z a-z 0-9 _ -, not starting with -", airssys::osl::detail::shown_text(reg_req.id)));
    if (reg_req.pid <= 0) return usage("--pid must be a positive process id");
    if (!reg_timeout.empty()) {
      auto d = wd::parse_duration(reg_timeout, "--timeout");
      if (!d) return usage(d.error().message);
      if (d->count() == 0) return usage("--timeout must be greater than 0 (leave it out for no deadline)");
      reg_req.timeout = *d;
    }
    auto g = wd::parse_duration(reg_grace, "--grace");
    if (!g) return usage(g.error().message);
    reg_req.grace = *g;
    reg_req.policy_file = reg_policy;
    if (auto registered = wd::register_task(reg, reg_req); !registered) return wd::cli::report(registered.error());
    g_task_running = true;
    print_id_of_running_task(reg_req.id);
    return 0;
  }
  if (*list) return wd::cli::cmd_list(reg, list_json);
  if (*status) return wd::cli::cmd_status(reg, id, status_json_flag);
  if (*kill) return wd::cli::cmd_kill(reg, id, kill_grace, kill_policy, kill_sigkill_wait);
  if (*logs) return wd::cli::cmd_logs(reg, id, follow);
  if (*cleanup) return wd::cli::cmd_cleanup(reg, older_than);
  if (*rehydrate) return wd::cli::cmd_rehydrate(reg, rehydrate_json);
  if (*stats) return wd::cli::cmd_stats(reg, stats_json);
  if (*reportcmd) return wd::cli::cmd_report(reg, report_json);
  if (*runcmd) {
    auto d = wd::parse_duration(interval_text, "--interval");
    if (!d || d->count() < 10) {
      airssys::osl::detail::print_stderr("task-watchdog: {}\n", d ? "--interval must be at least 10ms" : d.error().message);
      return wd::cli::exit_status(wd::ErrorCategory::usage);
    }
    auto sigkill_wait = wd::cli::parse_sigkill_wait(run_sigkill_wait);
    if (!sigkill_wait) return wd::cli::report(sigkill_wait.error());
    // The daemon's log: one line per action, flushed at once (it usually goes
    // to a file or the journal). A line that cannot be written (a full disk,
    // a reader gone: SIGPIPE is ignored here) is dropped, with one warning on
    // stderr: the daemon goes on enforcing deadlines, and its exit status on
    // SIGTERM stays 0 (systemd would mark the unit failed otherwise).
    auto say = [warned = false](const std::string& line) mutable {
      std::optional<int> failed;
      try {
        fmt::print("task-watchdog run: {}\n", line);
        failed = airssys::osl::detail::stdout_flush_failure();
      } catch (const std::system_error& e) {
        failed = e.code().value();
      }
      if (!failed) return;
      __fpurge(stdout);  // the unwritten line must not be retried (and fail) at exit
      std::clearerr(stdout);
      // Cannot throw (`>/dev/full 2>&1`): fmt::print(stderr, ...) threw out
      // of run_daemon and main's catch, and the daemon aborted (134).
      if (!std::exchange(warned, true)) {
        airssys::osl::detail::print_stderr(
            "task-watchdog run: warning: writing the log to stdout: {} (lines that cannot be written are dropped)\n",
            airssys::osl::detail::write_failure_reason(*failed));
      }
    };
    if (auto ran = wd::run_daemon(reg, *d, run_policy, say, *sigkill_wait); !ran) return wd::cli::report(ran.error());
    return 0;
  }
  return 2;
}

// What a command prints must reach its reader: `status --json > out.json` on
// a full disk aborted (fmt throws std::system_error once its buffer fills,
// and nothing caught it: exit 134), or, when the output fit in the buffer,
// exited 0 with an empty file. Either is now 'writing the output: REASON'
// and exit 1 (`list`'s early path does the same, list_early.cpp). A task
// already running keeps its 0, with a warning. A reader that went away (`|
// head`) is not an error: SIGPIPE ends the command quietly, as it ends most
// Unix tools (docs/task-watchdog.md, "Exit codes"). The messages here cannot
// throw: stderr may fail too (`>/dev/full 2>&1`), and an exception from a
// catch handler aborts.
int main(int argc, char** argv) {
  // `task-watchdog list >&-`: the registry must not open as fd 1.
  if (!airssys::osl::detail::open_closed_standard_fds()) return 1;
  int status = 0;
  std::string failure;
  try {
    status = run_cli(argc, argv);
    if (const auto failed = airssys::osl::detail::stdout_flush_failure()) failure = airssys::osl::detail::write_failure_reason(*failed);
  } catch (const std::system_error& e) {
    if (std::ferror(stdout) == 0) {
      airssys::osl::detail::print_stderr("task-watchdog: {}\n", e.what());
      return g_own_failure;
    }
    failure = e.code().message();
  }
  if (failure.empty()) return status;
  if (g_task_running) {
    airssys::osl::detail::print_stderr("task-watchdog: warning: writing the output: {} (the task runs)\n", failure);
    return status;
  }
  airssys::osl::detail::print_stderr("task-watchdog: writing the output: {}\n", failure);
  return status == 0 ? g_own_failure : status;
}
