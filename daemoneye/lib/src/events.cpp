#include <airssys/daemoneye/events.hpp>

#include "json_fields.hpp"
#include "json_read.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <tuple>
#include <utility>

namespace airssys::daemoneye {

using nlohmann::json;
using detail::fields_json;
using detail::get_fields;
using detail::json_field;
using detail::json_get;
using detail::json_member;
using detail::json_sometimes;
using detail::JsonFieldError;
using detail::put_fields;

std::string_view to_string(EventKind k) noexcept {
  switch (k) {
    case EventKind::start: return "start";
    case EventKind::stop: return "stop";
    case EventKind::exec: return "exec";
  }
  return "start";
}

std::string_view subject_of(EventKind k) noexcept {
  switch (k) {
    case EventKind::start: return kSubjectStart;
    case EventKind::stop: return kSubjectStop;
    case EventKind::exec: return kSubjectExec;
  }
  return kSubjectStart;
}

std::string_view to_string(EventSource s) noexcept {
  switch (s) {
    case EventSource::poll: return "poll";
    case EventSource::proc_connector: return "proc_connector";
    case EventSource::ebpf: return "ebpf";
  }
  return "poll";
}

std::optional<EventSource> event_source_from(std::string_view s) noexcept {
  if (s == "poll") return EventSource::poll;
  if (s == "proc_connector") return EventSource::proc_connector;
  if (s == "ebpf") return EventSource::ebpf;
  return std::nullopt;
}

std::string_view to_string(PathFrom p) noexcept {
  switch (p) {
    case PathFrom::none: return "";
    case PathFrom::exec: return "exec";
    case PathFrom::detached: return "detached";
    case PathFrom::proc: return "proc";
    case PathFrom::given: return "given";
    case PathFrom::interp: return "interp";
  }
  return "";
}

std::optional<PathFrom> path_from_of(std::string_view s) noexcept {
  if (s == "exec") return PathFrom::exec;
  if (s == "detached") return PathFrom::detached;
  if (s == "proc") return PathFrom::proc;
  if (s == "given") return PathFrom::given;
  if (s == "interp") return PathFrom::interp;
  return std::nullopt;
}

namespace {

// The messages' plain fields, one table per struct (json_fields.hpp). The
// encoders write a json (keys sorted), so a table's order is the order in
// which a decoder checks the fields; the rest is written and read by hand
// between the tables.

// osquery's processes columns: then cpu_percent (a double), then kColumnsTail.
constexpr auto kColumnsHead = std::tuple{
    json_member("pid", &ProcessRecord::pid),
    json_member("parent", &ProcessRecord::parent),
    json_member("pgroup", &ProcessRecord::pgroup),
    json_member("sid", &ProcessRecord::sid),
    json_member("name", &ProcessRecord::name),
    json_member("path", &ProcessRecord::path),
    json_member("cmdline", &ProcessRecord::cmdline),
    json_member("cwd", &ProcessRecord::cwd),
    json_member("root", &ProcessRecord::root),
    json_member("uid", &ProcessRecord::uid),
    json_member("gid", &ProcessRecord::gid),
    json_member("euid", &ProcessRecord::euid),
    json_member("egid", &ProcessRecord::egid),
    json_member("suid", &ProcessRecord::suid),
    json_member("sgid", &ProcessRecord::sgid),
    json_member("username", &ProcessRecord::username),
    json_member("auid", &ProcessRecord::auid),
    json_member("on_disk", &ProcessRecord::on_disk),
    json_member("state", &ProcessRecord::state),
    json_member("threads", &ProcessRecord::threads),
    json_member("nice", &ProcessRecord::nice),
    json_member("start_time", &ProcessRecord::start_time),
    json_member("user_time", &ProcessRecord::user_time),
    json_member("system_time", &ProcessRecord::system_time),
    json_member("resident_size", &ProcessRecord::resident_size),
    json_member("total_size", &ProcessRecord::total_size),
    json_member("disk_bytes_read", &ProcessRecord::disk_bytes_read),
    json_member("disk_bytes_written", &ProcessRecord::disk_bytes_written),
    json_member("cgroup_path", &ProcessRecord::cgroup_path),
    json_member("tty", &ProcessRecord::tty),
    json_member("sha256", &ProcessRecord::sha256)};
// root_is_host and host_on_disk (schema 5) may be absent: a message of an
// older procmond still reads, with both unknown (-1).
constexpr auto kColumnsTail = std::tuple{json_member("container_id", &ProcessRecord::container_id),
                                         json_member("root_is_host", &ProcessRecord::root_is_host, true),
                                         json_member("host_on_disk", &ProcessRecord::host_on_disk, true)};

// Not columns: on the wire (events, snapshots), not in alerts.
constexpr auto kRecordWireFields = std::tuple{
    json_member("start_ticks", &ProcessRecord::start_ticks),
    json_member("exe_dev", &ProcessRecord::exe_dev),
    json_member("exe_ino", &ProcessRecord::exe_ino),
    json_member("partial", &ProcessRecord::partial)};

json columns_of(const ProcessRecord& r) {
  json j = json::object();
  put_fields(j, r, kColumnsHead);
  j["cpu_percent"] = r.cpu_percent;
  put_fields(j, r, kColumnsTail);
  return j;
}

json wire_of(const ProcessRecord& r) {
  json j = columns_of(r);
  put_fields(j, r, kRecordWireFields);
  return j;
}

ProcessRecord record_from(const json& j, const std::string& where) {
  if (!j.is_object()) throw JsonFieldError{where + ": not an object"};
  ProcessRecord r;
  get_fields(j, r, kColumnsHead, where);
  const json& cpu = json_field(j, "cpu_percent", where);
  if (!cpu.is_number()) throw JsonFieldError{where + ".cpu_percent: not a number"};
  r.cpu_percent = cpu.get<double>();
  get_fields(j, r, kColumnsTail, where);
  get_fields(j, r, kRecordWireFields, where);
  return r;
}

// Then "process". The kernel sources' extras are sent only when known, so a
// poll event stays as small as before.
constexpr auto kEventFields = std::tuple{
    json_member("time", &ProcessEvent::time),
    json_sometimes("time_ns", &ProcessEvent::time_ns, [](const std::int64_t& v) { return v != 0; }),
    json_sometimes("cmdline_size", &ProcessEvent::cmdline_size, [](const std::int64_t& v) { return v >= 0; }),
    json_sometimes("cmdline_truncated", &ProcessEvent::cmdline_truncated, [](const bool& v) { return v; }),
    json_sometimes("exit_code", &ProcessEvent::exit_code, [](const std::int64_t& v) { return v >= 0; }),
    json_sometimes("exit_signal", &ProcessEvent::exit_signal, [](const std::int64_t& v) { return v >= 0; }),
    json_sometimes("cgroup_id", &ProcessEvent::cgroup_id, [](const std::uint64_t& v) { return v != 0; }),
    json_sometimes("path_given", &ProcessEvent::path_given, [](const std::string& v) { return !v.empty(); }),
    json_sometimes("image_dev", &ProcessEvent::image_dev, [](const std::uint64_t& v) { return v != 0; }),
    json_sometimes("image_ino", &ProcessEvent::image_ino, [](const std::uint64_t& v) { return v != 0; }),
    json_sometimes("host_path", &ProcessEvent::host_path, [](const std::string& v) { return !v.empty(); })};

// Then "processes", "sockets", "users" and "groups".
constexpr auto kChunkFields = std::tuple{
    json_member("scan_id", &SnapshotChunk::scan_id),
    json_member("seq", &SnapshotChunk::seq),
    json_member("last", &SnapshotChunk::last),
    json_member("time", &SnapshotChunk::time),
    json_member("total", &SnapshotChunk::total),
    json_member("unreadable", &SnapshotChunk::unreadable),
    json_member("collect_us", &SnapshotChunk::collect_us),
    json_sometimes("has_users", &SnapshotChunk::has_users, [](const bool& v) { return v; }),
    json_sometimes("has_groups", &SnapshotChunk::has_groups, [](const bool& v) { return v; })};

// osquery's users and groups columns that procmond sends (the rest the
// store derives: uid_signed, gid_signed, uuid, comment).
constexpr auto kUserFields = std::tuple{
    json_member("uid", &UserAccount::uid),
    json_member("gid", &UserAccount::gid),
    json_member("username", &UserAccount::username),
    json_member("description", &UserAccount::description),
    json_member("directory", &UserAccount::directory),
    json_member("shell", &UserAccount::shell)};
constexpr auto kGroupFields =
    std::tuple{json_member("gid", &GroupAccount::gid), json_member("groupname", &GroupAccount::groupname)};

// osquery's process_memory_map columns (memory_map.hpp).
constexpr auto kMemoryMapFields = std::tuple{
    json_member("pid", &MemoryMapRow::pid),
    json_member("start", &MemoryMapRow::start),
    json_member("end", &MemoryMapRow::end),
    json_member("permissions", &MemoryMapRow::permissions),
    json_member("offset", &MemoryMapRow::offset),
    json_member("device", &MemoryMapRow::device),
    json_member("inode", &MemoryMapRow::inode),
    json_member("path", &MemoryMapRow::path),
    json_member("pseudo", &MemoryMapRow::pseudo)};

// osquery's process_open_sockets columns: kSocketHead, the entry's, kSocketTail.
using osl::proc::OpenSocket;
using osl::proc::SocketEntry;
constexpr auto kSocketHead = std::tuple{json_member("pid", &OpenSocket::pid), json_member("fd", &OpenSocket::fd)};
constexpr auto kSocketEntryFields = std::tuple{
    json_member("socket", &SocketEntry::inode),
    json_member("family", &SocketEntry::family),
    json_member("protocol", &SocketEntry::protocol),
    json_member("local_address", &SocketEntry::local_address),
    json_member("remote_address", &SocketEntry::remote_address),
    json_member("local_port", &SocketEntry::local_port),
    json_member("remote_port", &SocketEntry::remote_port),
    json_member("path", &SocketEntry::path),
    json_member("state", &SocketEntry::state)};
constexpr auto kSocketTail = std::tuple{json_member("net_namespace", &OpenSocket::net_namespace)};

// {"time", "pid"}, then "tier", then kStatusTail, "sources" and "sockets".
constexpr auto kStatusHead =
    std::tuple{json_member("time", &ProcmondStatus::time), json_member("pid", &ProcmondStatus::pid)};
constexpr auto kStatusTail = std::tuple{
    json_member("tier_reason", &ProcmondStatus::tier_reason),
    json_member("scans", &ProcmondStatus::scans),
    json_member("budget_per_second", &ProcmondStatus::budget_per_second)};

constexpr auto kSourceFields = std::tuple{
    json_member("events", &SourceCounters::events),
    json_member("dropped", &SourceCounters::dropped),
    json_member("lost", &SourceCounters::lost)};

constexpr auto kSocketCounterFields = std::tuple{
    json_member("rows", &SocketCounters::rows),
    json_member("unreadable", &SocketCounters::unreadable),
    json_member("fds_capped", &SocketCounters::fds_capped),
    json_member("tables_capped", &SocketCounters::tables_capped),
    json_member("unmatched", &SocketCounters::unmatched),
    json_member("ambiguous", &SocketCounters::ambiguous),
    json_member("other_namespace", &SocketCounters::other_namespace),
    json_member("truncated", &SocketCounters::truncated),
    json_member("us", &SocketCounters::us)};

constexpr auto kAccountCounterFields = std::tuple{
    json_member("users", &AccountCounters::users),
    json_member("groups", &AccountCounters::groups),
    json_member("skipped", &AccountCounters::skipped),
    json_member("capped", &AccountCounters::capped),
    json_member("reads", &AccountCounters::reads),
    json_member("error", &AccountCounters::error)};

json parse(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw JsonFieldError{fmt::format("{}: not valid JSON", what)};
  if (!j.is_object()) throw JsonFieldError{fmt::format("{}: not a JSON object", what)};
  return j;
}

}  // namespace

std::string to_json(const ProcessRecord& r) { return columns_of(r).dump(-1, ' ', false, json::error_handler_t::replace); }

std::string encode(const ProcessEvent& e) {
  json j{{"event", to_string(e.kind)}, {"source", to_string(e.source)}, {"process", wire_of(e.process)}};
  if (e.path_from != PathFrom::none) j["path_from"] = to_string(e.path_from);
  put_fields(j, e, kEventFields);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

json wire_of(const OpenSocket& s) {
  json j = fields_json<json>(s, kSocketHead);
  put_fields(j, s.entry, kSocketEntryFields);
  put_fields(j, s, kSocketTail);
  return j;
}

OpenSocket socket_from(const json& j, const std::string& where) {
  if (!j.is_object()) throw JsonFieldError{where + ": not an object"};
  OpenSocket s;
  get_fields(j, s, kSocketHead, where);
  get_fields(j, s.entry, kSocketEntryFields, where);
  get_fields(j, s, kSocketTail, where);
  return s;
}

}  // namespace

std::string encode(const SnapshotChunk& c) {
  json procs = json::array();
  for (const auto& r : c.processes) procs.push_back(wire_of(r));
  json j = fields_json<json>(c, kChunkFields);
  j["processes"] = std::move(procs);
  if (!c.sockets.empty()) {
    json socks = json::array();
    for (const auto& s : c.sockets) socks.push_back(wire_of(s));
    j["sockets"] = std::move(socks);
  }
  if (!c.memory_maps.empty()) {
    json maps = json::array();
    for (const auto& m : c.memory_maps) maps.push_back(fields_json<json>(m, kMemoryMapFields));
    j["memory_maps"] = std::move(maps);
  }
  if (!c.users.empty()) {
    json users = json::array();
    for (const auto& u : c.users) users.push_back(fields_json<json>(u, kUserFields));
    j["users"] = std::move(users);
  }
  if (!c.groups.empty()) {
    json groups = json::array();
    for (const auto& g : c.groups) groups.push_back(fields_json<json>(g, kGroupFields));
    j["groups"] = std::move(groups);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ProcessEvent> decode_event(std::string_view text) {
  try {
    json j = parse(text, "event");
    ProcessEvent e;
    std::string kind, source;
    json_get(j, "event", kind, "event");
    if (kind == "start") e.kind = EventKind::start;
    else if (kind == "stop") e.kind = EventKind::stop;
    else if (kind == "exec") e.kind = EventKind::exec;
    else throw JsonFieldError{"event.event: unknown kind '" + kind + "'"};
    json_get(j, "source", source, "event");
    const auto src = event_source_from(source);
    if (!src) throw JsonFieldError{"event.source: unknown source '" + source + "'"};
    e.source = *src;
    get_fields(j, e, kEventFields, "event");
    // Absent from an older procmond's events (and on every non-exec one).
    if (const auto it = j.find("path_from"); it != j.end()) {
      if (!it->is_string()) throw JsonFieldError{"event.path_from: not a string"};
      const auto from = path_from_of(it->get_ref<const std::string&>());
      if (!from) throw JsonFieldError{"event.path_from: unknown origin '" + it->get<std::string>() + "'"};
      e.path_from = *from;
    }
    e.process = record_from(json_field(j, "process", "event"), "event.process");
    return e;
  } catch (const JsonFieldError& err) {
    return fail(ErrorCategory::invalid_input, err.what);
  } catch (const json::exception& err) {
    return fail(ErrorCategory::invalid_input, std::string("event: ") + err.what());
  }
}

Result<SnapshotChunk> decode_snapshot(std::string_view text) {
  try {
    json j = parse(text, "snapshot");
    SnapshotChunk c;
    get_fields(j, c, kChunkFields, "snapshot");
    const json& procs = json_field(j, "processes", "snapshot");
    if (!procs.is_array()) throw JsonFieldError{"snapshot.processes: not an array"};
    c.processes.reserve(procs.size());
    for (std::size_t i = 0; i < procs.size(); ++i)
      c.processes.push_back(record_from(procs[i], fmt::format("snapshot.processes[{}]", i)));
    if (j.contains("sockets")) {
      const json& socks = detail::json_array(j, "sockets", "snapshot");
      c.sockets.reserve(socks.size());
      for (std::size_t i = 0; i < socks.size(); ++i)
        c.sockets.push_back(socket_from(socks[i], fmt::format("snapshot.sockets[{}]", i)));
    }
    const auto rows_of = [&]<class Row, class Fields>(const char* key, std::vector<Row>& out, const Fields& fields) {
      if (!j.contains(key)) return;
      const json& rows = detail::json_array(j, key, "snapshot");
      out.reserve(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const std::string where = fmt::format("snapshot.{}[{}]", key, i);
        if (!rows[i].is_object()) throw JsonFieldError{where + ": not an object"};
        get_fields(rows[i], out.emplace_back(), fields, where);
      }
    };
    rows_of("memory_maps", c.memory_maps, kMemoryMapFields);
    rows_of("users", c.users, kUserFields);
    rows_of("groups", c.groups, kGroupFields);
    return c;
  } catch (const JsonFieldError& err) {
    return fail(ErrorCategory::invalid_input, err.what);
  } catch (const json::exception& err) {
    return fail(ErrorCategory::invalid_input, std::string("snapshot: ") + err.what());
  }
}

std::string encode(const ProcmondStatus& s) {
  json sources = json::object();
  for (std::size_t i = 0; i < kEventSources; ++i)
    sources[std::string(to_string(static_cast<EventSource>(i)))] =
        fields_json<json>(s.sources[i], kSourceFields);
  json j = fields_json<json>(s, kStatusHead);
  j["tier"] = to_string(s.tier);
  put_fields(j, s, kStatusTail);
  j["sources"] = std::move(sources);
  if (s.sockets) j["sockets"] = fields_json<json>(*s.sockets, kSocketCounterFields);
  if (s.accounts) j["accounts"] = fields_json<json>(*s.accounts, kAccountCounterFields);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ProcmondStatus> decode_procmond_status(std::string_view text) {
  try {
    json j = parse(text, "status");
    ProcmondStatus s;
    get_fields(j, s, kStatusHead, "status");
    std::string tier;
    json_get(j, "tier", tier, "status");
    const auto t = event_source_from(tier);
    if (!t) throw JsonFieldError{"status.tier: unknown source '" + tier + "'"};
    s.tier = *t;
    get_fields(j, s, kStatusTail, "status");
    const json& sources = json_field(j, "sources", "status");
    if (!sources.is_object()) throw JsonFieldError{"status.sources: not an object"};
    for (std::size_t i = 0; i < kEventSources; ++i) {
      const std::string name(to_string(static_cast<EventSource>(i)));
      auto it = sources.find(name);
      if (it == sources.end()) continue;  // a source this procmond does not know
      const std::string where = "status.sources." + name;
      if (!it->is_object()) throw JsonFieldError{where + ": not an object"};
      get_fields(*it, s.sources[i], kSourceFields, where);
    }
    if (auto it = j.find("sockets"); it != j.end()) {
      if (!it->is_object()) throw JsonFieldError{"status.sockets: not an object"};
      get_fields(*it, s.sockets.emplace(), kSocketCounterFields, "status.sockets");
    }
    if (auto it = j.find("accounts"); it != j.end()) {
      if (!it->is_object()) throw JsonFieldError{"status.accounts: not an object"};
      get_fields(*it, s.accounts.emplace(), kAccountCounterFields, "status.accounts");
    }
    return s;
  } catch (const JsonFieldError& err) {
    return fail(ErrorCategory::invalid_input, err.what);
  } catch (const json::exception& err) {
    return fail(ErrorCategory::invalid_input, std::string("status: ") + err.what());
  }
}

}  // namespace airssys::daemoneye
