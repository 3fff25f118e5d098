// daemoneye-agent — DaemonEye's detection agent (docs/daemoneye.md).
//
// Exit codes: 0 stopped by SIGINT/SIGTERM, 1 could not start or failed,
// 2 usage or configuration error (load_config's errors, and Agent::start's
// invalid_input: the configuration names something unusable).

#include "agent.hpp"

#include <airssys/daemoneye/config.hpp>
#include <airssys/osl/detail/cli_parse_error.hpp>
#include <airssys/osl/detail/empty_option_value.hpp>
#include <airssys/osl/detail/standard_fds.hpp>
#include <airssys/osl/detail/stderr_message.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#ifndef AIRSSYS_VERSION
#define AIRSSYS_VERSION "0.1.0"
#endif

extern char** environ;

namespace de = airssys::daemoneye;
namespace fs = std::filesystem;

namespace {

fs::path self_executable(const char* argv0) {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) return p;
  return fs::absolute(argv0);
}

}  // namespace

int main(int argc, char** argv) {
  // `>&-`: no file opened later may take fd 0, 1 or 2 (osl/detail/standard_fds.hpp).
  if (!airssys::osl::detail::open_closed_standard_fds()) return 1;
  CLI::App app{"daemoneye-agent: stores what procmond sees, runs the detection rules, raises alerts"};
  app.set_version_flag("--version", std::string("daemoneye-agent ") + AIRSSYS_VERSION);
  // What an operator looks for in --help (and the man page made from it):
  // how to reload and stop it, and what its exit codes mean.
  app.footer(R"(Runs in the foreground, logging to stderr; procmond is started beside it.
Signals:
  SIGHUP           load rules.dir and live_query.trusted_keys again (the log
                   says what loaded); other settings take effect at a restart
  SIGTERM, SIGINT  stop cleanly (the status file then says stopped)
Exit codes:
  0  stopped by a signal
  1  could not start (the log line says why; a service manager may retry)
  2  usage or configuration error (FILE:LINE: ...), not worth retrying
Example:
  daemoneye-agent --config ./config.yaml &
  daemoneye-cli --config ./config.yaml status   # its pid, scans, rules, alerts
  kill -HUP PID                                 # after editing the rules)");
  std::string config_file, database, interval, rules_dir, ledger_dir, socket, procmond, log_level;
  app.add_option("--config", config_file, "Configuration file (replaces /etc/daemoneye/config.yaml and ~/.config/daemoneye/config.yaml)");
  app.add_option("--database", database, "SQLite database path (database.path)");
  app.add_option("--interval", interval, "Scan interval, e.g. 1s (scan.interval)");
  app.add_option("--rules-dir", rules_dir, "Directory of rule files (rules.dir)");
  app.add_option("--ledger-dir", ledger_dir, "Audit ledger directory (ledger.dir)");
  app.add_option("--socket", socket, "Bus socket path (bus.socket)");
  app.add_option("--procmond", procmond, "procmond executable (procmond.path)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error (log_level)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return airssys::osl::detail::exit_for_parse_error(app, e) == 0 ? 0 : 2;
  }
  // `--database "$DB"` with DB unset read '' as the flag left out, so the
  // agent started on the configuration's (or the default) database, rules
  // or ledger. A key's "" default (ledger.dir, bus.socket: beside the
  // database) is for the configuration file; as a flag '' is refused.
  if (const auto empty = airssys::osl::detail::first_empty_option_value(app)) {
    airssys::osl::detail::print_stderr("daemoneye-agent: {}\n", airssys::osl::detail::empty_option_message(*empty));
    return 2;
  }

  de::ConfigInputs in;
  if (!config_file.empty()) in.config_file = config_file;
  // user_file stays unset: load_config's default ($XDG_CONFIG_HOME, else
  // $HOME/.config) — daemoneye-cli resolves it the same way.
  in.env = de::daemoneye_environment(environ);
  auto flag = [&](const std::string& v, const char* key) {
    if (!v.empty()) in.overrides.emplace_back(key, v);
  };
  flag(database, "database.path");
  flag(interval, "scan.interval");
  flag(rules_dir, "rules.dir");
  flag(ledger_dir, "ledger.dir");
  flag(socket, "bus.socket");
  flag(procmond, "procmond.path");
  flag(log_level, "log_level");
  auto config = de::load_config(in);
  if (!config) {
    airssys::osl::detail::print_stderr("daemoneye-agent: {}\n", config.error().message);
    return 2;
  }

  // Before the first log line: a warning written to a stderr pipe whose
  // reader is gone must not end the agent by SIGPIPE (every write of the
  // agent handles EPIPE itself: sinks, the status file, the bus).
  std::signal(SIGPIPE, SIG_IGN);
  auto logger = spdlog::stderr_logger_mt("daemoneye-agent");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l daemoneye-agent: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  for (const auto& w : config->warnings) spdlog::warn("{}", w);

  // Signals are taken through a signalfd by the scan loop; they are blocked
  // before any thread starts so that every thread inherits the mask.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGHUP);  // reload: the rules and the trusted keys
  ::pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
  // A file size limit (RLIMIT_FSIZE) reached by the store, ledger or status
  // file is an EFBIG error each of them handles (the store keeps the batch
  // for a retry), not the default SIGXFSZ death of the whole agent.
  std::signal(SIGXFSZ, SIG_IGN);
  int sfd = ::signalfd(-1, &stop_set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    spdlog::error("signalfd: {}", std::strerror(errno));
    return 1;
  }

  auto agent = de::agent::Agent::start(*config, self_executable(argv[0]));
  if (!agent) {
    spdlog::error("cannot start: {}", agent.error().message);
    ::close(sfd);
    return agent.error().category == de::ErrorCategory::invalid_input ? 2 : 1;
  }
  // SIGHUP reads the configuration again from the same layers and flags.
  int rc = (*agent)->run(sfd, [&in] { return de::load_config(in); });
  agent->reset();
  ::close(sfd);
  spdlog::info("stopped");
  return rc;
}
