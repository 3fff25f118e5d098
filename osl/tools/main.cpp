// airssys-osl — run filesystem and process operations through the airssys-osl
// pipeline (policy check, activity log, executor) from the command line.
// Reference: docs/osl.md ("Command line").

#include <signal.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <system_error>

#include "common.hpp"

#include <fmt/format.h>

#include <airssys/osl/detail/empty_option_value.hpp>
#include <airssys/osl/detail/standard_fds.hpp>
#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/osl/detail/stdout_flush.hpp>

namespace {

constexpr const char* kFooter = R"(
Exit codes:
  0    success (explain: allowed)
  1    the operation ran and failed, message with its error category on stderr
       (explain: denied)
  2    usage error, invalid policy (FILE:LINE:COL: message), or the audit log
       cannot be opened; nothing was run
  124  exec: --timeout fired and the program was killed
  125  exec: airssys-osl itself failed after the program started
  126  denied by the policy (nothing was run); exec: also when the program
       could not be started (not executable, sandbox unavailable, ...)
  127  exec: the program, its #! interpreter or the --cwd directory does not
       exist or a component of its path is not a directory (the message
       says which)
  N    exec: the program's own exit code, or 128+SIGNAL if a signal killed it

Without --audit-log no activity records are kept; enforcement is identical.
Documentation: docs/osl.md and docs/osl-policy.md)";

// What `policy check` and `policy explain` print through stdio could not be
// written. A reader that went away (`| head -1`, EPIPE) is not an error for
// these short outputs: when the command would exit 0, it ends quietly by
// SIGPIPE, as most Unix tools (and every task-watchdog command) do, status
// 141; when it already failed (`policy check good bad | head -0`: exit 2),
// it keeps that exit code. The fs commands keep their own rule (exit 1,
// fs_commands.cpp): their output is the operation's result, and the audit
// log is flushed first. The message cannot throw: with `>/dev/full 2>&1`
// stderr fails too (fmt::print(stderr, ...) threw, and the program aborted).
// The rule is detail::exit_after_stdout_failure, shared with daemoneye-cli
// and airssys-ledger.
int stdout_failed(int err, int exit_code) {
  if (err != EPIPE) {
    airssys::osl::detail::write_stderr_ignoring_failure(
        fmt::format("airssys-osl: io: writing standard output: {}\n", airssys::osl::detail::write_failure_reason(err)));
  }
  return airssys::osl::detail::exit_after_stdout_failure(err, exit_code, airssys::osl::cli::kExitFailed);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace airssys::osl::cli;
  // `fs read --audit-log A F >&-`: the audit log must not open as fd 1 (the
  // file went into it between the records).
  if (!airssys::osl::detail::open_closed_standard_fds()) return kExitFailed;
  // A closed stdout (`airssys-osl fs read F | head -1`) must fail the write
  // with EPIPE, not kill us before the audit log is flushed. Children start
  // with default signal dispositions (spawn resets them).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"airssys-osl: filesystem and process operations through the airssys-osl policy pipeline"};
  app.footer(kFooter);
  // AIRSSYS_VERSION: the CMake project version (cmake/AirssysInstall.cmake).
  app.set_version_flag("--version", "airssys-osl " AIRSSYS_VERSION);
  app.require_subcommand(1);
  int exit_code = kExitOk;
  add_policy_commands(app, exit_code);
  add_exec_command(app, exit_code);
  add_fs_commands(app, exit_code);
  // Before any command runs: `--audit-log "$LOG"` or `--timeout "$T"` with
  // the variable unset is a mistake, not "no audit log" or "no timeout".
  // --traceparent '' is documented as unset (the shell passes $TRACEPARENT
  // through unchanged); --env and --keep-fd refuse '' with their own
  // messages.
  app.parse_complete_callback([&app] {
    if (const auto empty = airssys::osl::detail::first_empty_option_value(app, {"--traceparent", "--env", "--keep-fd"})) {
      throw CLI::ValidationError("airssys-osl: " + *empty, "no value given (leave the option out for its default)");
    }
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, or the parse error and a hint
    return code == static_cast<int>(CLI::ExitCodes::Success) ? kExitOk : kExitUsage;
  } catch (const std::system_error& e) {
    // fmt::print throws once stdio's buffer cannot be written (a long
    // `policy check A B C ... > /dev/full`); before, that aborted.
    if (std::ferror(stdout) != 0) return stdout_failed(e.code().value(), exit_code);
    // Not stdout: some other failure the command did not expect. Messages
    // to stderr cannot throw (detail::print_stderr: with `2>/dev/full` an
    // error or warning aborted, 134, or turned the command's own exit code
    // into 1). Said once, then the command's own exit code (or 1 if it had
    // none yet).
    airssys::osl::detail::write_stderr_ignoring_failure(fmt::format("airssys-osl: {}\n", e.what()));
    return exit_code == kExitOk ? kExitFailed : exit_code;
  }
  // What `policy check` and `policy explain` print through stdio must reach
  // the reader (fs commands check their own writes): `policy check P >
  // /dev/full` exited 0 with nothing written. An "allow" that could not be
  // printed is not reported as one.
  if (const auto failed = airssys::osl::detail::stdout_flush_failure()) return stdout_failed(*failed, exit_code);
  return exit_code;
}
