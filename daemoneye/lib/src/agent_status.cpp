#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/osl/unique_fd.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "json_read.hpp"

namespace airssys::daemoneye {

using nlohmann::json;
// Written in field order (ordered_json), so the file reads top-down for people.
using detail::json_array;
using detail::json_field;
using detail::json_get;
using detail::json_object;
using detail::JsonFieldError;
using nlohmann::ordered_json;

std::string_view to_string(AgentState s) noexcept { return s == AgentState::stopped ? "stopped" : "running"; }

std::filesystem::path status_file_for(const std::filesystem::path& database) {
  const auto dir = database.parent_path();
  return (dir.empty() ? std::filesystem::path(".") : dir) / "status.json";
}

namespace {

constexpr std::string_view kWhere = "agent_status";

ordered_json last_scan_json(const LastScan& l) {
  return ordered_json{{"time", l.time},
                      {"scan_id", l.scan_id},
                      {"processes", l.processes},
                      {"unreadable", l.unreadable},
                      {"collect_us", l.collect_us},
                      {"store_us", l.store_us},
                      {"rules_us", l.rules_us},
                      {"alerts", l.alerts},
                      {"rule_errors", l.rule_errors}};
}

LastScan last_scan_from(const json& j, std::string_view where) {
  LastScan l;
  json_get(j, "time", l.time, where);
  json_get(j, "scan_id", l.scan_id, where);
  json_get(j, "processes", l.processes, where);
  json_get(j, "unreadable", l.unreadable, where);
  json_get(j, "collect_us", l.collect_us, where);
  json_get(j, "store_us", l.store_us, where);
  json_get(j, "rules_us", l.rules_us, where);
  json_get(j, "alerts", l.alerts, where);
  json_get(j, "rule_errors", l.rule_errors, where);
  return l;
}

// decode_procmond_status names fields "status.x"; inside the status file
// they are "agent_status.procmond.status.x".
std::string relocate(std::string message) {
  constexpr std::string_view from = "status";
  if (message.starts_with(from)) return "agent_status.procmond." + message;
  return "agent_status.procmond.status: " + message;
}

ordered_json nats_json(const NatsSinkCounters& n) {
  return ordered_json{{"published", n.published}, {"acked", n.acked},
                      {"spooled", n.spooled},     {"dropped", n.dropped},
                      {"reconnects", n.reconnects}};
}

NatsSinkCounters nats_counters_from(const json& n, std::string_view where) {
  if (!n.is_object()) throw JsonFieldError{std::string(where) + ": not an object"};
  NatsSinkCounters c;
  json_get(n, "published", c.published, where);
  json_get(n, "acked", c.acked, where);
  json_get(n, "spooled", c.spooled, where);
  json_get(n, "dropped", c.dropped, where);
  json_get(n, "reconnects", c.reconnects, where);
  return c;
}

ordered_json live_query_json(const LiveQueryCounters& c) {
  ordered_json refused = ordered_json::object();
  for (const auto& [reason, n] : c.refused) refused[reason] = n;
  return ordered_json{{"accepted", c.accepted}, {"refused", std::move(refused)},   {"failed", c.failed},
                      {"answered", c.answered}, {"rows", c.rows},                  {"dropped", c.dropped},
                      {"audit_suppressed", c.audit_suppressed}, {"failed_ledger", c.failed_ledger}};
}

LiveQueryCounters live_query_from(const json& j, std::string_view where) {
  if (!j.is_object()) throw JsonFieldError{std::string(where) + ": not an object"};
  LiveQueryCounters c;
  json_get(j, "accepted", c.accepted, where);
  json_get(j, "failed", c.failed, where);
  json_get(j, "answered", c.answered, where);
  json_get(j, "rows", c.rows, where);
  json_get(j, "dropped", c.dropped, where);
  json_get(j, "audit_suppressed", c.audit_suppressed, where);
  // Absent from an agent that predates it.
  if (j.contains("failed_ledger")) json_get(j, "failed_ledger", c.failed_ledger, where);
  const json& refused = json_object(j, "refused", where);
  for (const auto& [reason, n] : refused.items()) {
    if (!n.is_number_unsigned())
      throw JsonFieldError{std::string(where) + ".refused." + reason + ": not a non-negative integer"};
    c.refused[reason] = n.get<std::uint64_t>();
  }
  return c;
}

// "alerts": the pipeline's counters, and the nats sinks' when there are any.
ordered_json alerts_json(const AgentStatus& s) {
  ordered_json a{{"raised", s.alerts.raised},
                 {"deduplicated", s.alerts.deduplicated},
                 {"rate_limited", s.alerts.rate_limited},
                 {"sink_errors", s.alerts.sink_errors}};
  if (s.nats) a["nats"] = nats_json(*s.nats);
  return a;
}

}  // namespace

std::string encode(const AgentStatus& s) {
  ordered_json alerts = alerts_json(s);
  ordered_json rejected = ordered_json::array();
  for (std::size_t i = 0; i < s.rules.rejected.size() && i < kAgentStatusMaxListed; ++i)
    rejected.push_back(
        ordered_json{{"file", s.rules.rejected[i].file}, {"message", s.rules.rejected[i].message}});
  ordered_json procmond{
      {"running", s.procmond.running},
      {"pid", s.procmond.pid},
      {"exits", s.procmond.exits},
      {"crashes", s.procmond.crashes},
      {"status", s.procmond_status ? ordered_json::parse(encode(*s.procmond_status)) : ordered_json(nullptr)},
      {"status_received", s.procmond_status_received}};
  ordered_json j{
      {"format", kAgentStatusFormat},
      {"state", to_string(s.state)},
      {"pid", s.pid},
      {"start_ticks", s.start_ticks},
      {"version", s.version},
      {"host", s.host},
      {"started_at", s.started_at},
      {"updated_at", s.updated_at},
      {"database", s.database},
      {"scan_interval_ms", s.scan_interval_ms},
      {"write_interval_ms", s.write_interval_ms},
      {"rules", ordered_json{{"loaded", s.rules.loaded},
                             {"enabled", s.rules.enabled},
                             {"rejected_count",
                              std::max<std::uint64_t>(s.rules.rejected_count, s.rules.rejected.size())},
                             {"rejected", std::move(rejected)},
                             {"failing", s.rules.failing}}},
      {"scans", ordered_json{{"done", s.scans},
                             {"last", s.last_scan ? last_scan_json(*s.last_scan) : ordered_json(nullptr)}}},
      {"alerts", std::move(alerts)},
      {"store", ordered_json{{"store_failures", s.store.store_failures},
                             {"batches_pending", s.store.batches_pending},
                             {"events_pending", s.store.events_pending},
                             {"events_dropped", s.store.events_dropped},
                             {"snapshots_superseded", s.store.snapshots_superseded},
                             {"last_error", s.store.last_error}}},
      {"procmond", std::move(procmond)}};
  if (s.events_nats) j["events"] = ordered_json{{"nats", nats_json(*s.events_nats)}};
  if (s.live_query) j["live_query"] = live_query_json(*s.live_query);
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

Result<AgentStatus> decode_agent_status(std::string_view text) {
  try {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return fail(ErrorCategory::invalid_input, "agent_status: not valid JSON");
    if (!j.is_object()) return fail(ErrorCategory::invalid_input, "agent_status: not a JSON object");
    AgentStatus s;
    int format = 0;
    json_get(j, "format", format, kWhere);
    if (format != kAgentStatusFormat)
      throw JsonFieldError{fmt::format(
          "agent_status.format: {} is not the format this program reads ({}){}", format, kAgentStatusFormat,
          format > kAgentStatusFormat ? "; it was written by a newer agent" : "")};
    std::string state;
    json_get(j, "state", state, kWhere);
    if (state == "running")
      s.state = AgentState::running;
    else if (state == "stopped")
      s.state = AgentState::stopped;
    else
      throw JsonFieldError{"agent_status.state: unknown state '" + state + "' (known: running, stopped)"};
    json_get(j, "pid", s.pid, kWhere);
    json_get(j, "start_ticks", s.start_ticks, kWhere);
    json_get(j, "version", s.version, kWhere);
    json_get(j, "host", s.host, kWhere);
    json_get(j, "started_at", s.started_at, kWhere);
    json_get(j, "updated_at", s.updated_at, kWhere);
    json_get(j, "database", s.database, kWhere);
    json_get(j, "scan_interval_ms", s.scan_interval_ms, kWhere);
    json_get(j, "write_interval_ms", s.write_interval_ms, kWhere);

    const json& rules = json_object(j, "rules", kWhere);
    constexpr std::string_view rw = "agent_status.rules";
    json_get(rules, "loaded", s.rules.loaded, rw);
    json_get(rules, "enabled", s.rules.enabled, rw);
    json_get(rules, "rejected_count", s.rules.rejected_count, rw);
    const json& rejected = json_array(rules, "rejected", rw);
    for (std::size_t i = 0; i < rejected.size(); ++i) {
      const std::string where = fmt::format("agent_status.rules.rejected[{}]", i);
      if (!rejected[i].is_object()) throw JsonFieldError{where + ": not an object"};
      RejectedRule r;
      json_get(rejected[i], "file", r.file, where);
      json_get(rejected[i], "message", r.message, where);
      s.rules.rejected.push_back(std::move(r));
    }
    const json& failing = json_array(rules, "failing", rw);
    for (std::size_t i = 0; i < failing.size(); ++i) {
      if (!failing[i].is_string())
        throw JsonFieldError{fmt::format("agent_status.rules.failing[{}]: not a string", i)};
      s.rules.failing.push_back(failing[i].get<std::string>());
    }

    const json& scans = json_object(j, "scans", kWhere);
    json_get(scans, "done", s.scans, "agent_status.scans");
    const json& last = json_field(scans, "last", "agent_status.scans");
    if (!last.is_null()) {
      if (!last.is_object()) throw JsonFieldError{"agent_status.scans.last: not an object or null"};
      s.last_scan = last_scan_from(last, "agent_status.scans.last");
    }

    const json& alerts = json_object(j, "alerts", kWhere);
    constexpr std::string_view aw = "agent_status.alerts";
    json_get(alerts, "raised", s.alerts.raised, aw);
    json_get(alerts, "deduplicated", s.alerts.deduplicated, aw);
    json_get(alerts, "rate_limited", s.alerts.rate_limited, aw);
    json_get(alerts, "sink_errors", s.alerts.sink_errors, aw);
    // Optional: only an agent with a nats sink writes it.
    if (auto n = alerts.find("nats"); n != alerts.end()) s.nats = nats_counters_from(*n, "agent_status.alerts.nats");
    // Optional: only an agent that forwards events writes it.
    if (auto ev = j.find("events"); ev != j.end()) {
      if (!ev->is_object()) throw JsonFieldError{"agent_status.events: not an object"};
      if (auto n = ev->find("nats"); n != ev->end()) s.events_nats = nats_counters_from(*n, "agent_status.events.nats");
    }
    // Optional: only an agent answering live queries writes it.
    if (auto lq = j.find("live_query"); lq != j.end()) s.live_query = live_query_from(*lq, "agent_status.live_query");

    // Optional: an agent from before it writes none (see AgentStatus::store).
    if (auto st = j.find("store"); st != j.end()) {
      if (!st->is_object()) throw JsonFieldError{"agent_status.store: not an object"};
      constexpr std::string_view sw = "agent_status.store";
      json_get(*st, "store_failures", s.store.store_failures, sw);
      json_get(*st, "batches_pending", s.store.batches_pending, sw);
      json_get(*st, "events_pending", s.store.events_pending, sw);
      json_get(*st, "events_dropped", s.store.events_dropped, sw);
      json_get(*st, "snapshots_superseded", s.store.snapshots_superseded, sw);
      json_get(*st, "last_error", s.store.last_error, sw);
    }

    const json& pm = json_object(j, "procmond", kWhere);
    constexpr std::string_view pw = "agent_status.procmond";
    json_get(pm, "running", s.procmond.running, pw);
    json_get(pm, "pid", s.procmond.pid, pw);
    json_get(pm, "exits", s.procmond.exits, pw);
    json_get(pm, "crashes", s.procmond.crashes, pw);
    json_get(pm, "status_received", s.procmond_status_received, pw);
    const json& ps = json_field(pm, "status", pw);
    if (!ps.is_null()) {
      if (!ps.is_object()) throw JsonFieldError{"agent_status.procmond.status: not an object or null"};
      auto decoded = decode_procmond_status(ps.dump());
      if (!decoded) throw JsonFieldError{relocate(decoded.error().message)};
      s.procmond_status = std::move(*decoded);
    }
    return s;
  } catch (const JsonFieldError& e) {
    return fail(ErrorCategory::invalid_input, e.what);
  } catch (const json::exception& e) {
    return fail(ErrorCategory::invalid_input, std::string("agent_status: ") + e.what());
  }
}

namespace {

std::string errno_text(int e) {
  return e == ELOOP ? "it is a symbolic link (not followed)" : std::strerror(e);
}

// from_errno's category and errno, with errno_text's wording.
std::unexpected<Error> os_failure(int e, const std::string& what) {
  Error err = Error::from_errno(e, what);
  err.message = fmt::format("{}: {}", what, errno_text(e));
  return std::unexpected(std::move(err));
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Result<void> write_status_file(const std::filesystem::path& path, const AgentStatus& s) {
  const std::string text = encode(s);
  const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  // A fresh name each try: O_EXCL never opens a file someone left or planted.
  static std::atomic<std::uint64_t> counter{0};
  std::filesystem::path tmp;
  osl::UniqueFd fd;
  for (int attempt = 0; attempt < 16 && !fd; ++attempt) {
    const auto nonce =
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    tmp = dir / fmt::format(".{}.{}.{}.{:x}.tmp", path.filename().string(), ::getpid(), counter.fetch_add(1),
                            nonce);
    fd = osl::UniqueFd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!fd && errno != EEXIST)
      return os_failure(errno, tmp.string() + ": cannot create");
  }
  if (!fd)
    return fail(ErrorCategory::io, fmt::format("{}: cannot create a temporary file in {}", path.string(), dir.string()));
  if (!write_all(fd.get(), text)) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return os_failure(e, tmp.string() + ": cannot write");
  }
  if (::close(fd.release()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return os_failure(e, tmp.string() + ": cannot write");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return os_failure(e, path.string() + ": cannot replace");
  }
  return {};
}

Result<std::optional<AgentStatus>> read_status_file(const std::filesystem::path& path) {
  osl::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    if (errno == ENOENT) return std::optional<AgentStatus>{};
    return os_failure(errno, path.string() + ": cannot open");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return os_failure(errno, path.string() + ": cannot stat");
  if (!S_ISREG(st.st_mode)) return fail(ErrorCategory::invalid_input, fmt::format("{}: not a regular file", path.string()));
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return os_failure(errno, path.string() + ": cannot read");
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kAgentStatusMaxBytes)
      return fail(ErrorCategory::corrupt,
                  fmt::format("{}: larger than {} bytes; not a status file", path.string(), kAgentStatusMaxBytes));
  }
  auto s = decode_agent_status(text);
  // What the agent wrote does not read back: damaged, not malformed input.
  if (!s) return fail(ErrorCategory::corrupt, fmt::format("{}: {}", path.string(), s.error().message));
  return std::optional<AgentStatus>(std::move(*s));
}

}  // namespace airssys::daemoneye
