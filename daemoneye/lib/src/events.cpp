#include <airssys/daemoneye/events.hpp>

#include "json_read.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <utility>

namespace airssys::daemoneye {

using nlohmann::json;
using detail::json_field;
using detail::json_get;
using detail::JsonFieldError;

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

namespace {

json columns_of(const ProcessRecord& r) {
  return json{{"pid", r.pid},
              {"parent", r.parent},
              {"pgroup", r.pgroup},
              {"sid", r.sid},
              {"name", r.name},
              {"path", r.path},
              {"cmdline", r.cmdline},
              {"cwd", r.cwd},
              {"root", r.root},
              {"uid", r.uid},
              {"gid", r.gid},
              {"euid", r.euid},
              {"egid", r.egid},
              {"suid", r.suid},
              {"sgid", r.sgid},
              {"username", r.username},
              {"auid", r.auid},
              {"on_disk", r.on_disk},
              {"state", r.state},
              {"threads", r.threads},
              {"nice", r.nice},
              {"start_time", r.start_time},
              {"user_time", r.user_time},
              {"system_time", r.system_time},
              {"resident_size", r.resident_size},
              {"total_size", r.total_size},
              {"disk_bytes_read", r.disk_bytes_read},
              {"disk_bytes_written", r.disk_bytes_written},
              {"cgroup_path", r.cgroup_path},
              {"tty", r.tty},
              {"sha256", r.sha256},
              {"cpu_percent", r.cpu_percent},
              {"container_id", r.container_id}};
}

json wire_of(const ProcessRecord& r) {
  json j = columns_of(r);
  j["start_ticks"] = r.start_ticks;
  j["exe_dev"] = r.exe_dev;
  j["exe_ino"] = r.exe_ino;
  j["partial"] = r.partial;
  return j;
}

ProcessRecord record_from(const json& j, const std::string& where) {
  if (!j.is_object()) throw JsonFieldError{where + ": not an object"};
  ProcessRecord r;
  json_get(j, "pid", r.pid, where);
  json_get(j, "parent", r.parent, where);
  json_get(j, "pgroup", r.pgroup, where);
  json_get(j, "sid", r.sid, where);
  json_get(j, "name", r.name, where);
  json_get(j, "path", r.path, where);
  json_get(j, "cmdline", r.cmdline, where);
  json_get(j, "cwd", r.cwd, where);
  json_get(j, "root", r.root, where);
  json_get(j, "uid", r.uid, where);
  json_get(j, "gid", r.gid, where);
  json_get(j, "euid", r.euid, where);
  json_get(j, "egid", r.egid, where);
  json_get(j, "suid", r.suid, where);
  json_get(j, "sgid", r.sgid, where);
  json_get(j, "username", r.username, where);
  json_get(j, "auid", r.auid, where);
  json_get(j, "on_disk", r.on_disk, where);
  json_get(j, "state", r.state, where);
  json_get(j, "threads", r.threads, where);
  json_get(j, "nice", r.nice, where);
  json_get(j, "start_time", r.start_time, where);
  json_get(j, "user_time", r.user_time, where);
  json_get(j, "system_time", r.system_time, where);
  json_get(j, "resident_size", r.resident_size, where);
  json_get(j, "total_size", r.total_size, where);
  json_get(j, "disk_bytes_read", r.disk_bytes_read, where);
  json_get(j, "disk_bytes_written", r.disk_bytes_written, where);
  json_get(j, "cgroup_path", r.cgroup_path, where);
  json_get(j, "tty", r.tty, where);
  json_get(j, "sha256", r.sha256, where);
  const json& cpu = json_field(j, "cpu_percent", where);
  if (!cpu.is_number()) throw JsonFieldError{where + ".cpu_percent: not a number"};
  r.cpu_percent = cpu.get<double>();
  json_get(j, "container_id", r.container_id, where);
  json_get(j, "start_ticks", r.start_ticks, where);
  json_get(j, "exe_dev", r.exe_dev, where);
  json_get(j, "exe_ino", r.exe_ino, where);
  json_get(j, "partial", r.partial, where);
  return r;
}

json parse(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw JsonFieldError{fmt::format("{}: not valid JSON", what)};
  if (!j.is_object()) throw JsonFieldError{fmt::format("{}: not a JSON object", what)};
  return j;
}

}  // namespace

std::string to_json(const ProcessRecord& r) { return columns_of(r).dump(-1, ' ', false, json::error_handler_t::replace); }

std::string encode(const ProcessEvent& e) {
  json j{{"event", to_string(e.kind)}, {"source", to_string(e.source)}, {"time", e.time}, {"process", wire_of(e.process)}};
  // The kernel sources' extras are sent only when known, so a poll event stays as small as before.
  if (e.time_ns != 0) j["time_ns"] = e.time_ns;
  if (e.cmdline_size >= 0) j["cmdline_size"] = e.cmdline_size;
  if (e.cmdline_truncated) j["cmdline_truncated"] = true;
  if (e.exit_code >= 0) j["exit_code"] = e.exit_code;
  if (e.exit_signal >= 0) j["exit_signal"] = e.exit_signal;
  if (e.cgroup_id != 0) j["cgroup_id"] = e.cgroup_id;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

// osquery's process_open_sockets column names.
json wire_of(const osl::proc::OpenSocket& s) {
  return json{{"pid", s.pid},
              {"fd", s.fd},
              {"socket", s.entry.inode},
              {"family", s.entry.family},
              {"protocol", s.entry.protocol},
              {"local_address", s.entry.local_address},
              {"remote_address", s.entry.remote_address},
              {"local_port", s.entry.local_port},
              {"remote_port", s.entry.remote_port},
              {"path", s.entry.path},
              {"state", s.entry.state},
              {"net_namespace", s.net_namespace}};
}

osl::proc::OpenSocket socket_from(const json& j, const std::string& where) {
  if (!j.is_object()) throw JsonFieldError{where + ": not an object"};
  osl::proc::OpenSocket s;
  json_get(j, "pid", s.pid, where);
  json_get(j, "fd", s.fd, where);
  json_get(j, "socket", s.entry.inode, where);
  json_get(j, "family", s.entry.family, where);
  json_get(j, "protocol", s.entry.protocol, where);
  json_get(j, "local_address", s.entry.local_address, where);
  json_get(j, "remote_address", s.entry.remote_address, where);
  json_get(j, "local_port", s.entry.local_port, where);
  json_get(j, "remote_port", s.entry.remote_port, where);
  json_get(j, "path", s.entry.path, where);
  json_get(j, "state", s.entry.state, where);
  json_get(j, "net_namespace", s.net_namespace, where);
  return s;
}

}  // namespace

std::string encode(const SnapshotChunk& c) {
  json procs = json::array();
  for (const auto& r : c.processes) procs.push_back(wire_of(r));
  json j{{"scan_id", c.scan_id}, {"seq", c.seq},   {"last", c.last},
         {"time", c.time},       {"total", c.total}, {"unreadable", c.unreadable},
         {"collect_us", c.collect_us}, {"processes", std::move(procs)}};
  if (!c.sockets.empty()) {
    json socks = json::array();
    for (const auto& s : c.sockets) socks.push_back(wire_of(s));
    j["sockets"] = std::move(socks);
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
    json_get(j, "time", e.time, "event");
    if (j.contains("time_ns")) json_get(j, "time_ns", e.time_ns, "event");
    if (j.contains("cmdline_size")) json_get(j, "cmdline_size", e.cmdline_size, "event");
    if (j.contains("cmdline_truncated")) json_get(j, "cmdline_truncated", e.cmdline_truncated, "event");
    if (j.contains("exit_code")) json_get(j, "exit_code", e.exit_code, "event");
    if (j.contains("exit_signal")) json_get(j, "exit_signal", e.exit_signal, "event");
    if (j.contains("cgroup_id")) json_get(j, "cgroup_id", e.cgroup_id, "event");
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
    json_get(j, "scan_id", c.scan_id, "snapshot");
    json_get(j, "seq", c.seq, "snapshot");
    json_get(j, "last", c.last, "snapshot");
    json_get(j, "time", c.time, "snapshot");
    json_get(j, "total", c.total, "snapshot");
    json_get(j, "unreadable", c.unreadable, "snapshot");
    json_get(j, "collect_us", c.collect_us, "snapshot");
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
    return c;
  } catch (const JsonFieldError& err) {
    return fail(ErrorCategory::invalid_input, err.what);
  } catch (const json::exception& err) {
    return fail(ErrorCategory::invalid_input, std::string("snapshot: ") + err.what());
  }
}

std::string encode(const ProcmondStatus& s) {
  json sources = json::object();
  for (std::size_t i = 0; i < kEventSources; ++i) {
    const auto& c = s.sources[i];
    sources[std::string(to_string(static_cast<EventSource>(i)))] =
        json{{"events", c.events}, {"dropped", c.dropped}, {"lost", c.lost}};
  }
  json j{{"time", s.time},   {"pid", s.pid},     {"tier", to_string(s.tier)}, {"tier_reason", s.tier_reason},
         {"scans", s.scans}, {"budget_per_second", s.budget_per_second}, {"sources", std::move(sources)}};
  if (s.sockets) {
    const SocketCounters& k = *s.sockets;
    j["sockets"] = json{{"rows", k.rows},
                        {"unreadable", k.unreadable},
                        {"fds_capped", k.fds_capped},
                        {"tables_capped", k.tables_capped},
                        {"unmatched", k.unmatched},
                        {"ambiguous", k.ambiguous},
                        {"other_namespace", k.other_namespace},
                        {"truncated", k.truncated},
                        {"us", k.us}};
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ProcmondStatus> decode_procmond_status(std::string_view text) {
  try {
    json j = parse(text, "status");
    ProcmondStatus s;
    json_get(j, "time", s.time, "status");
    json_get(j, "pid", s.pid, "status");
    std::string tier;
    json_get(j, "tier", tier, "status");
    const auto t = event_source_from(tier);
    if (!t) throw JsonFieldError{"status.tier: unknown source '" + tier + "'"};
    s.tier = *t;
    json_get(j, "tier_reason", s.tier_reason, "status");
    json_get(j, "scans", s.scans, "status");
    json_get(j, "budget_per_second", s.budget_per_second, "status");
    const json& sources = json_field(j, "sources", "status");
    if (!sources.is_object()) throw JsonFieldError{"status.sources: not an object"};
    for (std::size_t i = 0; i < kEventSources; ++i) {
      const std::string name(to_string(static_cast<EventSource>(i)));
      auto it = sources.find(name);
      if (it == sources.end()) continue;  // a source this procmond does not know
      const std::string where = "status.sources." + name;
      if (!it->is_object()) throw JsonFieldError{where + ": not an object"};
      json_get(*it, "events", s.sources[i].events, where);
      json_get(*it, "dropped", s.sources[i].dropped, where);
      json_get(*it, "lost", s.sources[i].lost, where);
    }
    if (auto it = j.find("sockets"); it != j.end()) {
      if (!it->is_object()) throw JsonFieldError{"status.sockets: not an object"};
      SocketCounters& k = s.sockets.emplace();
      const std::string where = "status.sockets";
      json_get(*it, "rows", k.rows, where);
      json_get(*it, "unreadable", k.unreadable, where);
      json_get(*it, "fds_capped", k.fds_capped, where);
      json_get(*it, "tables_capped", k.tables_capped, where);
      json_get(*it, "unmatched", k.unmatched, where);
      json_get(*it, "ambiguous", k.ambiguous, where);
      json_get(*it, "other_namespace", k.other_namespace, where);
      json_get(*it, "truncated", k.truncated, where);
      json_get(*it, "us", k.us, where);
    }
    return s;
  } catch (const JsonFieldError& err) {
    return fail(ErrorCategory::invalid_input, err.what);
  } catch (const json::exception& err) {
    return fail(ErrorCategory::invalid_input, std::string("status: ") + err.what());
  }
}

}  // namespace airssys::daemoneye
