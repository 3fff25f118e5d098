#pragma once
// QueryEngine — runs rule and ad-hoc SQL safely over the DaemonEye store.
//
// It owns its own read-only SQLite connection (SQLITE_OPEN_READONLY, never
// the writer's), with:
//  - an authorizer that allows SELECT and reads of the documented tables
//    (processes, process_events, alerts, scans) and a list of harmless
//    functions only; everything else (ATTACH, PRAGMA, writes, temp objects,
//    load_extension, unknown functions) is refused with the reason;
//  - SQLITE_DBCONFIG_DEFENSIVE, no extension loading, no trusted schema;
//  - exactly one statement per query (a second statement is an error);
//  - a time limit per query (progress handler), a row limit and a byte
//    limit: a query that passes the time limit fails; one whose result
//    passes max_rows or max_bytes (its memory) is cut off before the row that would
//    pass it, with `truncated` set (the rows before it still reach the
//    rule's alerts, so a hostile process cannot silence a rule by making
//    its result large).
// Recursive CTEs are allowed but bounded by the time limit. What a query
// sorts or buffers spills past the page cache to temporary files
// (temp_store=FILE), at most max_temp_bytes of them at a time (past it the
// query fails as resource_exhausted, "temporary files limit exceeded"), so
// an ORDER BY over a full store works with little heap. SQLite's heap is
// bounded too: open() sets kSqliteHeapLimit for the whole process when the
// process has set no limit of its own (sqlite3_hard_heap_limit64); past it
// a query fails with "out of memory".
//
// Thread safety: one QueryEngine is used by one thread at a time.

#include <airssys/daemoneye/error.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <functional>
#include <vector>

namespace airssys::daemoneye {

// SQLite's memory in a process, all connections together (see above; the
// agent sets it before it opens its store).
inline constexpr std::int64_t kSqliteHeapLimit = std::int64_t{256} << 20;

struct QueryLimits {
  std::chrono::milliseconds time{1000};
  std::size_t max_rows = 10000;
  // The result's memory, about (lib/src/result_memory.hpp): each value's
  // Value (40 bytes; numbers and NULLs too), each string's heap block and
  // each row's vector. One value may hold up to 256 KiB, so max_rows alone
  // bounds a result only at max_rows × columns × 256 KiB; and a million
  // rows of 64 numbers are ~2.6 GB.
  std::size_t max_bytes = 16 * 1024 * 1024;
  // Temporary files of one query (sort spills, ephemeral tables), bytes:
  // twice database.max_size's default, room to sort a full store.
  std::int64_t max_temp_bytes = std::int64_t{1} << 30;
  // Where those files go (each a unique name, created 0600 with O_EXCL and
  // unlinked at once). Empty: SQLite's choice, the first writable of
  // SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp, /tmp, the working directory
  // -- none writable under the agent's unit (ProtectSystem=strict), so
  // the agent passes its database's directory. Must be a directory.
  std::filesystem::path temp_dir;
};

using Value = std::variant<std::monostate, std::int64_t, double, std::string>;  // monostate = NULL

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
  bool truncated = false;  // max_rows or max_bytes was reached; `rows` is the part that fit
  std::size_t dropped = 0;  // rows a RowFilter dropped (not in `rows`, not counted against max_rows)
  std::chrono::microseconds elapsed{0};
};

// A named parameter of a query (":after"), bound as an integer. A name the
// statement does not have is ignored; one it has but no QueryParam names
// is NULL.
struct QueryParam {
  std::string_view name;
  std::int64_t value = 0;
};

// The directory holding database `db` (absolute), the agent's temp_dir: its
// store's directory is writable wherever the store is.
[[nodiscard]] std::filesystem::path directory_of(const std::filesystem::path& db);

// One result row as a JSON object {"column": value, ...}.
[[nodiscard]] std::string row_to_json(const QueryResult& r, std::size_t row);

// Called for each row as it is read, with the row appended to `r` at
// index `row`: false drops it (it costs none of max_rows or max_bytes).
// The rule exceptions use it, so excepted rows cannot push a real one past
// the cut. With a filter, at most kMaxRowsReadFactor × max_rows rows are
// read in all (kept and dropped); past that the result is `truncated`.
using RowFilter = std::function<bool(const QueryResult& r, std::size_t row)>;
inline constexpr std::size_t kMaxRowsReadFactor = 10;

class QueryEngine {
 public:
  // `db` must exist (the Store creates it). Errors name the file and reason.
  [[nodiscard]] static Result<std::unique_ptr<QueryEngine>> open(const std::filesystem::path& db, QueryLimits limits = {});
  ~QueryEngine();
  QueryEngine(const QueryEngine&) = delete;
  QueryEngine& operator=(const QueryEngine&) = delete;

  // Compiles without running: the reason a query is refused, or ok. denied
  // for what the guard does not allow ("not allowed: PRAGMA"),
  // invalid_input for SQL that does not compile ("no such column: foo",
  // "only one statement per query").
  [[nodiscard]] Result<void> check(std::string_view sql) const;
  // check(), and on success the names of the result's columns (rule loading
  // uses it to verify a rule's `key:` columns).
  [[nodiscard]] Result<std::vector<std::string>> columns(std::string_view sql) const;
  // check()'s errors, timeout past limits.time, or SQLite's own (busy,
  // corrupt, io). Reaching max_rows or max_bytes is not an error: the result
  // says `truncated`. `params` are bound before the first row is read.
  [[nodiscard]] Result<QueryResult> run(std::string_view sql, std::span<const QueryParam> params = {},
                                        const RowFilter& keep = {});

  [[nodiscard]] const QueryLimits& limits() const noexcept;

  struct Impl;

 private:
  explicit QueryEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye
