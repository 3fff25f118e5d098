#pragma once
// The store's schema (docs/daemoneye.md "Tables"), in one place.
//
// kProcessColumns is the single list of the `processes` columns: the DDL,
// the upsert statement, binding, reading back and change detection are all
// derived from it, so a column added here is added everywhere.

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/process_record.hpp>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace airssys::daemoneye::schema {

// PRAGMA user_version of a database this code created. 8: the users and
// groups tables (store_accounts.hpp; made at every open, as tables are, so
// the upgrade from 7 is only the version: an older agent then refuses the
// store rather than run beside tables it does not keep). 9: an exec
// event's image identity and host path (process_events.image_dev,
// image_ino, host_path). 10: process_memory_map (store_memory_maps.hpp;
// made at every open, so the upgrade from 9 is only the version, as for 8).
inline constexpr int kVersion = 10;

struct ProcessColumn {
  std::string_view name;
  std::variant<std::int64_t ProcessRecord::*, int ProcessRecord::*, double ProcessRecord::*,
               std::string ProcessRecord::*>
      member;
};

// Every column of ProcessRecord (process_record.hpp), in table order; pid first.
inline constexpr std::array<ProcessColumn, 35> kProcessColumns{{
    {"pid", &ProcessRecord::pid},
    {"parent", &ProcessRecord::parent},
    {"pgroup", &ProcessRecord::pgroup},
    {"sid", &ProcessRecord::sid},
    {"name", &ProcessRecord::name},
    {"path", &ProcessRecord::path},
    {"cmdline", &ProcessRecord::cmdline},
    {"cwd", &ProcessRecord::cwd},
    {"root", &ProcessRecord::root},
    {"uid", &ProcessRecord::uid},
    {"gid", &ProcessRecord::gid},
    {"euid", &ProcessRecord::euid},
    {"egid", &ProcessRecord::egid},
    {"suid", &ProcessRecord::suid},
    {"sgid", &ProcessRecord::sgid},
    {"username", &ProcessRecord::username},
    {"auid", &ProcessRecord::auid},
    {"on_disk", &ProcessRecord::on_disk},
    {"state", &ProcessRecord::state},
    {"threads", &ProcessRecord::threads},
    {"nice", &ProcessRecord::nice},
    {"start_time", &ProcessRecord::start_time},
    {"user_time", &ProcessRecord::user_time},
    {"system_time", &ProcessRecord::system_time},
    {"resident_size", &ProcessRecord::resident_size},
    {"total_size", &ProcessRecord::total_size},
    {"disk_bytes_read", &ProcessRecord::disk_bytes_read},
    {"disk_bytes_written", &ProcessRecord::disk_bytes_written},
    {"cgroup_path", &ProcessRecord::cgroup_path},
    {"tty", &ProcessRecord::tty},
    {"sha256", &ProcessRecord::sha256},
    {"cpu_percent", &ProcessRecord::cpu_percent},
    {"container_id", &ProcessRecord::container_id},
    {"root_is_host", &ProcessRecord::root_is_host},  // schema 5
    {"host_on_disk", &ProcessRecord::host_on_disk},  // schema 5
}};

// CREATE TABLE / INDEX statements for all four tables (IF NOT EXISTS).
[[nodiscard]] std::string ddl();
// Statements that bring a database of `from_version` (≥ 1) to kVersion; run
// before ddl() in the same transaction. "" when nothing is needed.
[[nodiscard]] std::string migrate_sql(int from_version);

// Adds to `processes` every column of kProcessColumns it lacks (a store made
// before schema 5 lacks root_is_host and host_on_disk), with the record's
// "unknown" as default (-1, '' or 0.0) until the next snapshot rewrites its
// rows. Run at every open after ddl(), in its transaction: a store whose
// version-1 file had no processes table yet gets it whole from ddl().
[[nodiscard]] Result<void> add_process_columns(sqlite3* db);

// INSERT ... ON CONFLICT(pid) DO UPDATE: one statement for new and changed rows.
[[nodiscard]] std::string upsert_process_sql();
// SELECT <every column> FROM processes.
[[nodiscard]] std::string select_processes_sql();

// Binds every column of `r` as parameters 1..35 (text bound SQLITE_STATIC:
// `r` must outlive the step).
void bind_process(sqlite3_stmt* stmt, const ProcessRecord& r);
// Reads a row of select_processes_sql().
[[nodiscard]] ProcessRecord read_process(sqlite3_stmt* stmt);
// True when every column (not the bookkeeping fields) is equal.
[[nodiscard]] bool same_columns(const ProcessRecord& a, const ProcessRecord& b) noexcept;

}  // namespace airssys::daemoneye::schema
