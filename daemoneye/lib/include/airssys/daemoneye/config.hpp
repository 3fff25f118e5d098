#pragma once
// daemoneye-agent's configuration (every key in docs/daemoneye.md "Configuration").
//
// Layers, later wins: built-in defaults → /etc/daemoneye/config.yaml →
// ~/.config/daemoneye/config.yaml → DAEMONEYE_* environment → command-line
// flags. `--config FILE` replaces both file layers. A missing default file is
// skipped; a missing --config file is an error. Unknown keys, wrong types and
// bad values are errors "FILE:LINE: message". Relative paths are relative to
// the agent's working directory.
//
// Environment: DAEMONEYE_<SECTION>_<KEY> for scalar keys, e.g.
// DAEMONEYE_SCAN_INTERVAL=5s, DAEMONEYE_DATABASE_PATH=/x.db
// (dotted key upper-cased, '.' → '_'). An unknown DAEMONEYE_* variable is an
// error naming it, except DAEMONEYE_AGENT_BIN, DAEMONEYE_PROCMOND_BIN and
// DAEMONEYE_CLI_BIN (the integration tests' harness sets them). alerts.sinks is a list and is
// set in files only; a layer that names it replaces the whole list.
//
// YAML shape: one mapping per struct below (database, scan, rules, alerts,
// ledger, bus, procmond), `host` and `log_level` at the top level; the
// dotted key of a scalar is its path ("alerts.rate_limit"). Durations need
// a unit ("500ms", "10s", "5m", "1h", "7d"; a bare 0 is allowed); sizes are
// bytes with an optional unit (KiB MiB GiB TiB, K M G T = the same binary
// units, KB MB GB TB = powers of 1000).
//
//   database: { path: ./var/daemoneye.db }
//   scan: { interval: 1s }
//   rules: { dir: ./rules }
//   alerts:
//     sinks:
//       - { type: file, path: ./var/alerts.jsonl, format: json }

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/rule.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace airssys::daemoneye {

enum class SinkType : std::uint8_t { stdout_, file, syslog, webhook, nats };
enum class SinkFormat : std::uint8_t { human, json };

struct SinkConfig {
  SinkType type = SinkType::stdout_;
  SinkFormat format = SinkFormat::json;  // stdout: human by default
  std::filesystem::path path;            // file
  std::string address = "/dev/log";      // syslog: /dev/log (any unix datagram path), udp://HOST:PORT, tcp://HOST:PORT
  std::string facility = "local0";       // syslog facility name
  std::string url;                       // webhook: http:// or https://; nats: nats://, tls:// (comma-separated list)
  std::chrono::milliseconds timeout{5000};  // webhook: per attempt; nats: wait for JetStream's ack
  int retries = 5;                       // webhook: attempts after the first, with exponential backoff
  std::size_t queue = 10000;             // webhook: alerts waiting; beyond it the oldest is dropped and counted
  Severity min_severity = Severity::low; // sink receives alerts at or above this
  // nats (docs/daemoneye.md "Forwarding to NATS JetStream"). Secrets are never logged.
  std::string subject = "daemoneye.alerts.{host}";  // {host}: the host name as one subject token
  std::string stream;                     // required: the JetStream stream that must ack each alert
  std::filesystem::path credentials;      // a .creds file (JWT + NKey seed)
  std::string token;                      // or a token
  std::string user, password;             // or user + password
  std::filesystem::path tls_ca;           // CA bundle to verify the server (implies TLS)
  std::filesystem::path tls_cert, tls_key;  // client certificate (both or neither)
  std::filesystem::path spool_dir;        // required: un-acked alerts are kept here
  std::uint64_t spool_max_size = 64ull * 1024 * 1024;  // beyond it the oldest are dropped and counted
};

struct AlertsConfig {
  std::chrono::seconds dedup_window{3600};  // the same dedup key raises again only after this
  std::uint32_t rate_limit = 100;           // alerts per rule per rate_period; 0 = unlimited
  std::chrono::seconds rate_period{60};
  // Default: one stdout sink, human format. `sinks: []` means none (alerts go to the ledger and store only).
  std::vector<SinkConfig> sinks{SinkConfig{.type = SinkType::stdout_, .format = SinkFormat::human}};
};

// Signed live queries (docs/daemoneye.md "Live queries"): off unless
// enabled; then url and at least one trusted key are required.
struct LiveQueryConfig {
  bool enabled = false;
  std::string url;                                   // NATS servers (as a nats sink's url)
  std::vector<std::filesystem::path> trusted_keys;   // Ed25519 public keys (PEM) whose signatures are accepted
  std::size_t max_rows = 1000;                       // rows per reply (more are cut off)
  std::chrono::milliseconds timeout{5000};           // time limit per query
  std::filesystem::path credentials;                 // NATS auth, as a nats sink's (never logged)
  std::string token;
  std::filesystem::path tls_ca, tls_cert, tls_key;
};

// Process events forwarded off the host (docs/daemoneye.md "Forwarding
// process events to NATS"). `events: { nats: {...} }` in a file: the keys of
// a nats alert sink without type and min_severity; the subject defaults to
// daemoneye.events.{host}. Absent: events stay on the host.
struct EventsConfig {
  std::optional<SinkConfig> nats;
};

// The longest time limit a query may have (rules.timeout, live_query.timeout,
// daemoneye-cli query --timeout): past it a query is a runaway, and a read
// that long keeps the agent's WAL from being checkpointed back to the start,
// so the -wal file grows with every scan for as long as it runs.
inline constexpr std::chrono::milliseconds kMaxQueryTimeout{10 * 60 * 1000};

struct Config {
  struct {
    std::filesystem::path path = "/var/lib/daemoneye/daemoneye.db";
    std::chrono::seconds max_age{7 * 24 * 3600};
    std::uint64_t max_size = 512ull * 1024 * 1024;
    // A clean stop stores the process events still queued for at most this
    // long after the agent reads the signal, then counts and logs the rest as
    // lost (0: store none of them). Keep it well under the unit's
    // TimeoutStopSec (docs/daemoneye.md "The agent").
    std::chrono::milliseconds stop_timeout{20000};
  } database;
  struct {
    std::chrono::milliseconds interval{10000};
  } scan;
  struct {
    std::filesystem::path dir = "/etc/daemoneye/rules";
    // Rule exceptions (rule_exception.hpp): a file, or a directory of
    // *.yaml/*.yml files; empty: none. Loaded with the rules (and at SIGHUP).
    std::filesystem::path exceptions;
    std::chrono::milliseconds timeout{1000};  // per query
    std::size_t max_rows = 1000;              // per query
    std::uint64_t max_bytes = 16ull * 1024 * 1024;  // per query: text/blob bytes of the result
  } rules;
  AlertsConfig alerts;
  EventsConfig events;
  struct {
    std::filesystem::path dir;  // empty: <database dir>/ledger
  } ledger;
  struct {
    std::filesystem::path socket;  // empty: <database dir>/bus.sock
  } bus;
  struct {
    std::filesystem::path path;  // empty: "procmond" beside the agent's executable
    std::uint64_t hash_max_size = 256ull * 1024 * 1024;  // executables larger are not hashed
    // The best real-time event source to try (procmond --events): auto
    // (= ebpf), ebpf, proc_connector, poll (polling only).
    std::string events = "auto";
    std::uint64_t event_budget = 10'000;  // real-time events per second at most (procmond --event-budget)
    // Read every process's sockets each scan into process_open_sockets
    // (off: procmond --no-sockets, and the table stays empty).
    bool sockets = true;
    // The account files behind the users and groups tables (procmond
    // --passwd/--group); empty: /etc/passwd and /etc/group. For tests and
    // for containers with the host's /etc mounted elsewhere.
    std::filesystem::path passwd, group;
    std::chrono::milliseconds restart_initial{500};
    std::chrono::milliseconds restart_max{30000};
  } procmond;
  LiveQueryConfig live_query;
  std::string host;               // empty: gethostname()
  std::string log_level = "info"; // trace debug info warn error
  // Values load_config changed rather than refused (a rules.max_bytes past
  // 256 MiB, accepted by earlier versions, is lowered to it), one message
  // each naming the value given and the one used; the agent logs them.
  std::vector<std::string> warnings;
};

struct ConfigInputs {
  std::optional<std::filesystem::path> config_file;  // --config: replaces the file layers
  std::filesystem::path system_file = "/etc/daemoneye/config.yaml";
  std::optional<std::filesystem::path> user_file;    // default: $HOME/.config/daemoneye/config.yaml
  std::vector<std::pair<std::string, std::string>> env;         // DAEMONEYE_* variables (others ignored)
  std::vector<std::pair<std::string, std::string>> overrides;   // dotted key → value, from flags
};

// Applies one YAML document on top of `config`. `source` names it in errors.
[[nodiscard]] Result<void> apply_yaml(Config& config, std::string_view yaml, std::string_view source);
// Sets one scalar key ("scan.interval", "database.path", ...) from text.
[[nodiscard]] Result<void> set_key(Config& config, std::string_view dotted_key, std::string_view value,
                                   std::string_view source);
// All layers, in order.
[[nodiscard]] Result<Config> load_config(const ConfigInputs& inputs);

// "1s", "500ms", "2m", "1h", "7d" → milliseconds.
[[nodiscard]] Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// "512MiB", "1GiB", "4096", "10MB" → bytes.
[[nodiscard]] Result<std::uint64_t> parse_size(std::string_view text);

// The DAEMONEYE_* entries of an environment block (e.g. `environ`), for ConfigInputs::env.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> daemoneye_environment(const char* const* envp);
// Every dotted key set_key accepts, in documentation order.
[[nodiscard]] std::vector<std::string> config_keys();
// "scan.interval" → "DAEMONEYE_SCAN_INTERVAL".
[[nodiscard]] std::string env_var_for(std::string_view dotted_key);

}  // namespace airssys::daemoneye
