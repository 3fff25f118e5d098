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
#include <thread>
#include <tuple>

#include "json_fields.hpp"
#include "json_read.hpp"

namespace airssys::daemoneye {

using nlohmann::json;
// Written in field order (ordered_json), so the file reads top-down for people.
using detail::json_array;
using detail::fields_json;
using detail::json_field;
using detail::get_fields;
using detail::json_get;
using detail::json_member;
using detail::json_object;
using detail::JsonFieldError;
using detail::put_fields;
using nlohmann::ordered_json;

std::string_view to_string(AgentState s) noexcept { return s == AgentState::stopped ? "stopped" : "running"; }

std::string_view to_string(ReloadResult r) noexcept {
  switch (r) {
    case ReloadResult::ok: return "ok";
    case ReloadResult::partial: return "partial";
    case ReloadResult::failed: return "failed";
  }
  return "failed";
}

std::filesystem::path status_file_for(const std::filesystem::path& database) {
  const auto dir = database.parent_path();
  return (dir.empty() ? std::filesystem::path(".") : dir) / "status.json";
}

namespace {

constexpr std::string_view kWhere = "agent_status";

// The file's plain fields, one table per object, in the order they are
// written (docs/daemoneye.md "Status file"); the rest is written and read by
// hand around them.
using Rules = decltype(AgentStatus::rules);
using Alerts = decltype(AgentStatus::alerts);
using Procmond = decltype(AgentStatus::procmond);

constexpr auto kAgentFields = std::tuple{
    json_member("pid", &AgentStatus::pid),
    json_member("start_ticks", &AgentStatus::start_ticks),
    json_member("version", &AgentStatus::version),
    json_member("host", &AgentStatus::host),
    json_member("started_at", &AgentStatus::started_at),
    json_member("updated_at", &AgentStatus::updated_at),
    json_member("database", &AgentStatus::database),
    json_member("scan_interval_ms", &AgentStatus::scan_interval_ms),
    json_member("write_interval_ms", &AgentStatus::write_interval_ms)};

// Then rejected_count (never below the listed ones), rejected and failing.
constexpr auto kRulesFields = std::tuple{json_member("loaded", &Rules::loaded),
                                         json_member("enabled", &Rules::enabled)};

constexpr auto kLastScanFields = std::tuple{
    json_member("time", &LastScan::time),
    json_member("scan_id", &LastScan::scan_id),
    json_member("processes", &LastScan::processes),
    json_member("unreadable", &LastScan::unreadable),
    json_member("collect_us", &LastScan::collect_us),
    json_member("store_us", &LastScan::store_us),
    json_member("rules_us", &LastScan::rules_us),
    json_member("alerts", &LastScan::alerts),
    json_member("rule_errors", &LastScan::rule_errors)};

// Then "last" (an object or null).
constexpr auto kReloadFields = std::tuple{
    json_member("rules_loaded_at", &ReloadStatus::rules_loaded_at),
    json_member("last_ok_at", &ReloadStatus::last_ok_at),
    json_member("ok", &ReloadStatus::ok),
    json_member("partial", &ReloadStatus::partial),
    json_member("failed", &ReloadStatus::failed)};

// "result" is written and read by hand between the two.
constexpr auto kLastReloadTime = std::tuple{json_member("time", &LastReload::time)};
constexpr auto kLastReloadError = std::tuple{json_member("error", &LastReload::error)};

// Then "nats" when the agent has a nats sink.
constexpr auto kAlertsFields = std::tuple{
    json_member("raised", &Alerts::raised),
    json_member("deduplicated", &Alerts::deduplicated),
    json_member("rate_limited", &Alerts::rate_limited),
    json_member("sink_errors", &Alerts::sink_errors)};

constexpr auto kNatsFields = std::tuple{
    json_member("published", &NatsSinkCounters::published),
    json_member("acked", &NatsSinkCounters::acked),
    json_member("spooled", &NatsSinkCounters::spooled),
    json_member("dropped", &NatsSinkCounters::dropped),
    json_member("reconnects", &NatsSinkCounters::reconnects)};

// "accepted", then the "refused" map, then the rest.
constexpr auto kLiveQueryHead = std::tuple{json_member("accepted", &LiveQueryCounters::accepted)};
constexpr auto kLiveQueryFields = std::tuple{
    json_member("failed", &LiveQueryCounters::failed),
    json_member("answered", &LiveQueryCounters::answered),
    json_member("rows", &LiveQueryCounters::rows),
    json_member("dropped", &LiveQueryCounters::dropped),
    json_member("audit_suppressed", &LiveQueryCounters::audit_suppressed),
    json_member("failed_ledger", &LiveQueryCounters::failed_ledger, /*optional=*/true)};

constexpr auto kStoreFields = std::tuple{
    json_member("store_failures", &StoreBacklogCounters::store_failures),
    json_member("batches_pending", &StoreBacklogCounters::batches_pending),
    json_member("events_pending", &StoreBacklogCounters::events_pending),
    json_member("events_dropped", &StoreBacklogCounters::events_dropped),
    json_member("snapshots_superseded", &StoreBacklogCounters::snapshots_superseded),
    json_member("last_error", &StoreBacklogCounters::last_error)};

constexpr auto kCollectionFields = std::tuple{
    json_member("last", &CollectionHealth::last),
    json_member("stale", &CollectionHealth::stale),
    json_member("stale_since", &CollectionHealth::stale_since),
    json_member("stale_after_ms", &CollectionHealth::stale_after_ms),
    json_member("restarts", &CollectionHealth::restarts)};

// Then "status" (procmond's report or null) and "status_received".
constexpr auto kProcmondFields = std::tuple{
    json_member("running", &Procmond::running),
    json_member("pid", &Procmond::pid),
    json_member("exits", &Procmond::exits),
    json_member("crashes", &Procmond::crashes),
    json_member("spawns_refused", &Procmond::spawns_refused, /*optional=*/true)};

// An object read with one table; where: the path of `j` for messages.
template <class S, class Fields>
S from_fields(const json& j, const Fields& fields, std::string_view where) {
  if (!j.is_object()) throw JsonFieldError{std::string(where) + ": not an object"};
  S s{};
  get_fields(j, s, fields, where);
  return s;
}

// scans.last: its plain fields, then "unreadable_sample" (at most
// kUnreadableSampleMax; optional when read: an older agent writes none).
ordered_json last_scan_json(const LastScan& l) {
  ordered_json j = fields_json<ordered_json>(l, kLastScanFields);
  ordered_json sample = ordered_json::array();
  for (std::size_t i = 0; i < l.unreadable_sample.size() && i < kUnreadableSampleMax; ++i) {
    const UnreadableProcess& p = l.unreadable_sample[i];
    sample.push_back(ordered_json{{"pid", p.pid}, {"name", p.name}, {"missing", p.missing}});
  }
  j["unreadable_sample"] = std::move(sample);
  return j;
}

LastScan last_scan_from(const json& j) {
  constexpr std::string_view where = "agent_status.scans.last";
  LastScan l = from_fields<LastScan>(j, kLastScanFields, where);
  if (!j.contains("unreadable_sample")) return l;
  const json& sample = json_array(j, "unreadable_sample", where);
  for (std::size_t i = 0; i < sample.size(); ++i) {
    const std::string at = fmt::format("{}.unreadable_sample[{}]", where, i);
    if (!sample[i].is_object()) throw JsonFieldError{at + ": not an object"};
    UnreadableProcess p;
    json_get(sample[i], "pid", p.pid, at);
    json_get(sample[i], "name", p.name, at);
    const json& missing = json_array(sample[i], "missing", at);
    for (std::size_t k = 0; k < missing.size(); ++k) {
      if (!missing[k].is_string()) throw JsonFieldError{fmt::format("{}.missing[{}]: not a string", at, k)};
      p.missing.push_back(missing[k].get<std::string>());
    }
    l.unreadable_sample.push_back(std::move(p));
  }
  return l;
}

// decode_procmond_status names fields "status.x"; inside the status file
// they are "agent_status.procmond.status.x".
std::string relocate(std::string message) {
  constexpr std::string_view from = "status";
  if (message.starts_with(from)) return "agent_status.procmond." + message;
  return "agent_status.procmond.status: " + message;
}

ordered_json reload_json(const ReloadStatus& r) {
  ordered_json out = fields_json<ordered_json>(r, kReloadFields);
  if (r.last) {
    ordered_json last = fields_json<ordered_json>(*r.last, kLastReloadTime);
    last["result"] = to_string(r.last->result);
    put_fields(last, *r.last, kLastReloadError);
    out["last"] = std::move(last);
  } else {
    out["last"] = nullptr;
  }
  return out;
}

ReloadStatus reload_from(const json& j, std::string_view where) {
  auto r = from_fields<ReloadStatus>(j, kReloadFields, where);
  const std::string lw = std::string(where) + ".last";
  const json& last = json_field(j, "last", where);
  if (last.is_null()) return r;
  auto l = from_fields<LastReload>(last, kLastReloadTime, lw);
  std::string result;
  json_get(last, "result", result, lw);
  if (result == "ok")
    l.result = ReloadResult::ok;
  else if (result == "partial")
    l.result = ReloadResult::partial;
  else if (result == "failed")
    l.result = ReloadResult::failed;
  else
    throw JsonFieldError{lw + ".result: unknown result '" + result + "' (known: ok, partial, failed)"};
  get_fields(last, l, kLastReloadError, lw);
  r.last = std::move(l);
  return r;
}

ordered_json live_query_json(const LiveQueryCounters& c) {
  ordered_json refused = ordered_json::object();
  for (const auto& [reason, n] : c.refused) refused[reason] = n;
  ordered_json out = fields_json<ordered_json>(c, kLiveQueryHead);
  out["refused"] = std::move(refused);
  put_fields(out, c, kLiveQueryFields);
  return out;
}

LiveQueryCounters live_query_from(const json& j, std::string_view where) {
  auto c = from_fields<LiveQueryCounters>(j, kLiveQueryHead, where);
  get_fields(j, c, kLiveQueryFields, where);
  const json& refused = json_object(j, "refused", where);
  for (const auto& [reason, n] : refused.items()) {
    if (!n.is_number_unsigned())
      throw JsonFieldError{std::string(where) + ".refused." + reason + ": not a non-negative integer"};
    c.refused[reason] = n.get<std::uint64_t>();
  }
  return c;
}

ordered_json exceptions_json(const std::vector<ExceptionStats>& list) {
  ordered_json out = ordered_json::array();
  for (const ExceptionStats& e : list)
    out.push_back(ordered_json{{"id", e.id},           {"rule", e.rule},         {"reason", e.reason},
                               {"owner", e.owner},     {"ticket", e.ticket},     {"file", e.file},
                               {"expires", e.expires}, {"expired", e.expired},   {"hits", e.hits},
                               {"last_hit", e.last_hit}, {"weak", !e.weak.empty()},
                               {"weak_reason", e.weak}});
  return out;
}

std::vector<ExceptionStats> exceptions_from(const json& list) {
  if (!list.is_array()) throw JsonFieldError{"agent_status.exceptions: not an array"};
  std::vector<ExceptionStats> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string w = fmt::format("agent_status.exceptions[{}]", i);
    if (!list[i].is_object()) throw JsonFieldError{w + ": not an object"};
    ExceptionStats e;
    json_get(list[i], "id", e.id, w);
    json_get(list[i], "rule", e.rule, w);
    json_get(list[i], "reason", e.reason, w);
    json_get(list[i], "owner", e.owner, w);
    json_get(list[i], "ticket", e.ticket, w);
    json_get(list[i], "file", e.file, w);
    json_get(list[i], "expires", e.expires, w);
    json_get(list[i], "expired", e.expired, w);
    json_get(list[i], "hits", e.hits, w);
    json_get(list[i], "last_hit", e.last_hit, w);
    // Optional: agents before weak exceptions were marked write neither.
    // "weak" is !weak_reason.empty(), written for readers; checked, not kept.
    if (list[i].contains("weak")) {
      bool weak = false;
      json_get(list[i], "weak", weak, w);
    }
    if (list[i].contains("weak_reason")) json_get(list[i], "weak_reason", e.weak, w);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::string encode(const AgentStatus& s) {
  ordered_json rejected = ordered_json::array();
  for (std::size_t i = 0; i < s.rules.rejected.size() && i < kAgentStatusMaxListed; ++i)
    rejected.push_back(
        ordered_json{{"file", s.rules.rejected[i].file}, {"message", s.rules.rejected[i].message}});
  ordered_json rules = fields_json<ordered_json>(s.rules, kRulesFields);
  rules["rejected_count"] = std::max<std::uint64_t>(s.rules.rejected_count, s.rules.rejected.size());
  rules["rejected"] = std::move(rejected);
  rules["failing"] = s.rules.failing;
  if (!s.rules.cut.empty()) {
    ordered_json cut = ordered_json::object();
    for (const auto& [id, n] : s.rules.cut) cut[id] = n;
    rules["cut"] = std::move(cut);
  }

  ordered_json alerts = fields_json<ordered_json>(s.alerts, kAlertsFields);
  if (s.nats) alerts["nats"] = fields_json<ordered_json>(*s.nats, kNatsFields);

  ordered_json procmond = fields_json<ordered_json>(s.procmond, kProcmondFields);
  procmond["status"] =
      s.procmond_status ? ordered_json::parse(encode(*s.procmond_status)) : ordered_json(nullptr);
  procmond["status_received"] = s.procmond_status_received;

  ordered_json j{{"format", kAgentStatusFormat}, {"state", to_string(s.state)}};
  put_fields(j, s, kAgentFields);
  j["rules"] = std::move(rules);
  if (s.reload) j["reload"] = reload_json(*s.reload);
  j["scans"] = ordered_json{{"done", s.scans},
                            {"last", s.last_scan ? last_scan_json(*s.last_scan) : ordered_json(nullptr)}};
  j["alerts"] = std::move(alerts);
  j["store"] = fields_json<ordered_json>(s.store, kStoreFields);
  j["store"]["failing_since"] = s.store_failing_since;
  if (s.collections) j["collections"] = fields_json<ordered_json>(*s.collections, kCollectionFields);
  j["procmond"] = std::move(procmond);
  if (s.events_nats)
    j["events"] = ordered_json{{"nats", fields_json<ordered_json>(*s.events_nats, kNatsFields)}};
  if (s.live_query) j["live_query"] = live_query_json(*s.live_query);
  j["exceptions"] = exceptions_json(s.exceptions);
  ordered_json rejected_exceptions = ordered_json::array();
  for (std::size_t i = 0; i < s.exceptions_rejected.size() && i < kAgentStatusMaxListed; ++i)
    rejected_exceptions.push_back(s.exceptions_rejected[i]);
  j["exceptions_rejected"] = std::move(rejected_exceptions);
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
    get_fields(j, s, kAgentFields, kWhere);

    const json& rules = json_object(j, "rules", kWhere);
    constexpr std::string_view rw = "agent_status.rules";
    get_fields(rules, s.rules, kRulesFields, rw);
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
    if (rules.contains("cut")) {  // optional: absent when no result was cut
      const json& cut = json_object(rules, "cut", rw);
      for (const auto& [id, n] : cut.items()) {
        if (!n.is_number_unsigned())
          throw JsonFieldError{fmt::format("agent_status.rules.cut.{}: not a non-negative integer", id)};
        s.rules.cut[id] = n.get<std::uint64_t>();
      }
    }
    const json& failing = json_array(rules, "failing", rw);
    for (std::size_t i = 0; i < failing.size(); ++i) {
      if (!failing[i].is_string())
        throw JsonFieldError{fmt::format("agent_status.rules.failing[{}]: not a string", i)};
      s.rules.failing.push_back(failing[i].get<std::string>());
    }

    // Optional: an agent from before it writes none.
    if (auto r = j.find("reload"); r != j.end()) s.reload = reload_from(*r, "agent_status.reload");

    const json& scans = json_object(j, "scans", kWhere);
    json_get(scans, "done", s.scans, "agent_status.scans");
    const json& last = json_field(scans, "last", "agent_status.scans");
    if (!last.is_null()) {
      if (!last.is_object()) throw JsonFieldError{"agent_status.scans.last: not an object or null"};
      s.last_scan = last_scan_from(last);
    }

    const json& alerts = json_object(j, "alerts", kWhere);
    get_fields(alerts, s.alerts, kAlertsFields, "agent_status.alerts");
    // Optional: only an agent with a nats sink writes it.
    if (auto n = alerts.find("nats"); n != alerts.end())
      s.nats = from_fields<NatsSinkCounters>(*n, kNatsFields, "agent_status.alerts.nats");
    // Optional: only an agent that forwards events writes it.
    if (auto ev = j.find("events"); ev != j.end()) {
      if (!ev->is_object()) throw JsonFieldError{"agent_status.events: not an object"};
      if (auto n = ev->find("nats"); n != ev->end())
        s.events_nats = from_fields<NatsSinkCounters>(*n, kNatsFields, "agent_status.events.nats");
    }
    // Optional: only an agent answering live queries writes it.
    if (auto lq = j.find("live_query"); lq != j.end()) s.live_query = live_query_from(*lq, "agent_status.live_query");
    // Optional: an agent from before rule exceptions writes neither.
    if (auto ex = j.find("exceptions"); ex != j.end()) s.exceptions = exceptions_from(*ex);
    if (auto ex = j.find("exceptions_rejected"); ex != j.end()) {
      if (!ex->is_array()) throw JsonFieldError{"agent_status.exceptions_rejected: not an array"};
      for (std::size_t i = 0; i < ex->size(); ++i) {
        if (!(*ex)[i].is_string())
          throw JsonFieldError{fmt::format("agent_status.exceptions_rejected[{}]: not a string", i)};
        s.exceptions_rejected.push_back((*ex)[i].get<std::string>());
      }
    }
    // Optional: an agent from before it writes none (see AgentStatus::store).
    if (auto st = j.find("store"); st != j.end()) {
      s.store = from_fields<StoreBacklogCounters>(*st, kStoreFields, "agent_status.store");
      if (st->contains("failing_since")) json_get(*st, "failing_since", s.store_failing_since, "agent_status.store");
    }
    // Optional: an agent from before it writes none.
    if (auto c = j.find("collections"); c != j.end())
      s.collections = from_fields<CollectionHealth>(*c, kCollectionFields, "agent_status.collections");

    const json& pm = json_object(j, "procmond", kWhere);
    constexpr std::string_view pw = "agent_status.procmond";
    get_fields(pm, s.procmond, kProcmondFields, pw);
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

static Result<void> write_status_atomically(const std::filesystem::path& path, const std::string& text);

namespace {

// Trailing spaces after the JSON (still valid JSON): room for a later
// status, a little longer, to be written over this one in place when the
// file system is full (overwrite_in_place).
constexpr std::size_t kStatusSlack = 1024;

// A full file system (or quota) leaves no room for the new temporary file,
// yet the status must then say why (the store fails for the same reason):
// the new text is written over the existing file's own bytes, padded with
// spaces to its length, when it fits. Not atomic: a reader may meet a torn
// file for that moment (it says corrupt, and reads again later).
bool overwrite_in_place(const std::filesystem::path& path, const std::string& text) {
  osl::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (text.size() > static_cast<std::size_t>(st.st_size)) return false;
  std::string padded = text;
  padded.resize(static_cast<std::size_t>(st.st_size), ' ');
  std::string_view rest = padded;
  for (off_t at = 0; !rest.empty();) {
    const ssize_t n = ::pwrite(fd.get(), rest.data(), rest.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    rest.remove_prefix(static_cast<std::size_t>(n));
    at += n;
  }
  return true;
}

}  // namespace

Result<void> write_status_file(const std::filesystem::path& path, const AgentStatus& s) {
  const std::string json_text = encode(s);
  std::string text = json_text;
  text.append(kStatusSlack, ' ');
  text += '\n';
  auto written = write_status_atomically(path, text);
  if (!written && (written.error().errno_value == ENOSPC || written.error().errno_value == EDQUOT) &&
      overwrite_in_place(path, json_text))
    return {};
  return written;
}

// A new file in the same directory, renamed over `path`.
static Result<void> write_status_atomically(const std::filesystem::path& path, const std::string& text) {
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

namespace {

Result<std::optional<AgentStatus>> read_status_once(const std::filesystem::path& path) {
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

}  // namespace

Result<std::optional<AgentStatus>> read_status_file(const std::filesystem::path& path) {
  // On a full disk the agent writes the file in place (no room for a
  // temporary beside it): a read may meet half of that write. Read again a
  // little later before calling the file damaged.
  auto r = read_status_once(path);
  for (int again = 0; again < 2 && !r && r.error().category == ErrorCategory::corrupt; ++again) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    r = read_status_once(path);
  }
  return r;
}

}  // namespace airssys::daemoneye
