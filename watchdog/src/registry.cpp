#include <airssys/watchdog/registry.hpp>

#include "registry_fast.hpp"
#include "registry_json.hpp"
#include "registry_limits.hpp"
#include "registry_text.hpp"

#include <airssys/osl/file_io.hpp>
#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/units.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/osl/detail/shown_text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace airssys::watchdog {

using airssys::osl::UniqueFd;
using nlohmann::json;

namespace {

// The errno of the call that just failed goes into the error as well as its text.
Error sys_error(const std::string& what) { return Error::from_errno(errno, what); }

// `v` as a T if it is a JSON integer T can hold exactly (no truncation:
// 4294967297 is not an int 1).
template <class T>
std::optional<T> exact_integer(const json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (std::in_range<T>(u)) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (std::in_range<T>(i)) return static_cast<T>(i);
  }
  return std::nullopt;
}

// Field readers that name the task and field in their errors.
struct Reader {
  const json& obj;
  const std::string& source;
  const std::string& where;
  std::string problem;

  bool fail(const std::string& key, const char* want) {
    if (problem.empty()) problem = fmt::format("{}: {} field '{}' must be {}", source, where, key, want);
    return false;
  }
  bool has(const std::string& key) const { return obj.contains(key) && !obj.at(key).is_null(); }

  void str(const std::string& key, std::string& out) {
    if (!has(key)) return;
    if (!obj.at(key).is_string()) { fail(key, "a string"); return; }
    out = obj.at(key).get<std::string>();
  }
  template <class T>
  void integer(const std::string& key, T& out) {
    if (!has(key)) return;
    const auto& v = obj.at(key);
    if (!v.is_number_integer()) { fail(key, "an integer"); return; }
    if (auto x = exact_integer<T>(v)) {
      out = *x;
    } else {
      const auto want = fmt::format("an integer from {} to {}", std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
      fail(key, want.c_str());
    }
  }
  template <class T>
  void opt_integer(const std::string& key, std::optional<T>& out) {
    if (!has(key)) return;
    T v{};
    integer(key, v);
    out = v;
  }
  void strings(const std::string& key, std::vector<std::string>& out) {
    if (!has(key)) return;
    const auto& v = obj.at(key);
    if (!v.is_array()) { fail(key, "an array of strings"); return; }
    for (const auto& e : v) {
      if (!e.is_string()) { fail(key, "an array of strings"); return; }
      out.push_back(e.get<std::string>());
    }
  }
  void boolean(const std::string& key, bool& out) {
    if (!has(key)) return;
    if (!obj.at(key).is_boolean()) { fail(key, "true or false"); return; }
    out = obj.at(key).get<bool>();
  }
};

const char* const kTaskKeys[] = {"id", "argv", "cwd", "env", "created_ms", "timeout_ms", "idle_timeout_ms", "grace_ms", "deadline_ms",
                                 "state", "pid", "pid_start_time", "monitor_pid", "monitor_start_time", "foreground",
                                 "containment", "limits", "stdout_log", "stderr_log", "exit_code", "exit_signal", "ended_ms",
                                 "error", "leftover_processes"};

std::expected<TaskRecord, Error> task_from_json(const std::string& key, const json& j, const std::string& source) {
  const std::string where = fmt::format("task '{}'", osl::detail::shown_text(key));
  if (!j.is_object()) return std::unexpected(Error{ErrorCategory::registry_corrupt, fmt::format("{}: {} is not an object", source, where)});
  TaskRecord t;
  Reader r{j, source, where, {}};
  r.str("id", t.id);
  r.strings("argv", t.argv);
  r.str("cwd", t.cwd);
  r.strings("env", t.env);
  r.integer("created_ms", t.created_ms);
  r.opt_integer("timeout_ms", t.timeout_ms);
  r.opt_integer("idle_timeout_ms", t.idle_timeout_ms);
  r.integer("grace_ms", t.grace_ms);
  r.opt_integer("deadline_ms", t.deadline_ms);
  std::string state_text(to_string(t.state));
  r.str("state", state_text);
  r.opt_integer("pid", t.pid);
  r.opt_integer("pid_start_time", t.pid_start_time);
  r.opt_integer("monitor_pid", t.monitor_pid);
  r.opt_integer("monitor_start_time", t.monitor_start_time);
  r.boolean("foreground", t.foreground);
  r.str("stdout_log", t.stdout_log);
  r.str("stderr_log", t.stderr_log);
  r.opt_integer("exit_code", t.exit_code);
  r.opt_integer("exit_signal", t.exit_signal);
  r.opt_integer("ended_ms", t.ended_ms);
  r.str("error", t.error);
  r.opt_integer("leftover_processes", t.leftover_processes);
  if (r.has("containment")) {
    const auto& c = j.at("containment");
    if (!c.is_object()) {
      r.fail("containment", "an object");
    } else {
      const std::string cwhere = where + " containment";
      Reader cr{c, source, cwhere, {}};
      std::string kind_text;
      cr.str("kind", kind_text);
      if (auto kind = containment_kind_from_string(kind_text)) {
        t.containment.kind = *kind;
      } else if (cr.problem.empty()) {
        cr.problem = fmt::format("{}: {} field 'kind' {}", source, cwhere, detail::kind_problem(kind_text));
      }
      cr.str("cgroup", t.containment.cgroup);
      cr.str("note", t.containment.note);
      if (cr.has("v1")) {
        const auto& v1 = c.at("v1");
        if (!v1.is_object()) {
          cr.fail("v1", "an object of controller: directory");
        } else {
          for (const auto& [ctl, dir] : v1.items()) {
            if (!dir.is_string()) {
              cr.fail("v1", "an object of controller: directory");
              break;
            }
            t.containment.v1.emplace(ctl, dir.get<std::string>());
          }
        }
      }
      if (!cr.problem.empty() && r.problem.empty()) r.problem = cr.problem;
    }
  }
  if (r.has("limits")) {
    const auto& l = j.at("limits");
    if (!l.is_object()) {
      r.fail("limits", "an object");
    } else {
      const std::string lwhere = where + " limits";
      Reader lr{l, source, lwhere, {}};
      lr.opt_integer("memory_bytes", t.limits.memory_bytes);
      lr.opt_integer("pids", t.limits.pids);
      if (lr.has("cpus")) {
        if (!l.at("cpus").is_number() || l.at("cpus").get<double>() <= 0) lr.fail("cpus", "a positive number");
        else t.limits.cpus = l.at("cpus").get<double>();
      }
      if (!lr.problem.empty() && r.problem.empty()) r.problem = lr.problem;
    }
  }
  if (!r.problem.empty()) return std::unexpected(Error{ErrorCategory::registry_corrupt, r.problem});
  if (t.id != key) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt,
                                 fmt::format("{}: {} has id '{}' (must equal its key)", source, where, osl::detail::shown_text(t.id))});
  }
  if (!valid_task_id(t.id)) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt,
                                 fmt::format("{}: task id '{}' does not match [A-Za-z0-9_][A-Za-z0-9_-]{{0,63}}", source, osl::detail::shown_text(t.id))});
  }
  if (t.argv.empty()) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt, fmt::format("{}: {} has an empty argv", source, where)});
  }
  if (auto state = task_state_from_string(state_text)) {
    t.state = *state;
  } else {
    return std::unexpected(Error{ErrorCategory::registry_corrupt,
                                 fmt::format("{}: {} {}", source, where, detail::state_problem(state_text))});
  }
  if (auto problem = detail::task_problem(t)) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt, fmt::format("{}: {} {}", source, where, *problem)});
  }
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (const char* name : kTaskKeys) known = known || k == name;
    if (!known) t.extra.insert_or_assign(k, v.dump());
  }
  return t;
}

}  // namespace

namespace {

// The fields the schema knows (no unknown keys).
json known_task_json(const TaskRecord& t) {
  json j = json::object();
  j["id"] = t.id;
  j["argv"] = t.argv;
  j["cwd"] = t.cwd;
  j["env"] = t.env;
  j["created_ms"] = t.created_ms;
  j["timeout_ms"] = t.timeout_ms ? json(*t.timeout_ms) : json(nullptr);
  j["idle_timeout_ms"] = t.idle_timeout_ms ? json(*t.idle_timeout_ms) : json(nullptr);
  j["grace_ms"] = t.grace_ms;
  j["deadline_ms"] = t.deadline_ms ? json(*t.deadline_ms) : json(nullptr);
  j["state"] = std::string(to_string(t.state));
  j["pid"] = t.pid ? json(*t.pid) : json(nullptr);
  j["pid_start_time"] = t.pid_start_time ? json(*t.pid_start_time) : json(nullptr);
  j["monitor_pid"] = t.monitor_pid ? json(*t.monitor_pid) : json(nullptr);
  j["monitor_start_time"] = t.monitor_start_time ? json(*t.monitor_start_time) : json(nullptr);
  j["foreground"] = t.foreground;
  j["containment"] = json{{"kind", std::string(to_string(t.containment.kind))}, {"cgroup", t.containment.cgroup}, {"note", t.containment.note}};
  if (!t.containment.v1.empty()) j["containment"]["v1"] = t.containment.v1;
  if (t.limits.any()) {
    j["limits"] = json{{"memory_bytes", t.limits.memory_bytes ? json(*t.limits.memory_bytes) : json(nullptr)},
                       {"cpus", t.limits.cpus ? json(*t.limits.cpus) : json(nullptr)},
                       {"pids", t.limits.pids ? json(*t.limits.pids) : json(nullptr)}};
  } else {
    j["limits"] = nullptr;
  }
  j["stdout_log"] = t.stdout_log;
  j["stderr_log"] = t.stderr_log;
  j["exit_code"] = t.exit_code ? json(*t.exit_code) : json(nullptr);
  j["exit_signal"] = t.exit_signal ? json(*t.exit_signal) : json(nullptr);
  j["ended_ms"] = t.ended_ms ? json(*t.ended_ms) : json(nullptr);
  j["error"] = t.error;
  j["leftover_processes"] = t.leftover_processes ? json(*t.leftover_processes) : json(nullptr);
  return j;
}

}  // namespace

json detail::task_to_json(const TaskRecord& t) {
  json j = known_task_json(t);
  for (const auto& [k, text] : t.extra) {
    if (!j.contains(k)) j[k] = json::parse(text, nullptr, /*allow_exceptions=*/false);
  }
  return j;
}

json detail::extra_object(const TaskRecord& t, const std::string& key) {
  const auto it = t.extra.find(key);
  if (it == t.extra.end()) return json::object();
  json v = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  return v.is_object() ? v : json::object();
}

void detail::set_extra(TaskRecord& t, const std::string& key, const json& value) { t.extra.insert_or_assign(key, value.dump()); }

std::expected<RegistryData, Error> parse_registry(std::string_view text, const std::string& source) {
  // Well-formed registries take the fast path; anything it does not accept
  // goes through the DOM, which names the problem.
  if (auto fast = detail::parse_registry_fast(text)) return std::move(*fast);
  return detail::parse_registry_dom(text, source);
}

std::expected<RegistryData, Error> detail::parse_registry_dom(std::string_view text, const std::string& source) {
  if (text.size() > kMaxRegistryBytes) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt, fmt::format("{}: {} bytes is more than a registry may hold ({})",
                                                                          source, text.size(), kMaxRegistryBytes)});
  }
  // Before nlohmann sees it: its parser is iterative but dump() and the
  // comparisons recurse, so 100,000 nested arrays would overflow the stack.
  if (const auto depth = nesting_depth(text); depth > kMaxRegistryDepth) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt,
                                 fmt::format("{}: JSON nested {} deep; a registry nests at most {} (an unknown key "
                                             "holding deeply nested data is refused, not kept)",
                                             source, depth, kMaxRegistryDepth)});
  }
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt,
                                 fmt::format("{}: not valid JSON (at byte {}): {}", source, e.byte, e.what())});
  } catch (const json::exception& e) {
    // out_of_range 406: a number such as 1e999 that no double holds.
    return std::unexpected(Error{ErrorCategory::registry_corrupt, fmt::format("{}: not a usable JSON value: {}", source, e.what())});
  }
  if (!root.is_object()) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt, fmt::format("{}: the top level must be a JSON object", source)});
  }
  RegistryData data;
  if (!root.contains("schema_version") || !root["schema_version"].is_number_integer()) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt, fmt::format("{}: missing integer 'schema_version'", source)});
  }
  const auto version = exact_integer<int>(root["schema_version"]);
  if (version != kSchemaVersion) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt,
                                 fmt::format("{}: schema_version {} is not supported (this build reads {})", source,
                                             root["schema_version"].dump(), kSchemaVersion)});
  }
  data.schema_version = *version;
  if (root.contains("tasks")) {
    const auto& tasks = root["tasks"];
    if (!tasks.is_object()) {
      return std::unexpected(Error{ErrorCategory::registry_corrupt, fmt::format("{}: 'tasks' must be an object keyed by task id", source)});
    }
    for (const auto& [k, v] : tasks.items()) {
      auto t = task_from_json(k, v, source);
      if (!t) return std::unexpected(t.error());
      data.tasks.emplace(k, std::move(*t));
    }
  }
  for (const auto& [k, v] : root.items()) {
    if (k != "schema_version" && k != "tasks") data.extra.insert_or_assign(k, v.dump());
  }
  return data;
}

namespace {

// nlohmann's dump(1) layout for what the schema knows, but the value of an
// unknown key on one compact line, as it was read: a rewrite then never
// makes a registry larger than what it holds (re-indenting nested unknown
// data turned 24 KB into 16 MB).
void write_indented(const json& v, int level, std::string& out) {
  if (!v.is_structured() || v.empty()) {
    out += v.dump();
    return;
  }
  const bool obj = v.is_object();
  out += obj ? "{\n" : "[\n";
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!first) out += ",\n";
    first = false;
    out.append(static_cast<std::size_t>(level + 1), ' ');
    if (obj) {
      out += json(it.key()).dump();
      out += ": ";
    }
    write_indented(*it, level + 1, out);
  }
  out += '\n';
  out.append(static_cast<std::size_t>(level), ' ');
  out += obj ? '}' : ']';
}

// One task record at indentation level 2: its known fields and its unknown
// keys (compact text) merged in key order, as nlohmann sorts an object's keys.
void write_task(const TaskRecord& t, std::string& out) {
  const json known = known_task_json(t);
  auto k = known.begin();
  auto e = t.extra.begin();
  out += "{\n";
  bool first = true;
  const auto key = [&](const std::string& name) {
    if (!first) out += ",\n";
    first = false;
    out += "   ";
    out += json(name).dump();
    out += ": ";
  };
  while (k != known.end() || e != t.extra.end()) {
    if (e == t.extra.end() || (k != known.end() && k.key() <= e->first)) {
      if (e != t.extra.end() && k.key() == e->first) ++e;  // a known field wins over an unknown key of its name
      key(k.key());
      write_indented(*k, 3, out);
      ++k;
    } else {
      key(e->first);
      out += e->second;
      ++e;
    }
  }
  out += "\n  }";
}

}  // namespace

std::string serialize_registry(const RegistryData& data) {
  std::string out = "{\n";
  bool first = true;
  auto key = [&](const std::string& k) {
    if (!first) out += ",\n";
    first = false;
    out += ' ';
    out += json(k).dump();
    out += ": ";
  };
  // Keys in the order nlohmann would write them (sorted), so the layout
  // matches what earlier builds wrote. Unknown keys: their compact text.
  std::map<std::string, const std::string*> top;
  for (const auto& [k, text] : data.extra) top.emplace(k, &text);
  top.erase("schema_version");
  top.erase("tasks");
  const std::string version = json(data.schema_version).dump();
  top.emplace("schema_version", &version);
  top.emplace("tasks", nullptr);
  for (const auto& [k, v] : top) {
    key(k);
    if (k != "tasks") {
      out += *v;
    } else if (data.tasks.empty()) {
      out += "{}";
    } else {
      out += "{\n";
      bool first_task = true;
      for (const auto& [id, t] : data.tasks) {
        if (!first_task) out += ",\n";
        first_task = false;
        out += "  ";
        out += json(id).dump();
        out += ": ";
        write_task(t, out);
      }
      out += "\n }";
    }
  }
  out += "\n}\n";
  return out;
}

Registry::Registry(std::filesystem::path path) : path_(std::filesystem::absolute(std::move(path)).lexically_normal()) {}

std::filesystem::path Registry::default_path(const std::string& cli_path) {
  if (!cli_path.empty()) return cli_path;
  if (const char* env = std::getenv("TASK_WATCHDOG_REGISTRY"); env && *env) return env;
  return std::filesystem::path(".task-watchdog") / "registry.json";
}

std::filesystem::path Registry::log_path(const std::string& id, const char* stream) const {
  return dir() / "logs" / fmt::format("{}.{}.log", id, stream);
}

namespace {

// Reads straight into a string sized from fstat (one allocation, no copies:
// growing a string from 64 KiB chunks cost ~15 ms of copies and page faults
// for a 1,000-task registry).
std::expected<std::string, Error> read_all(int fd, const std::string& source) {
  std::string out;
  struct stat st {};
  std::size_t have = 0;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.resize(static_cast<std::size_t>(st.st_size) + 1);
  for (;;) {
    if (have == out.size()) out.resize(std::max<std::size_t>(out.size() * 2, 65536));
    const ssize_t n = ::read(fd, out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(sys_error("reading " + source));
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  out.resize(have);
  return out;
}

std::expected<void, Error> read_text_of(const std::filesystem::path& path, const detail::RegistryTextUse& use) {
  // Not through a symbolic link: update() renames a new file over the path,
  // which would replace the link by a copy and leave two registries. The
  // user points --registry at the file itself. O_NONBLOCK: a FIFO there must
  // not hang the open.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) return {};
    if (errno == ELOOP) {
      return std::unexpected(Error{ErrorCategory::failure,
                                   fmt::format("refusing registry {}: it is a symbolic link (give the path of the file itself)",
                                               path.string())});
    }
    return std::unexpected(sys_error("opening registry " + path.string()));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(sys_error("checking registry " + path.string()));
  if (S_ISDIR(st.st_mode)) {
    // `--registry DIR` for the directory the registry lives in.
    return std::unexpected(Error{ErrorCategory::failure,
                                 fmt::format("refusing registry {}: it is a directory (give the registry file, e.g. {})",
                                             path.string(), (path / "registry.json").string())});
  }
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("refusing registry {}: it is not a regular file", path.string())});
  }
  if (static_cast<std::uint64_t>(st.st_size) > detail::kMaxRegistryBytes) {
    return std::unexpected(Error{ErrorCategory::registry_corrupt,
                                 fmt::format("{}: {} bytes is more than a registry may hold ({})", path.string(), st.st_size,
                                             detail::kMaxRegistryBytes)});
  }
  // A regular file is mapped with MAP_POPULATE: no copy, and one system call
  // instead of a page fault per page (page faults dominated loading 1,000
  // tasks on this VM). The mapping stays valid if a writer renames a new
  // file over the path meanwhile.
  if (st.st_size > 0) {
    const auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.get(), 0);
    if (map != MAP_FAILED) {
      const struct Unmap {
        void* p;
        std::size_t n;
        ~Unmap() { ::munmap(p, n); }
      } unmap{map, size};
      return use(std::string_view(static_cast<const char*>(map), size));
    }
  }
  auto text = read_all(fd.get(), path.string());
  if (!text) return std::unexpected(text.error());
  return use(*text);
}

std::expected<RegistryData, Error> load_file(const std::filesystem::path& path) {
  RegistryData data;
  auto read = read_text_of(path, [&](std::string_view text) -> std::expected<void, Error> {
    auto parsed = parse_registry(text, path.string());
    if (!parsed) return std::unexpected(parsed.error());
    data = std::move(*parsed);
    return {};
  });
  if (!read) return std::unexpected(read.error());
  return data;
}

std::expected<void, Error> write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = osl::io::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(sys_error(what));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

std::expected<RegistryData, Error> Registry::load() const { return load_file(path_); }

std::expected<void, Error> detail::read_registry_text(const std::filesystem::path& path, const RegistryTextUse& use) {
  return read_text_of(path, use);
}

std::expected<void, Error> Registry::ensure_dir() const {
  std::vector<std::filesystem::path> missing;  // innermost first
  for (auto d = dir(); !d.empty(); d = d.parent_path()) {
    struct stat st {};
    if (::stat(d.c_str(), &st) == 0) break;
    if (errno != ENOENT) return std::unexpected(sys_error("checking " + d.string()));
    missing.push_back(d);
    if (d == d.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) return std::unexpected(sys_error("creating " + it->string()));
  }
  return {};
}

std::expected<UniqueFd, Error> Registry::open_lock(std::string_view suffix) const {
  const std::string lock_path = path_.string() + std::string(suffix);
  // O_NONBLOCK: a planted FIFO or device must not hang the open (flock blocks
  // regardless; it only heeds LOCK_NB).
  UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600));
  if (!fd && errno == ELOOP) {
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("refusing lock file {}: it is a symbolic link", lock_path)});
  }
  if (!fd) return std::unexpected(sys_error("opening lock file " + lock_path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(sys_error("checking lock file " + lock_path));
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("refusing lock file {}: it is not a regular file", lock_path)});
  }
  return fd;
}

namespace {

// "<registry>.tmp.<pid>.<16 random hex digits>", created exclusively and never
// through a symbolic link, so nobody can aim the write at another file.
std::expected<std::pair<UniqueFd, std::string>, Error> create_temp(const std::filesystem::path& path) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::uint64_t r = 0;
    if (::getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) return std::unexpected(sys_error("getrandom"));
    std::string tmp = fmt::format("{}.tmp.{}.{:016x}", path.string(), ::getpid(), r);
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd) return std::pair{std::move(fd), std::move(tmp)};
    if (errno != EEXIST) return std::unexpected(sys_error("creating " + tmp));
  }
  return std::unexpected(Error{ErrorCategory::failure, fmt::format("creating a temporary file beside {}: every name taken", path.string())});
}

}  // namespace

std::expected<void, Error> Registry::update(const Change& change) const {
  if (auto made = ensure_dir(); !made) return made;
  auto lock = open_lock(".lock");
  if (!lock) return std::unexpected(lock.error());
  while (::flock(lock->get(), LOCK_EX) != 0) {
    if (errno != EINTR) return std::unexpected(sys_error("locking " + path_.string() + ".lock"));
  }
  // The lock is released when `lock` closes, after the rename below.
  auto data = load_file(path_);
  if (!data) return std::unexpected(data.error());
  if (auto r = change(*data); !r) return r;
  // Never write what the next read would refuse: one bad record would make
  // every later command exit 4.
  for (const auto& [id, t] : data->tasks) {
    if (t.id != id || !valid_task_id(id) || t.argv.empty()) {
      return std::unexpected(Error{ErrorCategory::usage, fmt::format("not recording task '{}': its id or argv is invalid", osl::detail::shown_text(id))});
    }
    if (auto problem = detail::task_problem(t)) {
      return std::unexpected(Error{ErrorCategory::usage, fmt::format("not recording task '{}': it {}", osl::detail::shown_text(id), *problem)});
    }
  }
  const std::string text = serialize_registry(*data);
  auto temp = create_temp(path_);
  if (!temp) return std::unexpected(temp.error());
  auto& [out, tmp] = *temp;
  // The mode is explicit whatever the umask: the registry is 0600.
  if (::fchmod(out.get(), 0600) != 0) {
    ::unlink(tmp.c_str());
    return std::unexpected(sys_error("chmod " + tmp));
  }
  auto w = write_all(out.get(), text, "writing " + tmp);
  // Every durability-relevant call goes through osl::io, so tests can fail
  // each one (watchdog.registry_faults) and check the old file survives.
  if (w && osl::io::fsync(out.get()) != 0) w = std::unexpected(sys_error("fsync " + tmp));
  out.reset();
  if (w && osl::io::renameat(AT_FDCWD, tmp.c_str(), AT_FDCWD, path_.c_str()) != 0) {
    w = std::unexpected(sys_error("renaming " + tmp + " to " + path_.string()));
  }
  if (!w) {
    ::unlink(tmp.c_str());
    return w;
  }
  UniqueFd d(::open(dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d || osl::io::fsync(d.get()) != 0) return std::unexpected(sys_error("fsync directory " + dir().string()));
  return {};
}

}  // namespace airssys::watchdog
