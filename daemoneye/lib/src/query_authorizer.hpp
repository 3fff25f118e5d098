#pragma once
// The SQLite authorizer behind QueryEngine (docs/daemoneye.md "SQL safety").
//
// Deny by default. Allowed while a statement is compiled:
//   SQLITE_SELECT, SQLITE_RECURSIVE (bounded by the query's time limit),
//   SQLITE_READ of columns of the tables in kReadableTables (schema "main";
//   kEngineView, the engine's own view, in "temp"),
//   and the column-less read SQLite reports for a FROM item whose columns
//   are unused (count(*) FROM a CTE), unless it is one of SQLite's own tables
//   or a table of the database that is not readable (State::unreadable_tables),
//   SQLITE_FUNCTION of the functions in kAllowedFunctions.
// Everything else — PRAGMA, ATTACH/DETACH, INSERT/UPDATE/DELETE, CREATE/DROP
// (also TEMP), ALTER, transactions and savepoints, ANALYZE, REINDEX, reads of
// sqlite_master or any other table, table-valued functions (json_each,
// pragma_*: SQLite asks to update sqlite_master for them), and any function
// not listed (load_extension, fts3_tokenizer, random, zeroblob, …) — is
// refused, and the first refusal's reason is kept for the error message.
// At most kMaxRegexpCalls regexp() calls (REGEXP operators included) per
// statement, rules and live queries alike: each call site keeps up to
// kHeapLimitKib of PCRE2 heap outside SQLite's heap limit (sqlite_regexp.hpp).
// SQLite asks once per call site it compiles, so a CTE used twice counts
// its calls twice, as its code is there twice.

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::query_guard {

// listening_ports is a TEMP view QueryEngine::open makes over
// process_open_sockets (query_engine.cpp): its columns are read in schema
// "temp", the table's under it in "main", and both are allowed.
inline constexpr std::string_view kEngineView = "listening_ports";
inline constexpr std::array<std::string_view, 10> kReadableTables{
    "processes", "process_events",  "alerts", "scans",          "process_open_sockets",
    "listening_ports", "users", "groups", "excepted_alerts", "process_memory_map"};

// Pure functions of their arguments (plus the clock for the date functions):
// no I/O, no state, no allocation beyond SQLITE_LIMIT_LENGTH, and no single
// call that runs long: the time limit is checked between VM steps, not inside
// a function. printf/format are left out for that reason (SQLite 3.40's
// printf('%.*c', 2147483647, 'x') loops for seconds in one call).
// regexp is ours (sqlite_regexp.hpp), bounded by PCRE2's match limits.
// Sorted; lower case as SQLite reports them.
inline constexpr std::string_view kAllowedFunctions[] = {
    "->",
    "->>",
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "avg",
    "ceil",
    "ceiling",
    "char",
    "coalesce",
    "cos",
    "cosh",
    "count",
    "cume_dist",
    "current_date",
    "current_time",
    "current_timestamp",
    "date",
    "datetime",
    "degrees",
    "dense_rank",
    "exp",
    "first_value",
    "floor",
    "glob",
    "group_concat",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "json",
    "json_array",
    "json_array_length",
    "json_extract",
    "json_group_array",
    "json_group_object",
    "json_insert",
    "json_object",
    "json_patch",
    "json_quote",
    "json_remove",
    "json_replace",
    "json_set",
    "json_type",
    "json_valid",
    "julianday",
    "lag",
    "last_value",
    "lead",
    "length",
    "like",
    "likelihood",
    "likely",
    "ln",
    "log",
    "log10",
    "log2",
    "lower",
    "ltrim",
    "max",
    "min",
    "mod",
    "nth_value",
    "ntile",
    "nullif",
    "percent_rank",
    "pi",
    "pow",
    "power",
    "quote",
    "radians",
    "rank",
    "regexp",
    "replace",
    "round",
    "row_number",
    "rtrim",
    "sign",
    "sin",
    "sinh",
    "soundex",
    "sqrt",
    "strftime",
    "substr",
    "substring",
    "sum",
    "tan",
    "tanh",
    "time",
    "total",
    "trim",
    "trunc",
    "typeof",
    "unicode",
    "unixepoch",
    "unlikely",
    "upper",
};

[[nodiscard]] bool function_allowed(std::string_view name) noexcept;
[[nodiscard]] bool table_readable(std::string_view table) noexcept;

inline constexpr int kMaxRegexpCalls = 32;  // sigma::kMaxRegexes keeps Sigma rules within it

// Per-connection state the authorizer writes: the reason of the first
// refusal since the last clear(), and the regexp() calls counted since.
struct State {
  std::string denial;
  int regexp_calls = 0;
  // The database's own tables and views that are not readable (the agent's
  // bookkeeping: sigma_marks, held alerts, ledger marks, ...), read once when
  // the connection opens. A column-less read of one of these names is
  // refused too: SQLite reports `count(*) FROM sigma_marks` exactly as it
  // reports a CTE's, so only the name tells them apart (a CTE given such a
  // name is refused with it).
  std::vector<std::string> unreadable_tables;
  void clear() {
    denial.clear();
    regexp_calls = 0;
  }
};

// The sqlite3_set_authorizer callback; `user` is a State*.
int authorize(void* user, int action, const char* arg1, const char* arg2, const char* db, const char* inner);

}  // namespace airssys::daemoneye::query_guard
