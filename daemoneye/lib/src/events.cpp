#include <airssys/daemoneye/events.hpp>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <utility>

namespace airssys::daemoneye {

using nlohmann::json;

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

// Thrown inside this file only; decode_* turn it into the error string.
struct DecodeError {
  std::string what;
};

const json& field(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw DecodeError{fmt::format("{}.{}: missing", where, key)};
  return *it;
}

// nlohmann's get<T>() narrows silently, so the range is checked here.
template <class T>
void get_int(const json& j, const char* key, T& out, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_number_integer()) throw DecodeError{fmt::format("{}.{}: not an integer", where, key)};
  bool fits = false;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    fits = std::in_range<T>(u);
    if (fits) out = static_cast<T>(u);
  } else {
    const auto i = v.get<std::int64_t>();
    fits = std::in_range<T>(i);
    if (fits) out = static_cast<T>(i);
  }
  if (!fits) throw DecodeError{fmt::format("{}.{}: out of range", where, key)};
}

void get_str(const json& j, const char* key, std::string& out, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_string()) throw DecodeError{fmt::format("{}.{}: not a string", where, key)};
  out = v.get<std::string>();
}

void get_bool(const json& j, const char* key, bool& out, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_boolean()) throw DecodeError{fmt::format("{}.{}: not a boolean", where, key)};
  out = v.get<bool>();
}

ProcessRecord record_from(const json& j, const std::string& where) {
  if (!j.is_object()) throw DecodeError{where + ": not an object"};
  ProcessRecord r;
  get_int(j, "pid", r.pid, where);
  get_int(j, "parent", r.parent, where);
  get_int(j, "pgroup", r.pgroup, where);
  get_int(j, "sid", r.sid, where);
  get_str(j, "name", r.name, where);
  get_str(j, "path", r.path, where);
  get_str(j, "cmdline", r.cmdline, where);
  get_str(j, "cwd", r.cwd, where);
  get_str(j, "root", r.root, where);
  get_int(j, "uid", r.uid, where);
  get_int(j, "gid", r.gid, where);
  get_int(j, "euid", r.euid, where);
  get_int(j, "egid", r.egid, where);
  get_int(j, "suid", r.suid, where);
  get_int(j, "sgid", r.sgid, where);
  get_str(j, "username", r.username, where);
  get_int(j, "auid", r.auid, where);
  get_int(j, "on_disk", r.on_disk, where);
  get_str(j, "state", r.state, where);
  get_int(j, "threads", r.threads, where);
  get_int(j, "nice", r.nice, where);
  get_int(j, "start_time", r.start_time, where);
  get_int(j, "user_time", r.user_time, where);
  get_int(j, "system_time", r.system_time, where);
  get_int(j, "resident_size", r.resident_size, where);
  get_int(j, "total_size", r.total_size, where);
  get_int(j, "disk_bytes_read", r.disk_bytes_read, where);
  get_int(j, "disk_bytes_written", r.disk_bytes_written, where);
  get_str(j, "cgroup_path", r.cgroup_path, where);
  get_str(j, "tty", r.tty, where);
  get_str(j, "sha256", r.sha256, where);
  const json& cpu = field(j, "cpu_percent", where);
  if (!cpu.is_number()) throw DecodeError{where + ".cpu_percent: not a number"};
  r.cpu_percent = cpu.get<double>();
  get_str(j, "container_id", r.container_id, where);
  get_int(j, "start_ticks", r.start_ticks, where);
  get_int(j, "exe_dev", r.exe_dev, where);
  get_int(j, "exe_ino", r.exe_ino, where);
  get_bool(j, "partial", r.partial, where);
  return r;
}

json parse(std::string_view text, const char* what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw DecodeError{fmt::format("{}: not valid JSON", what)};
  if (!j.is_object()) throw DecodeError{fmt::format("{}: not a JSON object", what)};
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

std::string encode(const SnapshotChunk& c) {
  json procs = json::array();
  for (const auto& r : c.processes) procs.push_back(wire_of(r));
  json j{{"scan_id", c.scan_id}, {"seq", c.seq},   {"last", c.last},
         {"time", c.time},       {"total", c.total}, {"unreadable", c.unreadable},
         {"collect_us", c.collect_us}, {"processes", std::move(procs)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::expected<ProcessEvent, std::string> decode_event(std::string_view text) {
  try {
    json j = parse(text, "event");
    ProcessEvent e;
    std::string kind, source;
    get_str(j, "event", kind, "event");
    if (kind == "start") e.kind = EventKind::start;
    else if (kind == "stop") e.kind = EventKind::stop;
    else if (kind == "exec") e.kind = EventKind::exec;
    else throw DecodeError{"event.event: unknown kind '" + kind + "'"};
    get_str(j, "source", source, "event");
    const auto src = event_source_from(source);
    if (!src) throw DecodeError{"event.source: unknown source '" + source + "'"};
    e.source = *src;
    get_int(j, "time", e.time, "event");
    if (j.contains("time_ns")) get_int(j, "time_ns", e.time_ns, "event");
    if (j.contains("cmdline_size")) get_int(j, "cmdline_size", e.cmdline_size, "event");
    if (j.contains("cmdline_truncated")) get_bool(j, "cmdline_truncated", e.cmdline_truncated, "event");
    if (j.contains("exit_code")) get_int(j, "exit_code", e.exit_code, "event");
    if (j.contains("exit_signal")) get_int(j, "exit_signal", e.exit_signal, "event");
    if (j.contains("cgroup_id")) get_int(j, "cgroup_id", e.cgroup_id, "event");
    e.process = record_from(field(j, "process", "event"), "event.process");
    return e;
  } catch (const DecodeError& err) {
    return std::unexpected(err.what);
  } catch (const json::exception& err) {
    return std::unexpected(std::string("event: ") + err.what());
  }
}

std::expected<SnapshotChunk, std::string> decode_snapshot(std::string_view text) {
  try {
    json j = parse(text, "snapshot");
    SnapshotChunk c;
    get_int(j, "scan_id", c.scan_id, "snapshot");
    get_int(j, "seq", c.seq, "snapshot");
    get_bool(j, "last", c.last, "snapshot");
    get_int(j, "time", c.time, "snapshot");
    get_int(j, "total", c.total, "snapshot");
    get_int(j, "unreadable", c.unreadable, "snapshot");
    get_int(j, "collect_us", c.collect_us, "snapshot");
    const json& procs = field(j, "processes", "snapshot");
    if (!procs.is_array()) throw DecodeError{"snapshot.processes: not an array"};
    c.processes.reserve(procs.size());
    for (std::size_t i = 0; i < procs.size(); ++i)
      c.processes.push_back(record_from(procs[i], fmt::format("snapshot.processes[{}]", i)));
    return c;
  } catch (const DecodeError& err) {
    return std::unexpected(err.what);
  } catch (const json::exception& err) {
    return std::unexpected(std::string("snapshot: ") + err.what());
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
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::expected<ProcmondStatus, std::string> decode_procmond_status(std::string_view text) {
  try {
    json j = parse(text, "status");
    ProcmondStatus s;
    get_int(j, "time", s.time, "status");
    get_int(j, "pid", s.pid, "status");
    std::string tier;
    get_str(j, "tier", tier, "status");
    const auto t = event_source_from(tier);
    if (!t) throw DecodeError{"status.tier: unknown source '" + tier + "'"};
    s.tier = *t;
    get_str(j, "tier_reason", s.tier_reason, "status");
    get_int(j, "scans", s.scans, "status");
    get_int(j, "budget_per_second", s.budget_per_second, "status");
    const json& sources = field(j, "sources", "status");
    if (!sources.is_object()) throw DecodeError{"status.sources: not an object"};
    for (std::size_t i = 0; i < kEventSources; ++i) {
      const std::string name(to_string(static_cast<EventSource>(i)));
      auto it = sources.find(name);
      if (it == sources.end()) continue;  // a source this procmond does not know
      const std::string where = "status.sources." + name;
      if (!it->is_object()) throw DecodeError{where + ": not an object"};
      get_int(*it, "events", s.sources[i].events, where);
      get_int(*it, "dropped", s.sources[i].dropped, where);
      get_int(*it, "lost", s.sources[i].lost, where);
    }
    return s;
  } catch (const DecodeError& err) {
    return std::unexpected(err.what);
  } catch (const json::exception& err) {
    return std::unexpected(std::string("status: ") + err.what());
  }
}

}  // namespace airssys::daemoneye
