// daemoneye-cli — DaemonEye's operator CLI (docs/daemoneye.md "daemoneye-cli").
//
// It reads what the agent leaves beside its database: the status file
// (status, metrics) and the store, opened read-only through the guarded
// QueryEngine (query, alerts, events); rules are checked as the agent loads
// them. The database is found exactly as the agent finds it: the same
// configuration layers (defaults, /etc/daemoneye/config.yaml, the user's
// file or --config, DAEMONEYE_*), then --db.
//
// Exit codes (exit_codes.hpp, by the error's category): 0 ok (status: the
// agent runs and its status is fresh); 1 the command's answer is no (status:
// not running, stopped or stale; rule errors) or an I/O failure; 2 usage or
// invalid input; 3 not found; 4 denied; 5 corrupt; 6 busy / timed out.

#include "commands.hpp"
#include "fleet_command.hpp"
#include "output.hpp"
#include "unknown_command.hpp"

#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/terminal_text.hpp>
#include <airssys/osl/detail/empty_option_value.hpp>
#include <airssys/osl/detail/standard_fds.hpp>
#include <airssys/osl/detail/stdout_write.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>

#ifndef AIRSSYS_VERSION
#define AIRSSYS_VERSION "0.1.0"
#endif

extern char** environ;

namespace de = airssys::daemoneye;
namespace cli = airssys::daemoneye::cli;

namespace {

// query --max-bytes' floor, rules.max_bytes' (config.cpp); its ceiling is
// de::kSqliteHeapLimit (256 MiB), as rules.max_bytes' is.
constexpr std::uint64_t kMinQueryBytes = std::uint64_t{1} << 20;

de::Result<std::chrono::seconds> since_of(const std::string& text) {
  auto d = de::parse_duration(text);
  if (!d) return std::unexpected(d.error().prefixed("--since " + text));
  if (d->count() < 1000) return de::fail(de::ErrorCategory::invalid_input, fmt::format("--since {}: must be at least 1s", text));
  return std::chrono::duration_cast<std::chrono::seconds>(*d);
}

// The command line, parsed and run; the command's exit code.
int run(int argc, char** argv) {
  CLI::App app{"daemoneye-cli: DaemonEye's operator CLI — agent status, metrics, queries over the store, rule checks"};
  app.set_version_flag("--version", std::string("daemoneye-cli ") + AIRSSYS_VERSION);
  app.require_subcommand(1);
  std::string config_file, db;
  app.add_option("--config", config_file,
                 "Configuration file, as given to the agent (replaces /etc/daemoneye/config.yaml and the user's file)");
  app.add_option("--db,--database", db, "The agent's SQLite database (database.path); its status file is beside it");

  bool json = false;
  auto* status = app.add_subcommand("status", "Is the agent running; its status file, event tier, drops (exit 1: not running or stale)");
  status->add_flag("--json", json, "JSON for scripts");
  auto* metrics = app.add_subcommand("metrics", "The agent's counters in the Prometheus text format");

  cli::QueryArgs query_args;
  std::string format = "table", timeout, max_bytes;
  std::size_t max_rows = 0;
  auto* query = app.add_subcommand("query", "Run one read-only SQL query on the store (the rules' guard and limits)");
  query->add_option("sql", query_args.sql, "One SELECT over the readable tables (processes, process_events, process_open_sockets, listening_ports, process_memory_map, users, groups, alerts, scans, excepted_alerts, ...; docs: Tables)")->required();
  query->add_option("--format", format, "table, json or csv")->check(CLI::IsMember({"table", "json", "csv"}));
  query->add_option("--max-rows", max_rows, "Rows at most (default rules.max_rows)")->check(CLI::Range(1, 10000000));
  query->add_option("--timeout", timeout, "Time limit, e.g. 5s (default rules.timeout; at most 10m)");
  query->add_option("--max-bytes", max_bytes,
                    "The result's memory at most, e.g. 64MiB (default rules.max_bytes; 1MiB to 256MiB); rows past it are cut off");

  cli::HistoryArgs alerts_args, events_args;
  std::string alerts_since = "24h", events_since = "24h";
  auto* alerts = app.add_subcommand("alerts", "Recent alerts from the store, oldest first");
  alerts->add_option("--since", alerts_since, "How far back, e.g. 30m, 24h, 7d (default 24h)");
  // An empty id would silently mean every rule (it is also the "no --rule" value).
  alerts->add_option("--rule", alerts_args.rule,
                     "Only this rule id; the first characters of a Sigma rule's UUID are enough when one stored id "
                     "begins with them (not with --follow, which needs the full id; a native id is never widened)")
      ->check(CLI::Validator([](const std::string& id) { return id.empty() ? std::string("a rule id is not empty") : std::string(); },
                             "ID"));
  alerts->add_option("--limit", alerts_args.limit, "The newest N at most (default 100)")->check(CLI::Range(1, 1000000));
  alerts->add_flag("--json", alerts_args.json, "JSON for scripts (with --follow: one object per line)");
  alerts->add_flag("--json-lines", alerts_args.json_lines,
                   "JSON Lines: --json's alert objects one per line, not in an array (for a SIEM, jq -c)");
  alerts->add_flag("--follow,-f", alerts_args.follow,
                   "Then print each new alert as the agent stores it (checked every second), until interrupted");
  std::int64_t pid = 0;
  auto* events = app.add_subcommand("events", "Recent process events (start, exec, stop) from the store, oldest first");
  events->add_option("--since", events_since, "How far back, e.g. 30m, 24h (default 24h)");
  auto* pid_opt = events->add_option("--pid", pid, "Only this pid")->check(CLI::Range(std::int64_t{0}, std::int64_t{4194304}));
  events->add_option("--limit", events_args.limit, "The newest N at most (default 100)")->check(CLI::Range(1, 1000000));
  events->add_flag("--json", events_args.json, "JSON for scripts");

  auto* rules = app.add_subcommand("rules", "Check, list, translate or test rules");
  rules->require_subcommand(1);
  std::vector<std::string> check_paths;
  auto* rules_check = rules->add_subcommand("check", "Validate rule files or directories as the agent loads them (exit 1 on any error)");
  rules_check->add_option("path", check_paths, "Rule files (*.yaml, *.yml) or rules directories")->required();
  bool list_json = false;
  auto* rules_list = rules->add_subcommand("list", "The rules in the configured rules directory (rules.dir)");
  rules_list->add_flag("--json", list_json, "JSON for scripts");
  std::string translate_file;
  auto* rules_translate = rules->add_subcommand("translate", "Print the SQL a rule file runs (a Sigma rule's translation)");
  rules_translate->footer(R"txt(To try a rule on the agent's store before it is deployed, use rules test (the rows
it matches now, and whether each would be a new alert). The output also runs as it is
through query (a Sigma rule then reads every stored event):
  daemoneye-cli --config ./config.yaml query "$(daemoneye-cli rules translate my-rule.yml)")txt");
  rules_translate->add_option("file", translate_file, "A rule file (*.yml, *.yaml)")->required();
  cli::RulesTestArgs test_args;
  auto* rules_test = rules->add_subcommand(
      "test", "Run a rule file's query once on the store: the rows it matches now, each new or already raised");
  rules_test->add_option("file", test_args.file, "A rule file, native or Sigma (*.yml, *.yaml)")->required();
  rules_test->add_flag("--json", test_args.json, "JSON for scripts: [{\"alert\",\"raised_at\",\"dedup_key\",\"row\"}]");
  rules_test->footer(R"txt(The rule is loaded as the agent loads it (the same messages), its query runs read-only
under the rules' limits (a Sigma rule reads every stored event), and each row is put to
the agent's dedup: new (the agent would raise it), raised (an alert with its dedup key was
raised within alerts.dedup_window), repeat (an earlier row has its key: one alert), or
excepted by ID (a rule exception of rules.exceptions matches it: the agent raises nothing).
Exit codes: 0 a row matched; 1 none did; 2 the file is not a valid rule, usage, or an error
  without a more specific code; 3 not found; 4 denied (the guard refused its SQL, an unsafe
  file); 5 damaged; 6 busy or timed out.)txt");

  bool exceptions_json = false;
  auto* rules_exceptions = rules->add_subcommand(
      "exceptions", "The rule exceptions the agent has in force and what each silenced (its status file)");
  rules_exceptions->add_flag("--json", exceptions_json, "JSON for scripts");

  cli::FleetArgs fleet_args;
  std::string fleet_hosts, fleet_timeout = "5s";
  auto* fleet = app.add_subcommand("fleet", "Signed live queries to the agents of a fleet, over NATS");
  fleet->require_subcommand(1);
  auto* fleet_query = fleet->add_subcommand("query", "Run one read-only SQL query on every addressed agent; a table per host");
  fleet_query->add_option("sql", fleet_args.sql, "One SELECT over the readable tables (processes, process_events, process_open_sockets, listening_ports, process_memory_map, users, groups, alerts, scans, excepted_alerts, ...; docs: Tables)")->required();
  fleet_query->add_option("--key", fleet_args.key, "Your Ed25519 private key (PEM from openssl genpkey -algorithm ed25519; mode 0600)")
      ->required();
  auto* hosts_opt = fleet_query->add_option("--hosts", fleet_hosts, "The agents' host names, comma-separated");
  auto* all_opt = fleet_query->add_flag(
      "--all", fleet_args.all, "Every agent that listens (at most the first 10000 replies or 256 MiB of them are kept)");
  hosts_opt->excludes(all_opt);
  fleet_query->add_option("--timeout", fleet_timeout, "How long to wait for replies, e.g. 5s (at most 5m; default 5s)");
  fleet_query->add_option("--server", fleet_args.server,
                          "NATS servers (default live_query.url from the configuration, else nats://127.0.0.1:4222)");
  fleet_query->add_flag("--json", fleet_args.json, "One JSON line per host");

  // Set after the subcommands, which would otherwise each repeat it (CLI11
  // copies the footer into subcommands made after it).
  app.footer(R"txt(Give the --config the agent runs with (or --db): the commands read its database.
Examples:
  daemoneye-cli --config ./config.yaml status
  daemoneye-cli --config ./config.yaml alerts --since 1h
  daemoneye-cli --config ./config.yaml alerts --follow --json   # one JSON object per line, for a SIEM
  daemoneye-cli rules check my-rule.yaml                         # as the agent loads it
  daemoneye-cli --config ./config.yaml rules test my-rule.yml  # dry run: what it matches now, new or raised
  daemoneye-cli --config ./config.yaml query "$(daemoneye-cli rules translate my-rule.yaml)"
                                 # the same rows as a plain query
Exit codes: 0 ok; 1 the answer is no (status: not running; a rule rejected; rules test:
  nothing matched) or a failure; 2 usage or invalid input; 3 not found; 4 denied;
  5 damaged; 6 busy or timed out.)txt");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A mistyped command (`stauts`, `rules chek`) reaches CLI11 as a missing
    // subcommand, whose own message does not name the word: say which word
    // is not a command, and the commands there are.
    if (const auto unknown = cli::unknown_command(app, {rules, fleet}, e)) {
      cli::say(*unknown);
      return cli::kExitUsage;
    }
    return app.exit(e) == 0 ? cli::kExitOk : cli::kExitUsage;
  }
  // `--db "$DB"` or `--config "$CONF"` with the variable unset read '' as
  // the option left out: the command answered for the default database
  // (status: "not running" for an agent that runs elsewhere), `query
  // --timeout ''` ran with rules.timeout. No option takes '' on purpose.
  if (const auto empty = airssys::osl::detail::first_empty_option_value(app)) {
    cli::say(airssys::osl::detail::empty_option_message(*empty));
    return cli::kExitUsage;
  }

  // rules check needs no configuration: it checks what it is given.
  if (rules_check->parsed()) return cli::run_rules_check(check_paths);
  if (rules_translate->parsed()) return cli::run_rules_translate(translate_file);

  de::ConfigInputs in;
  if (!config_file.empty()) in.config_file = config_file;
  in.env = de::daemoneye_environment(environ);
  if (!db.empty()) in.overrides.emplace_back("database.path", db);
  auto config = de::load_config(in);
  if (!config) return cli::fail_with(config.error());
  // Values the loader changed rather than refused (the agent logs the same
  // ones): the operator sees them here too; the exit code does not change.
  for (const auto& w : config->warnings) cli::say("warning: " + de::printable(w));
  const cli::Context ctx{*config};

  if (status->parsed()) return cli::run_status(ctx, json);
  if (metrics->parsed()) return cli::run_metrics(ctx);
  if (query->parsed()) {
    query_args.format = format == "json" ? cli::Format::json : format == "csv" ? cli::Format::csv : cli::Format::table;
    if (max_rows > 0) query_args.max_rows = max_rows;
    if (!timeout.empty()) {
      // At most rules.timeout's ceiling (config.hpp, kMaxQueryTimeout): 36500d was accepted.
      auto t = de::parse_duration(timeout);
      if (!t || t->count() <= 0 || *t > de::kMaxQueryTimeout) {
        cli::say(fmt::format("--timeout {}: {}", de::printable(timeout),
                             t ? "must be more than 0 and at most 10m (a query's longest time limit, as rules.timeout's)"
                               : t.error().message));
        return cli::kExitUsage;
      }
      query_args.timeout = *t;
    }
    if (!max_bytes.empty()) {
      auto b = de::parse_size(max_bytes);
      if (!b || *b < kMinQueryBytes || *b > static_cast<std::uint64_t>(de::kSqliteHeapLimit)) {
        cli::say(fmt::format("--max-bytes {}: {}", de::printable(max_bytes),
                             b ? "must be at least 1MiB and at most 256MiB (as rules.max_bytes)" : b.error().message));
        return cli::kExitUsage;
      }
      query_args.max_bytes = *b;
    }
    return cli::run_query(ctx, query_args);
  }
  if (alerts->parsed() || events->parsed()) {
    const bool is_alerts = alerts->parsed();
    auto since = since_of(is_alerts ? alerts_since : events_since);
    if (!since) return cli::fail_with(since.error());
    cli::HistoryArgs& a = is_alerts ? alerts_args : events_args;
    a.since = *since;
    a.json = a.json || a.json_lines;
    if (!is_alerts && pid_opt->count() > 0) a.pid = pid;
    return is_alerts ? cli::run_alerts(ctx, a) : cli::run_events(ctx, a);
  }
  if (rules_list->parsed()) return cli::run_rules_list(ctx, list_json);
  if (rules_test->parsed()) return cli::run_rules_test(ctx, test_args);
  if (rules_exceptions->parsed()) return cli::run_rules_exceptions(ctx, exceptions_json);
  if (fleet_query->parsed()) {
    if (!fleet_args.all && fleet_hosts.empty()) {
      cli::say("fleet query: give --hosts h1,h2 or --all");
      return cli::kExitUsage;
    }
    for (std::size_t pos = 0; !fleet_hosts.empty() && pos <= fleet_hosts.size();) {
      const auto comma = std::min(fleet_hosts.find(',', pos), fleet_hosts.size());
      const auto h = fleet_hosts.substr(pos, comma - pos);
      if (h.empty() || h.size() > 255) {
        cli::say(fmt::format("--hosts {}: empty or overlong host name", fleet_hosts));
        return cli::kExitUsage;
      }
      fleet_args.hosts.push_back(h);
      pos = comma + 1;
    }
    auto t = de::parse_duration(fleet_timeout);
    if (!t || t->count() <= 0 || *t > std::chrono::minutes(5)) {
      cli::say(fmt::format("--timeout {}: {}", fleet_timeout, t ? "must be more than 0 and at most 5m" : t.error().message));
      return cli::kExitUsage;
    }
    fleet_args.timeout = *t;
    return cli::run_fleet_query(ctx, fleet_args);
  }
  return cli::kExitUsage;
}

}  // namespace

// Output that cannot be written follows the rule of every CLI here
// (osl/detail/stdout_flush.hpp): a reader that went away (`alerts | head
// -1`, `alerts -f | head -1`) ends a command that would exit 0 by SIGPIPE,
// status 141, and leaves another its code (`status` of a stopped agent: 1);
// any other failure (`> /dev/full`, `>&-`) is "writing standard output:
// REASON", exit 1 unless the command had already failed. SIGPIPE is
// ignored until then, so that a command stops where its write failed
// rather than being killed in the middle: `alerts --follow` then stops
// watching, and the reason is known (osl/detail/stdout_write.hpp).
int main(int argc, char** argv) {
  // `>&-`: no file opened later may take fd 0, 1 or 2 (osl/detail/standard_fds.hpp).
  if (!airssys::osl::detail::open_closed_standard_fds()) return 1;
  std::signal(SIGPIPE, SIG_IGN);
  return airssys::osl::detail::end_with_stdout_checked(run(argc, argv), cli::kExitFailed,
                                                      "daemoneye-cli: writing standard output: ");
}
