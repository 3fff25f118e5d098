#include "store_schema.hpp"

#include "sqlite_util.hpp"

#include <cmath>
#include <type_traits>

namespace airssys::daemoneye::schema {

namespace {

template <class T>
constexpr std::string_view sql_type_of() {
  if constexpr (std::is_same_v<T, std::string>)
    return "TEXT";
  else if constexpr (std::is_same_v<T, double>)
    return "REAL";
  else
    return "INTEGER";
}

std::string_view sql_type(const ProcessColumn& c) {
  return std::visit([]<class T>(T ProcessRecord::*) { return sql_type_of<T>(); }, c.member);
}

std::string column_list() {
  std::string out;
  for (const auto& c : kProcessColumns) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

// process_events under `name`. AUTOINCREMENT: an id is never given twice,
// also after retention emptied the table, so a Sigma rule's mark on the id
// (sigma_window.hpp) never lies above events stored later (schema version 3).
std::string process_events_ddl(std::string_view name) {
  return "CREATE TABLE IF NOT EXISTS " + std::string(name) + R"( (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, event TEXT NOT NULL, source TEXT NOT NULL,
  pid INTEGER, parent INTEGER, name TEXT, path TEXT, cmdline TEXT, cwd TEXT,
  uid INTEGER, euid INTEGER, gid INTEGER, egid INTEGER, username TEXT, auid INTEGER,
  sha256 TEXT, start_time INTEGER, parent_path TEXT, parent_cmdline TEXT,
  time_ns INTEGER, cmdline_size INTEGER, overflows TEXT, exit_code INTEGER, exit_signal INTEGER,
  cgroup_id INTEGER, path_given TEXT, root_is_host INTEGER DEFAULT -1, path_from TEXT,
  image_dev INTEGER, image_ino INTEGER, host_path TEXT);
)";
}

// Every column of process_events_ddl(), in its order (the version-3 copy).
constexpr std::string_view kEventColumns =
    "id, time, event, source, pid, parent, name, path, cmdline, cwd, uid, euid, gid, egid, username, auid, "
    "sha256, start_time, parent_path, parent_cmdline, time_ns, cmdline_size, overflows, exit_code, exit_signal, "
    "cgroup_id";

std::string_view text_of(sqlite3_stmt* stmt, int i) {
  const auto* p = reinterpret_cast<const char*>(::sqlite3_column_text(stmt, i));
  if (p == nullptr) return {};
  return {p, static_cast<std::size_t>(::sqlite3_column_bytes(stmt, i))};
}

}  // namespace

// Run at every open, so an existing store gains what it lacks: since
// 2026-12-06 alerts_rule_time (rule_id, time) in place of alerts_rule_id
// (rule_id alone), which left `daemoneye-cli alerts --rule R` sorting the
// rule's alerts by time; the rule's newest alerts are now read in the
// index's order (cli_test AlertsAreReadThroughIndexes).
std::string ddl() {
  std::string sql = "CREATE TABLE IF NOT EXISTS processes (";
  bool first = true;
  for (const auto& c : kProcessColumns) {
    if (!first) sql += ", ";
    first = false;
    sql += c.name;
    sql += ' ';
    sql += c.name == "pid" ? std::string_view("INTEGER PRIMARY KEY") : sql_type(c);
  }
  sql += ");\n";
  sql += process_events_ddl("process_events");
  sql += R"(
CREATE INDEX IF NOT EXISTS process_events_time ON process_events(time);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, rule_id TEXT NOT NULL, rule_name TEXT NOT NULL,
  severity TEXT NOT NULL, tags TEXT NOT NULL, "row" TEXT NOT NULL, host TEXT NOT NULL,
  dedup_key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
CREATE INDEX IF NOT EXISTS alerts_rule_time ON alerts(rule_id, time);
DROP INDEX IF EXISTS alerts_rule_id;
CREATE TABLE IF NOT EXISTS scans (
  id INTEGER PRIMARY KEY, scan_id INTEGER NOT NULL, time INTEGER NOT NULL,
  processes INTEGER, unreadable INTEGER, collect_us INTEGER, store_us INTEGER, rules_us INTEGER,
  alerts INTEGER, rule_errors INTEGER, inserted INTEGER, updated INTEGER, deleted INTEGER);
CREATE INDEX IF NOT EXISTS scans_time ON scans(time);
CREATE TABLE IF NOT EXISTS sigma_marks (
  rule_id TEXT PRIMARY KEY, covered INTEGER NOT NULL, narrowed INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS held_alerts (rule_id TEXT PRIMARY KEY, held TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_ledger (
  id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, root TEXT NOT NULL, alerts_id INTEGER,
  cut INTEGER, unraised_from INTEGER, pending_discontinuity TEXT);
)";
  return sql;
}

std::string migrate_sql(int from_version) {
  std::string sql;
  if (from_version < 2) {
    // Version 2 (issue 11): what the kernel event sources add to process_events.
    sql +=
        "ALTER TABLE process_events ADD COLUMN time_ns INTEGER;"
        "ALTER TABLE process_events ADD COLUMN cmdline_size INTEGER;"
        "ALTER TABLE process_events ADD COLUMN overflows TEXT;"
        "ALTER TABLE process_events ADD COLUMN exit_code INTEGER;"
        "ALTER TABLE process_events ADD COLUMN exit_signal INTEGER;"
        "ALTER TABLE process_events ADD COLUMN cgroup_id INTEGER;";
  }
  if (from_version < 3) {
    // Version 3: process_events.id AUTOINCREMENT. SQLite cannot alter a
    // key, so the table is copied (ids kept; sqlite_sequence starts at the
    // largest); its index is dropped with it and made again by ddl().
    sql += process_events_ddl("process_events_v3");
    sql += "INSERT INTO process_events_v3 (" + std::string(kEventColumns) + ") SELECT " + std::string(kEventColumns) +
           " FROM process_events;"
           "DROP TABLE process_events;"
           "ALTER TABLE process_events_v3 RENAME TO process_events;";
  } else {
    // Version 4: an exec's path as given to execve, beside the path made
    // honest (event_assembler.cpp). The version-3 copy above already has it.
    if (from_version < 4) sql += "ALTER TABLE process_events ADD COLUMN path_given TEXT;";
    // Version 6: whether the process's root was the host's "/" at the event
    // (processes.root_is_host's meaning); events stored before read unknown.
    if (from_version < 6) sql += "ALTER TABLE process_events ADD COLUMN root_is_host INTEGER DEFAULT -1;";
    // Version 7: where an exec's path came from (exec, detached, proc,
    // given); NULL for the events stored before, as for a start or stop.
    if (from_version < 7) sql += "ALTER TABLE process_events ADD COLUMN path_from TEXT;";
    // Version 9: an exec's image identity (device, inode) and where the
    // host sees it (eBPF only); NULL for the events stored before.
    if (from_version < 9) {
      sql +=
          "ALTER TABLE process_events ADD COLUMN image_dev INTEGER;"
          "ALTER TABLE process_events ADD COLUMN image_ino INTEGER;"
          "ALTER TABLE process_events ADD COLUMN host_path TEXT;";
    }
  }
  return sql;
}

Result<void> add_process_columns(sqlite3* db) {
  for (const auto& c : kProcessColumns) {
    const std::string has_sql =
        "SELECT count(*) FROM pragma_table_info('processes') WHERE name = '" + std::string(c.name) + "'";
    auto has = sqlite::query_int(db, has_sql.c_str());
    if (!has) return std::unexpected(has.error().prefixed("read the processes table's columns"));
    if (*has > 0) continue;
    const std::string_view type = sql_type(c);
    const std::string_view unknown = type == "TEXT" ? "''" : type == "REAL" ? "0.0" : "-1";
    const std::string add = "ALTER TABLE processes ADD COLUMN " + std::string(c.name) + ' ' + std::string(type) +
                            " DEFAULT " + std::string(unknown);
    if (auto r = sqlite::exec(db, add.c_str()); !r) return r;
  }
  return {};
}

std::string upsert_process_sql() {
  std::string sql = "INSERT INTO processes (" + column_list() + ") VALUES (";
  for (std::size_t i = 0; i < kProcessColumns.size(); ++i) sql += i == 0 ? "?" : ", ?";
  sql += ") ON CONFLICT(pid) DO UPDATE SET ";
  bool first = true;
  for (const auto& c : kProcessColumns) {
    if (c.name == "pid") continue;
    if (!first) sql += ", ";
    first = false;
    sql += c.name;
    sql += " = excluded.";
    sql += c.name;
  }
  return sql;
}

std::string select_processes_sql() { return "SELECT " + column_list() + " FROM processes"; }

void bind_process(sqlite3_stmt* stmt, const ProcessRecord& r) {
  int i = 1;
  for (const auto& c : kProcessColumns) {
    std::visit(
        [&]<class T>(T ProcessRecord::*m) {
          const T& v = r.*m;
          if constexpr (std::is_same_v<T, std::string>) {
            ::sqlite3_bind_text64(stmt, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
          } else if constexpr (std::is_same_v<T, double>) {
            ::sqlite3_bind_double(stmt, i, v);
          } else {
            ::sqlite3_bind_int64(stmt, i, v);
          }
        },
        c.member);
    ++i;
  }
}

ProcessRecord read_process(sqlite3_stmt* stmt) {
  ProcessRecord r;
  int i = 0;
  for (const auto& c : kProcessColumns) {
    std::visit(
        [&]<class T>(T ProcessRecord::*m) {
          if constexpr (std::is_same_v<T, std::string>) {
            r.*m = std::string(text_of(stmt, i));
          } else if constexpr (std::is_same_v<T, double>) {
            r.*m = ::sqlite3_column_double(stmt, i);
          } else {
            r.*m = static_cast<T>(::sqlite3_column_int64(stmt, i));
          }
        },
        c.member);
    ++i;
  }
  return r;
}

bool same_columns(const ProcessRecord& a, const ProcessRecord& b) noexcept {
  for (const auto& c : kProcessColumns) {
    const bool equal = std::visit(
        [&]<class T>(T ProcessRecord::*m) {
          if constexpr (std::is_same_v<T, double>) {
            // NaN never equals itself; two NaNs are "unchanged", not a write per scan.
            return a.*m == b.*m || (std::isnan(a.*m) && std::isnan(b.*m));
          } else {
            return a.*m == b.*m;
          }
        },
        c.member);
    if (!equal) return false;
  }
  return true;
}

}  // namespace airssys::daemoneye::schema
