// The agent's configuration: YAML layers, DAEMONEYE_* variables and flags on
// top of the built-in defaults (config.hpp; every key in docs/daemoneye.md).
//
// Every scalar key lives in one table (kKeys) that the YAML reader, set_key
// and the environment share, so the three cannot disagree on a key's name,
// type or limits. alerts.sinks, a list, is YAML only.
#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/osl/audit_syslog.hpp>
#include <airssys/osl/detail/shown_text.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include "nats_names.hpp"
#include "nats_spool.hpp"
#include "syslog_message.hpp"
#include "webhook_url.hpp"
#include "yaml_document.hpp"

namespace airssys::daemoneye {

namespace {

using namespace std::chrono_literals;
using detail::describe;
using detail::line_of;

constexpr std::size_t kMaxConfigBytes = 1u << 20;
constexpr std::uint64_t kMiB = 1024 * 1024;

// Variables with the DAEMONEYE_ prefix that are not configuration: the
// integration tests tell their harness where the binaries are with these,
// and the agent runs with them in its environment.
constexpr std::array<std::string_view, 3> kIgnoredEnv{"DAEMONEYE_AGENT_BIN", "DAEMONEYE_PROCMOND_BIN",
                                                  "DAEMONEYE_CLI_BIN"};

using SetResult = Result<void>;
using Setter = SetResult (*)(Config&, std::string_view);

struct ScalarKey {
  std::string_view name;     // dotted
  std::string_view expects;  // "KEY must be <expects>, got ..."
  Setter set;
};

constexpr std::string_view kPath = "a path";
constexpr std::string_view kDuration = "a duration (e.g. 500ms, 10s, 5m)";
constexpr std::string_view kSize = "a size (e.g. 4096, 512MiB, 1GiB)";
constexpr std::string_view kCount = "a whole number";

// A value or key as a message shows it: a 500 KB log_level came back whole.
std::string shown(std::string_view v) { return osl::detail::shown_text(v); }

// rules.max_bytes' ceiling. A rule's result is held in the agent's memory
// and copied into its alerts (and a live query's reply); 1 TiB was accepted.
// It is SQLite's whole heap in the agent (kSqliteHeapLimit, 256 MiB), 16
// times the default, and far past what any sink delivers in one alert.
constexpr auto kMaxRuleResultBytes = static_cast<std::uint64_t>(kSqliteHeapLimit);
static_assert(kMaxRuleResultBytes == 256 * kMiB, "the rules.max_bytes warning names 256MiB");

// Every value problem is the input's: the agent exits 2 for it.
SetResult bad(std::string message) { return fail(ErrorCategory::invalid_input, std::move(message)); }

// The shortest exact spelling: 90000ms → "90s", 3600000ms → "1h".
std::string show(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms != 0 && ms % 86'400'000 == 0) return fmt::format("{}d", ms / 86'400'000);
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

SetResult set_path(std::filesystem::path& out, std::string_view v, bool may_be_empty) {
  if (v.empty() && !may_be_empty) return bad("must not be empty");
  if (v.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  out = std::filesystem::path(std::string(v));
  return {};
}

Result<std::chrono::milliseconds> bounded_duration(std::string_view v, std::chrono::milliseconds min,
                                                   std::chrono::milliseconds max) {
  auto d = parse_duration(v);
  if (!d) return std::unexpected(d.error());
  if (*d < min) return fail(ErrorCategory::invalid_input, fmt::format("must be at least {}, got '{}'", show(min), shown(v)));
  if (*d > max) return fail(ErrorCategory::invalid_input, fmt::format("must be at most {}, got '{}'", show(max), shown(v)));
  return *d;
}

SetResult set_ms(std::chrono::milliseconds& out, std::string_view v, std::chrono::milliseconds min,
                 std::chrono::milliseconds max) {
  auto d = bounded_duration(v, min, max);
  if (!d) return std::unexpected(d.error());
  out = *d;
  return {};
}

SetResult set_seconds(std::chrono::seconds& out, std::string_view v, std::chrono::seconds min, std::chrono::seconds max) {
  auto d = bounded_duration(v, min, max);
  if (!d) return std::unexpected(d.error());
  if (d->count() % 1000 != 0) return bad(fmt::format("must be a whole number of seconds, got '{}'", shown(v)));
  out = std::chrono::duration_cast<std::chrono::seconds>(*d);
  return {};
}

SetResult set_size(std::uint64_t& out, std::string_view v, std::uint64_t min, std::string_view min_text) {
  auto s = parse_size(v);
  if (!s) return std::unexpected(s.error());
  if (*s < min) return bad(fmt::format("must be at least {}, got '{}'", min_text, shown(v)));
  out = *s;
  return {};
}

// rules.max_bytes past kMaxRuleResultBytes was accepted before e39c23c:
// refusing it would stop an upgraded agent at start (exit 2, not retried),
// so it is lowered to the ceiling and load_config says so (warnings).
SetResult set_rule_result_bytes(Config& c, std::string_view v) {
  if (auto r = set_size(c.rules.max_bytes, v, kMiB, "1MiB"); !r) return r;
  if (c.rules.max_bytes > kMaxRuleResultBytes) {
    c.warnings.push_back(fmt::format("rules.max_bytes: '{}' is more than the 256MiB a rule's result may hold; using 256MiB",
                                     shown(v)));
    c.rules.max_bytes = kMaxRuleResultBytes;
  }
  return {};
}

template <class T>
SetResult set_count(T& out, std::string_view v, std::uint64_t min, std::uint64_t max) {
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  const bool digits_only = !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits_only || (ec != std::errc{} && ec != std::errc::result_out_of_range) || p != v.data() + v.size()) {
    return bad(fmt::format("must be a whole number, got '{}'", shown(v)));
  }
  if (ec == std::errc::result_out_of_range || n < min || n > max) {
    return bad(fmt::format("must be from {} to {}, got {}", min, max, shown(v)));
  }
  out = static_cast<T>(n);
  return {};
}

SetResult set_log_level(std::string& out, std::string_view v) {
  for (const std::string_view level : {"trace", "debug", "info", "warn", "error"}) {
    if (v == level) {
      out = std::string(v);
      return {};
    }
  }
  return bad(fmt::format("must be one of trace, debug, info, warn, error, got '{}'", shown(v)));
}

// RFC 5424's HOSTNAME: printable US-ASCII, at most 255 characters.
SetResult set_host(std::string& out, std::string_view v) {
  const bool ok = v.size() <= 255 && std::all_of(v.begin(), v.end(), [](char c) { return c >= 33 && c <= 126; });
  if (!ok) return bad("must be printable ASCII without spaces, at most 255 characters (empty: the system's host name)");
  out = std::string(v);
  return {};
}

SetResult set_socket_path(std::filesystem::path& out, std::string_view v) {
  if (v.size() > 107) return bad(fmt::format("path is {} bytes; a unix socket path is at most 107", v.size()));
  return set_path(out, v, true);
}

const std::array kKeys{
    ScalarKey{"database.path", kPath,
              [](Config& c, std::string_view v) { return set_path(c.database.path, v, false); }},
    ScalarKey{"database.max_age", kDuration,
              [](Config& c, std::string_view v) { return set_seconds(c.database.max_age, v, 1s, 36'500 * 24h); }},
    ScalarKey{"database.max_size", kSize,
              [](Config& c, std::string_view v) { return set_size(c.database.max_size, v, kMiB, "1MiB"); }},
    ScalarKey{"database.stop_timeout", kDuration,
              [](Config& c, std::string_view v) { return set_ms(c.database.stop_timeout, v, 0ms, 1h); }},
    ScalarKey{"scan.interval", kDuration,
              [](Config& c, std::string_view v) { return set_ms(c.scan.interval, v, 100ms, 24h); }},
    ScalarKey{"rules.dir", kPath, [](Config& c, std::string_view v) { return set_path(c.rules.dir, v, false); }},
    ScalarKey{"rules.exceptions", kPath,
              [](Config& c, std::string_view v) { return set_path(c.rules.exceptions, v, true); }},
    ScalarKey{"rules.timeout", kDuration,
              [](Config& c, std::string_view v) { return set_ms(c.rules.timeout, v, 1ms, kMaxQueryTimeout); }},
    ScalarKey{"rules.max_rows", kCount,
              [](Config& c, std::string_view v) { return set_count(c.rules.max_rows, v, 1, 10'000'000); }},
    ScalarKey{"rules.max_bytes", kSize,
              [](Config& c, std::string_view v) { return set_rule_result_bytes(c, v); }},
    ScalarKey{"alerts.dedup_window", kDuration,
              [](Config& c, std::string_view v) { return set_seconds(c.alerts.dedup_window, v, 0s, 365 * 24h); }},
    ScalarKey{"alerts.rate_limit", kCount,
              [](Config& c, std::string_view v) {
                return set_count(c.alerts.rate_limit, v, 0, std::numeric_limits<std::uint32_t>::max());
              }},
    ScalarKey{"alerts.rate_period", kDuration,
              [](Config& c, std::string_view v) { return set_seconds(c.alerts.rate_period, v, 1s, 24h); }},
    ScalarKey{"ledger.dir", kPath, [](Config& c, std::string_view v) { return set_path(c.ledger.dir, v, true); }},
    ScalarKey{"bus.socket", kPath, [](Config& c, std::string_view v) { return set_socket_path(c.bus.socket, v); }},
    ScalarKey{"procmond.path", kPath, [](Config& c, std::string_view v) { return set_path(c.procmond.path, v, true); }},
    ScalarKey{"procmond.hash_max_size", kSize,
              [](Config& c, std::string_view v) { return set_size(c.procmond.hash_max_size, v, 0, "0"); }},
    ScalarKey{"procmond.events", "one of auto, ebpf, proc_connector, poll",
              [](Config& c, std::string_view v) -> SetResult {
                for (const std::string_view tier : {"auto", "ebpf", "proc_connector", "poll"}) {
                  if (v == tier) {
                    c.procmond.events = std::string(v);
                    return {};
                  }
                }
                return bad(fmt::format("must be one of auto, ebpf, proc_connector, poll, got '{}'", shown(v)));
              }},
    ScalarKey{"procmond.event_budget", kCount,
              [](Config& c, std::string_view v) { return set_count(c.procmond.event_budget, v, 1, 10'000'000); }},
    ScalarKey{"procmond.sockets", "true or false",
              [](Config& c, std::string_view v) -> SetResult {
                if (v != "true" && v != "false") return bad(fmt::format("must be true or false, got '{}'", shown(v)));
                c.procmond.sockets = v == "true";
                return {};
              }},
    ScalarKey{"procmond.passwd", kPath, [](Config& c, std::string_view v) { return set_path(c.procmond.passwd, v, true); }},
    ScalarKey{"procmond.group", kPath, [](Config& c, std::string_view v) { return set_path(c.procmond.group, v, true); }},
    ScalarKey{"procmond.restart_initial", kDuration,
              [](Config& c, std::string_view v) { return set_ms(c.procmond.restart_initial, v, 10ms, 1h); }},
    ScalarKey{"procmond.restart_max", kDuration,
              [](Config& c, std::string_view v) { return set_ms(c.procmond.restart_max, v, 10ms, 24h); }},
    ScalarKey{"live_query.enabled", "true or false",
              [](Config& c, std::string_view v) -> SetResult {
                if (v != "true" && v != "false") return bad(fmt::format("must be true or false, got '{}'", shown(v)));
                c.live_query.enabled = v == "true";
                return {};
              }},
    ScalarKey{"live_query.url", "nats:// or tls:// URLs",
              [](Config& c, std::string_view v) -> SetResult {
                if (!v.empty()) {
                  if (auto ok = detail::check_nats_url(v); !ok) return std::unexpected(ok.error());
                }
                c.live_query.url = std::string(v);
                return {};
              }},
    ScalarKey{"live_query.max_rows", kCount,
              [](Config& c, std::string_view v) { return set_count(c.live_query.max_rows, v, 1, 1'000'000); }},
    ScalarKey{"live_query.timeout", kDuration,
              [](Config& c, std::string_view v) { return set_ms(c.live_query.timeout, v, 1ms, kMaxQueryTimeout); }},
    ScalarKey{"live_query.credentials", kPath,
              [](Config& c, std::string_view v) { return set_path(c.live_query.credentials, v, true); }},
    ScalarKey{"live_query.token", "a token",
              [](Config& c, std::string_view v) -> SetResult {
                if (v.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
                c.live_query.token = std::string(v);
                return {};
              }},
    ScalarKey{"live_query.tls_ca", kPath,
              [](Config& c, std::string_view v) { return set_path(c.live_query.tls_ca, v, true); }},
    ScalarKey{"live_query.tls_cert", kPath,
              [](Config& c, std::string_view v) { return set_path(c.live_query.tls_cert, v, true); }},
    ScalarKey{"live_query.tls_key", kPath,
              [](Config& c, std::string_view v) { return set_path(c.live_query.tls_key, v, true); }},
    ScalarKey{"host", "a host name", [](Config& c, std::string_view v) { return set_host(c.host, v); }},
    ScalarKey{"log_level", "one of trace, debug, info, warn, error",
              [](Config& c, std::string_view v) { return set_log_level(c.log_level, v); }},
};

constexpr std::array<std::string_view, 8> kSections{"database", "scan",     "rules",   "alerts",
                                                   "ledger",   "bus",      "procmond", "live_query"};

const ScalarKey* find_key(std::string_view name) {
  for (const ScalarKey& k : kKeys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string env_name(std::string_view key) {
  std::string out = "DAEMONEYE_";
  for (const char c : key) out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The keys of one section ("" = the top level), in table order.
std::string known_in(std::string_view section) {
  std::string out;
  const auto add = [&out](std::string_view k) {
    if (!out.empty()) out += ", ";
    out += k;
  };
  if (section.empty()) {
    for (const auto s : kSections) add(s);
    add("events");
  }
  for (const ScalarKey& k : kKeys) {
    const auto dot = k.name.find('.');
    if (section.empty() && dot == std::string_view::npos) add(k.name);
    if (!section.empty() && dot == section.size() && k.name.starts_with(section)) add(k.name.substr(dot + 1));
  }
  if (section == "alerts") add("sinks");
  if (section == "live_query") add("trusted_keys");
  return out;
}

std::string all_keys() {
  std::string out;
  for (const ScalarKey& k : kKeys) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

// ---- YAML

struct Failure {
  int line = 0;  // 1-based; 0 unknown
  std::string message;
};

using Walk = std::expected<void, Failure>;

Walk failure(int line, std::string message) { return std::unexpected(Failure{line, std::move(message)}); }

// Visits a mapping's entries in file order; keys must be plain strings and
// appear once. `what` names the mapping in messages.
template <class F>
Walk for_each_entry(const YAML::Node& map, int map_line, std::string_view what, F&& f) {
  std::map<std::string, int, std::less<>> seen;
  for (const auto& entry : map) {  // `entry` lives for the body; it->first would dangle
    const YAML::Node key = entry.first;
    const int kline = line_of(key, map_line);
    if (!key.IsScalar()) return failure(kline, fmt::format("{}: keys must be plain strings, got {}", what, describe(key)));
    const std::string& k = key.Scalar();
    if (const auto prev = seen.find(k); prev != seen.end()) {
      return failure(kline, fmt::format("duplicate key '{}' in {} (first at line {})", shown(k), what, prev->second));
    }
    seen.emplace(k, kline);
    if (Walk r = f(k, kline, entry.second); !r) return r;
  }
  return {};
}

// A scalar value: its text, or a failure naming what was expected.
std::expected<std::string, Failure> scalar_text(const YAML::Node& v, int key_line, std::string_view name,
                                                std::string_view expects) {
  const int vline = v.IsNull() ? key_line : line_of(v, key_line);
  if (!v.IsScalar()) return std::unexpected(Failure{vline, fmt::format("{} must be {}, got {}", name, expects, describe(v))});
  return v.Scalar();
}

Walk apply_scalar(Config& c, const ScalarKey& key, const YAML::Node& v, int key_line) {
  auto text = scalar_text(v, key_line, key.name, key.expects);
  if (!text) return std::unexpected(text.error());
  if (SetResult r = key.set(c, *text); !r) return failure(line_of(v, key_line), fmt::format("{}: {}", key.name, r.error().message));
  return {};
}

struct SinkKey {
  std::string_view name;
  std::string_view expects;
};

constexpr std::array kSinkKeys{
    SinkKey{"type", "one of stdout, file, syslog, webhook, nats"},
    SinkKey{"format", "human or json"},
    SinkKey{"min_severity", "one of low, medium, high, critical"},
    SinkKey{"path", kPath},
    SinkKey{"address", "a syslog address (/dev/log, udp://HOST:PORT, tcp://HOST:PORT)"},
    SinkKey{"facility", "a syslog facility name (e.g. local0)"},
    SinkKey{"url", "an http:// or https:// URL (webhook), nats:// or tls:// URLs (nats)"},
    SinkKey{"timeout", kDuration},
    SinkKey{"retries", kCount},
    SinkKey{"queue", kCount},
    SinkKey{"subject", "a NATS subject (e.g. daemoneye.alerts.{host})"},
    SinkKey{"stream", "a JetStream stream name"},
    SinkKey{"credentials", kPath},
    SinkKey{"token", "a string"},
    SinkKey{"user", "a string"},
    SinkKey{"password", "a string"},
    SinkKey{"tls_ca", kPath},
    SinkKey{"tls_cert", kPath},
    SinkKey{"tls_key", kPath},
};

std::string_view sink_keys_of(SinkType t) {
  switch (t) {
    case SinkType::stdout_: return "type, format, min_severity";
    case SinkType::file: return "type, path, format, min_severity";
    case SinkType::syslog: return "type, address, facility, format, min_severity";
    case SinkType::webhook: return "type, url, timeout, retries, queue, min_severity";
    case SinkType::nats:
      return "type, url, subject, stream, spool, timeout, credentials, token, user, password, tls_ca, tls_cert, "
             "tls_key, min_severity";
  }
  return "";
}

// `keys`: "a, b, c".
bool key_listed(std::string_view keys, std::string_view key) {
  std::size_t pos = 0;
  while (pos <= keys.size()) {
    const auto comma = keys.find(", ", pos);
    const auto word = keys.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (word == key) return true;
    if (comma == std::string_view::npos) break;
    pos = comma + 2;
  }
  return false;
}

constexpr std::string_view kEventsNatsKeys =
    "url, subject, stream, spool, timeout, credentials, token, user, password, tls_ca, tls_cert, tls_key";

std::string_view sink_type_name(SinkType t) {
  switch (t) {
    case SinkType::stdout_: return "stdout";
    case SinkType::file: return "file";
    case SinkType::syslog: return "syslog";
    case SinkType::webhook: return "webhook";
    case SinkType::nats: return "nats";
  }
  return "stdout";
}

std::optional<SinkType> sink_type_of(std::string_view v) {
  if (v == "stdout") return SinkType::stdout_;
  if (v == "file") return SinkType::file;
  if (v == "syslog") return SinkType::syslog;
  if (v == "webhook") return SinkType::webhook;
  if (v == "nats") return SinkType::nats;
  return std::nullopt;
}

std::optional<Severity> severity_of(std::string_view v) {
  if (v == "low") return Severity::low;
  if (v == "medium") return Severity::medium;
  if (v == "high") return Severity::high;
  if (v == "critical") return Severity::critical;
  return std::nullopt;
}

SetResult set_sink_field(SinkConfig& s, std::string_view key, std::string_view v) {
  if (key == "format") {
    if (v == "human") s.format = SinkFormat::human;
    else if (v == "json") s.format = SinkFormat::json;
    else return bad(fmt::format("must be human or json, got '{}'", shown(v)));
    return {};
  }
  if (key == "min_severity") {
    const auto sev = severity_of(v);
    if (!sev) return bad(fmt::format("must be one of low, medium, high, critical, got '{}'", shown(v)));
    s.min_severity = *sev;
    return {};
  }
  if (key == "path") return set_path(s.path, v, false);
  if (key == "address") {
    if (auto a = detail::parse_syslog_address(v); !a) return std::unexpected(a.error());
    s.address = std::string(v);
    return {};
  }
  if (key == "facility") {
    if (auto f = osl::syslog::parse_facility(v); !f) return bad(f.error().message);
    s.facility = std::string(v);
    return {};
  }
  if (key == "url") {
    auto ok = s.type == SinkType::nats ? detail::check_nats_url(v) : detail::check_webhook_url(v);
    if (!ok) return std::unexpected(ok.error());
    s.url = std::string(v);
    return {};
  }
  if (key == "subject") {
    if (auto ok = detail::check_nats_subject(v); !ok) return std::unexpected(ok.error());
    s.subject = std::string(v);
    return {};
  }
  if (key == "stream") {
    if (auto ok = detail::check_nats_stream(v); !ok) return std::unexpected(ok.error());
    s.stream = std::string(v);
    return {};
  }
  if (key == "credentials") return set_path(s.credentials, v, false);
  if (key == "tls_ca") return set_path(s.tls_ca, v, false);
  if (key == "tls_cert") return set_path(s.tls_cert, v, false);
  if (key == "tls_key") return set_path(s.tls_key, v, false);
  if (key == "token" || key == "user" || key == "password") {
    if (v.empty()) return bad("must not be empty");
    if (v.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
    (key == "token" ? s.token : key == "user" ? s.user : s.password) = std::string(v);
    return {};
  }
  if (key == "timeout") return set_ms(s.timeout, v, 100ms, 10min);
  if (key == "retries") return set_count(s.retries, v, 0, 100);
  return set_count(s.queue, v, 1, 1'000'000);  // queue
}

// A nats sink's `spool: { dir: PATH, max_size: SIZE }`.
Walk read_nats_spool(SinkConfig& sink, const YAML::Node& v, int key_line, const std::string& what) {
  const int line = v.IsNull() ? key_line : line_of(v, key_line);
  if (!v.IsMap()) return failure(line, fmt::format("{} must be a mapping (dir, max_size), got {}", what, describe(v)));
  bool has_dir = false;
  Walk walked = for_each_entry(v, line, what, [&](const std::string& k, int kline, const YAML::Node& val) -> Walk {
    if (k != "dir" && k != "max_size") return failure(kline, fmt::format("unknown key '{}' in {} (known: dir, max_size)", shown(k), what));
    const std::string name = fmt::format("{}.{}", what, k);
    auto text = scalar_text(val, kline, name, k == "dir" ? kPath : kSize);
    if (!text) return std::unexpected(text.error());
    SetResult r = k == "dir" ? set_path(sink.spool_dir, *text, false) : set_size(sink.spool_max_size, *text, kMiB, "1MiB");
    if (r && k == "max_size" && sink.spool_max_size > detail::kNatsSpoolMaxSize) {
      // The whole spool is also held in the agent's memory.
      r = bad(fmt::format("must be at most 1GiB, got '{}'", shown(*text)));
    }
    if (!r) return failure(line_of(val, kline), fmt::format("{}: {}", name, r.error().message));
    has_dir = has_dir || k == "dir";
    return {};
  });
  if (!walked) return walked;
  if (!has_dir) return failure(line, what + ": missing 'dir' (where alerts wait for JetStream's ack)");
  return {};
}

std::expected<SinkConfig, Failure> read_sink_keys(const YAML::Node& v, int line, const std::string& what,
                                                  SinkConfig sink, std::string_view allowed);

std::expected<SinkConfig, Failure> read_sink(const YAML::Node& v, int line, int index) {
  std::string what = fmt::format("alerts.sinks #{}", index);
  if (!v.IsMap()) {
    return std::unexpected(Failure{line, fmt::format("{} must be a mapping with a 'type' (stdout, file, syslog, webhook, nats), got {}",
                                                     what, describe(v))});
  }
  // The type decides the defaults and which keys are allowed, wherever it is written.
  std::optional<SinkType> type;
  for (const auto& entry : v) {
    const YAML::Node key = entry.first;
    if (!key.IsScalar() || key.Scalar() != "type") continue;
    const int kline = line_of(key, line);
    auto text = scalar_text(entry.second, kline, what + ": type", kSinkKeys[0].expects);
    if (!text) return std::unexpected(text.error());
    type = sink_type_of(*text);
    if (!type) {
      return std::unexpected(Failure{line_of(entry.second, kline),
                                     fmt::format("{}: unknown sink type '{}' (one of stdout, file, syslog, webhook, nats)", what, shown(*text))});
    }
    break;
  }
  if (!type) return std::unexpected(Failure{line, what + ": missing 'type' (one of stdout, file, syslog, webhook, nats)"});
  SinkConfig sink;
  sink.type = *type;
  sink.format = *type == SinkType::stdout_ ? SinkFormat::human : SinkFormat::json;
  what += fmt::format(" ({})", sink_type_name(*type));
  return read_sink_keys(v, line, what, std::move(sink), sink_keys_of(*type));
}

// The keys of a sink mapping whose type is known (`sink` holds its
// defaults); `allowed` lists the keys it may have.
std::expected<SinkConfig, Failure> read_sink_keys(const YAML::Node& v, int line, const std::string& what,
                                                  SinkConfig sink, std::string_view allowed) {
  bool has_path = false;
  bool has_url = false;
  bool has_stream = false;
  bool has_spool = false;
  Walk walked = for_each_entry(v, line, what, [&](const std::string& k, int kline, const YAML::Node& val) -> Walk {
    if (!key_listed(allowed, k)) return failure(kline, fmt::format("unknown key '{}' in {} (known: {})", shown(k), what, allowed));
    if (k == "type") return {};
    if (k == "spool") {
      has_spool = true;
      return read_nats_spool(sink, val, kline, what + ": spool");
    }
    const std::string name = fmt::format("{}: {}", what, k);
    std::string_view expects;
    for (const SinkKey& sk : kSinkKeys) {
      if (sk.name == k) expects = sk.expects;
    }
    auto text = scalar_text(val, kline, name, expects);
    if (!text) return std::unexpected(text.error());
    if (SetResult r = set_sink_field(sink, k, *text); !r) {
      return failure(line_of(val, kline), fmt::format("{}: {}", name, r.error().message));
    }
    has_path = has_path || k == "path";
    has_url = has_url || k == "url";
    has_stream = has_stream || k == "stream";
    return {};
  });
  if (!walked) return std::unexpected(walked.error());
  if (sink.type == SinkType::file && !has_path) {
    return std::unexpected(Failure{line, what + ": missing 'path' (the file alerts are appended to)"});
  }
  if (sink.type == SinkType::webhook && !has_url) {
    return std::unexpected(Failure{line, what + ": missing 'url' (where alerts are POSTed)"});
  }
  if (sink.type == SinkType::nats) {
    if (!has_url) return std::unexpected(Failure{line, what + ": missing 'url' (the NATS servers, e.g. nats://127.0.0.1:4222)"});
    if (!has_stream) return std::unexpected(Failure{line, what + ": missing 'stream' (the JetStream stream that stores the alerts)"});
    if (!has_spool) return std::unexpected(Failure{line, what + ": missing 'spool' (e.g. spool: { dir: /var/lib/daemoneye/nats-spool })"});
    const int auths = int{!sink.credentials.empty()} + int{!sink.token.empty()} + int{!sink.user.empty()};
    if (auths > 1) {
      return std::unexpected(Failure{line, what + ": give one of credentials, token or user + password"});
    }
    if (sink.user.empty() != sink.password.empty()) {
      return std::unexpected(Failure{line, what + ": user and password go together"});
    }
    if (sink.tls_cert.empty() != sink.tls_key.empty()) {
      return std::unexpected(Failure{line, what + ": tls_cert and tls_key go together"});
    }
  }
  return sink;
}

Walk read_sinks(Config& c, const YAML::Node& v, int key_line) {
  const int line = v.IsNull() ? key_line : line_of(v, key_line);
  if (!v.IsSequence()) return failure(line, fmt::format("alerts.sinks must be a list of sinks, got {}", describe(v)));
  std::vector<SinkConfig> sinks;
  int index = 0;
  for (const auto& item : v) {
    auto sink = read_sink(item, line_of(item, line), ++index);
    if (!sink) return std::unexpected(sink.error());
    sinks.push_back(std::move(*sink));
  }
  c.alerts.sinks = std::move(sinks);  // a list replaces the lower layers' list
  return {};
}

// live_query.trusted_keys: a list of paths (each checked when the agent starts).
Walk read_trusted_keys(Config& c, const YAML::Node& v, int key_line) {
  const int line = v.IsNull() ? key_line : line_of(v, key_line);
  if (!v.IsSequence()) return failure(line, fmt::format("live_query.trusted_keys must be a list of paths, got {}", describe(v)));
  std::vector<std::filesystem::path> keys;
  for (const auto& item : v) {
    auto text = scalar_text(item, line, "live_query.trusted_keys entry", kPath);
    if (!text) return std::unexpected(text.error());
    std::filesystem::path p;
    if (SetResult r = set_path(p, *text, false); !r)
      return failure(line_of(item, line), "live_query.trusted_keys: " + r.error().message);
    keys.push_back(std::move(p));
  }
  c.live_query.trusted_keys = std::move(keys);  // a list replaces the lower layers' list
  return {};
}

// `events: { nats: { url, stream, spool, ... } }`.
Walk read_events(Config& c, const YAML::Node& v, int key_line) {
  if (v.IsNull()) return {};
  const int line = line_of(v, key_line);
  if (!v.IsMap()) return failure(line, fmt::format("events must be a mapping (nats), got {}", describe(v)));
  return for_each_entry(v, line, "events", [&](const std::string& k, int kline, const YAML::Node& val) -> Walk {
    if (k != "nats") return failure(kline, fmt::format("unknown key '{}' in events (known: nats)", shown(k)));
    const int vline = val.IsNull() ? kline : line_of(val, kline);
    if (!val.IsMap()) {
      return failure(vline, fmt::format("events.nats must be a mapping (url, stream, spool, ...), got {}", describe(val)));
    }
    SinkConfig sink;
    sink.type = SinkType::nats;
    sink.subject = "daemoneye.events.{host}";
    auto read = read_sink_keys(val, vline, "events.nats", std::move(sink), kEventsNatsKeys);
    if (!read) return std::unexpected(read.error());
    c.events.nats = std::move(*read);  // a layer that names it replaces the lower layers' one
    return {};
  });
}

Walk read_section(Config& c, std::string_view section, const YAML::Node& v, int key_line) {
  if (v.IsNull()) return {};
  if (!v.IsMap()) {
    return failure(line_of(v, key_line), fmt::format("{} must be a mapping ({}), got {}", section, known_in(section), describe(v)));
  }
  return for_each_entry(v, line_of(v, key_line), section, [&](const std::string& k, int kline, const YAML::Node& val) -> Walk {
    if (section == "alerts" && k == "sinks") return read_sinks(c, val, kline);
    if (section == "live_query" && k == "trusted_keys") return read_trusted_keys(c, val, kline);
    const ScalarKey* key = find_key(fmt::format("{}.{}", section, k));
    if (key == nullptr) {
      return failure(kline, fmt::format("unknown key '{}' in {} (known: {})", shown(k), section, known_in(section)));
    }
    return apply_scalar(c, *key, val, kline);
  });
}

Walk read_root(Config& c, const YAML::Node& root) {
  if (!root || root.IsNull()) return {};  // an empty file changes nothing
  const int line = line_of(root, 1);
  if (!root.IsMap()) {
    return failure(line, fmt::format("a config file must be a mapping of sections ({}), got {}", known_in(""), describe(root)));
  }
  return for_each_entry(root, line, "the top level", [&](const std::string& k, int kline, const YAML::Node& val) -> Walk {
    if (k == "events") return read_events(c, val, kline);
    for (const auto section : kSections) {
      if (k == section) return read_section(c, section, val, kline);
    }
    const ScalarKey* key = k.find('.') == std::string::npos ? find_key(k) : nullptr;
    if (key == nullptr) return failure(kline, fmt::format("unknown top-level key '{}' (known: {})", shown(k), known_in("")));
    return apply_scalar(c, *key, val, kline);
  });
}

std::string located(std::string_view source, const Failure& f) {
  if (f.line > 0) return fmt::format("{}:{}: {}", source, f.line, f.message);
  return fmt::format("{}: {}", source, f.message);
}

// ---- files and layers

// The whole file, at most kMaxConfigBytes. A missing file is not_found with
// errno_value ENOENT (apply_file skips a missing default layer).
Result<std::string> read_config_file(const std::filesystem::path& p) {
  // O_NONBLOCK: a FIFO planted at the path must not hang the agent before the fstat check.
  const int raw = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (raw < 0) return fail_errno(errno, p.string() + ": cannot open");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } const closer{raw};
  struct stat st {};
  if (::fstat(raw, &st) != 0) return fail_errno(errno, p.string() + ": cannot stat");
  if (!S_ISREG(st.st_mode)) return fail(ErrorCategory::invalid_input, fmt::format("{}: not a regular file", p.string()));
  if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes) {
    return fail(ErrorCategory::invalid_input, fmt::format("{}: {} bytes is too large for a config file (at most {} bytes)",
                                                          p.string(), st.st_size, kMaxConfigBytes));
  }
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(raw, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(errno, p.string() + ": cannot read");
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      return fail(ErrorCategory::invalid_input,
                  fmt::format("{}: too large for a config file (at most {} bytes)", p.string(), kMaxConfigBytes));
    }
  }
  return text;
}

std::optional<std::filesystem::path> default_user_file() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::filesystem::path(xdg) / "daemoneye" / "config.yaml";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::filesystem::path(home) / ".config" / "daemoneye" / "config.yaml";
  return std::nullopt;
}

Result<void> apply_file(Config& c, const std::filesystem::path& p, bool required) {
  auto text = read_config_file(p);
  if (!text) {
    if (text.error().errno_value == ENOENT && !required) return {};
    return std::unexpected(text.error());
  }
  return apply_yaml(c, *text, p.string());
}

Result<void> apply_env(Config& c, std::string_view name, std::string_view value) {
  if (!name.starts_with("DAEMONEYE_")) return {};
  for (const auto ignored : kIgnoredEnv) {
    if (name == ignored) return {};
  }
  for (const ScalarKey& k : kKeys) {
    if (env_name(k.name) == name) return set_key(c, k.name, value, name);
  }
  std::string known;
  for (const ScalarKey& k : kKeys) known += (known.empty() ? "" : ", ") + env_name(k.name);
  return fail(ErrorCategory::invalid_input, fmt::format("{}: unknown DAEMONEYE_* environment variable (known: {})", name, known));
}

// Checks between keys, once every layer is in.
Result<void> validate(const Config& c) {
  if (c.procmond.restart_max < c.procmond.restart_initial) {
    return fail(ErrorCategory::invalid_input,
                fmt::format("procmond.restart_max ({}) must not be less than procmond.restart_initial ({})",
                            show(c.procmond.restart_max), show(c.procmond.restart_initial)));
  }
  if (const auto& q = c.live_query; q.enabled) {
    if (q.url.empty())
      return fail(ErrorCategory::invalid_input, "live_query.enabled is true but live_query.url (the NATS servers) is not set");
    if (q.trusted_keys.empty())
      return fail(ErrorCategory::invalid_input,
                  "live_query.enabled is true but live_query.trusted_keys is empty (no key could sign a query)");
    if (!q.credentials.empty() && !q.token.empty())
      return fail(ErrorCategory::invalid_input, "live_query: give one of credentials or token");
    if (q.tls_cert.empty() != q.tls_key.empty())
      return fail(ErrorCategory::invalid_input, "live_query: tls_cert and tls_key go together");
  }
  return {};
}

}  // namespace

Result<void> apply_yaml(Config& config, std::string_view yaml, std::string_view source) {
  auto root = detail::load_yaml_document(yaml, kMaxConfigBytes, "a config file");
  if (!root) return fail(ErrorCategory::invalid_input, located(source, Failure{root.error().line, root.error().message}));
  Config updated = config;  // all of the document or nothing
  try {
    if (Walk r = read_root(updated, *root); !r) return fail(ErrorCategory::invalid_input, located(source, r.error()));
  } catch (const YAML::Exception& e) {
    return fail(ErrorCategory::invalid_input,
                located(source, Failure{e.mark.is_null() ? 0 : e.mark.line + 1, "YAML error: " + e.msg}));
  }
  config = std::move(updated);
  return {};
}

Result<void> set_key(Config& config, std::string_view dotted_key, std::string_view value, std::string_view source) {
  if (dotted_key == "live_query.trusted_keys") {
    return fail(ErrorCategory::invalid_input,
                fmt::format("{}: live_query.trusted_keys is a list of paths; set it in a config file", source));
  }
  if (dotted_key == "alerts.sinks") {
    return fail(ErrorCategory::invalid_input, fmt::format("{}: alerts.sinks is a list of sinks; set it in a config file", source));
  }
  if (dotted_key == "events.nats" || dotted_key.starts_with("events.nats.")) {
    return fail(ErrorCategory::invalid_input, fmt::format("{}: events.nats is a mapping; set it in a config file", source));
  }
  const ScalarKey* key = find_key(dotted_key);
  if (key == nullptr) {
    return fail(ErrorCategory::invalid_input, fmt::format("{}: unknown key '{}' (known: {})", source, shown(dotted_key), all_keys()));
  }
  if (SetResult r = key->set(config, value); !r) return std::unexpected(r.error().prefixed(fmt::format("{}: {}", source, key->name)));
  return {};
}

Result<Config> load_config(const ConfigInputs& inputs) {
  Config c;
  if (inputs.config_file) {
    if (auto r = apply_file(c, *inputs.config_file, true); !r) return std::unexpected(r.error());
  } else {
    if (auto r = apply_file(c, inputs.system_file, false); !r) return std::unexpected(r.error());
    if (const auto user = inputs.user_file ? inputs.user_file : default_user_file()) {
      if (auto r = apply_file(c, *user, false); !r) return std::unexpected(r.error());
    }
  }
  for (const auto& [name, value] : inputs.env) {
    if (auto r = apply_env(c, name, value); !r) return std::unexpected(r.error());
  }
  for (const auto& [key, value] : inputs.overrides) {
    if (auto r = set_key(c, key, value, "command line"); !r) return std::unexpected(r.error());
  }
  if (auto r = validate(c); !r) return std::unexpected(r.error());
  return c;
}

std::vector<std::pair<std::string, std::string>> daemoneye_environment(const char* const* envp) {
  std::vector<std::pair<std::string, std::string>> out;
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    const std::string_view entry(*envp);
    if (!entry.starts_with("DAEMONEYE_")) continue;
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return out;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> out;
  for (const ScalarKey& k : kKeys) out.emplace_back(k.name);
  return out;
}

std::string env_var_for(std::string_view dotted_key) { return env_name(dotted_key); }

}  // namespace airssys::daemoneye
