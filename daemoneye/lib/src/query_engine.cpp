#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <cctype>
#include <climits>
#include <nlohmann/json.hpp>

#include "query_authorizer.hpp"
#include "result_memory.hpp"
#include "sqlite_category.hpp"
#include "sqlite_regexp.hpp"
#include "sqlite_temp_vfs.hpp"
#include "sqlite_util.hpp"
#include "store_schema.hpp"

namespace airssys::daemoneye {

namespace {

using Clock = std::chrono::steady_clock;

// Limits of the read-only connection (on top of the authorizer).
constexpr int kMaxSqlBytes = 1'000'000;
// Longest string, blob or row a query may read or build. It also bounds the
// time one function call can take (instr() is O(n*m): ~0.3 s at 256 KiB,
// ~5 s at 1 MiB), which the progress handler cannot interrupt.
constexpr int kMaxValueBytes = 256 * 1024;
constexpr int kMaxLikePattern = 10000;
constexpr int kMaxExprDepth = 256;
constexpr int kMaxCompoundSelect = 64;
constexpr int kProgressOps = 1000;  // VM steps between deadline checks

// osquery's listening_ports (docs/daemoneye.md "listening_ports"), as its
// Linux table derives it from process_open_sockets: inet sockets with no
// remote port (TCP in LISTEN, and also one bound or made but neither
// listening nor connected, as osquery shows them), AF_UNIX sockets bound to
// a path; a unix row's port and socket 0, an inet row's path ''. A view, so
// it costs no collection and always agrees with process_open_sockets. TEMP
// and made by each read-only connection: views of the database file itself
// stay disabled (SQLITE_DBCONFIG_ENABLE_VIEW off; since SQLite 3.35 that
// leaves TEMP views working), so a file's own views are never run, and a
// store of any schema version has it. Reads through it are authorized as
// reads of main.process_open_sockets.
constexpr const char* kListeningPortsView =
    "CREATE TEMP VIEW listening_ports AS SELECT pid, "
    "CASE WHEN family = 1 THEN 0 ELSE local_port END AS port, protocol, family, "
    "CASE WHEN family = 1 THEN '' ELSE local_address END AS address, fd, "
    "CASE WHEN family = 1 THEN 0 ELSE socket END AS socket, "
    "CASE WHEN family = 1 THEN path ELSE '' END AS path, net_namespace "
    "FROM main.process_open_sockets "
    "WHERE (family = 1 AND path <> '') OR (family IN (2, 10) AND remote_port = 0)";

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// The database's tables and views outside query_guard::kReadableTables,
// read before the authorizer is installed (it refuses sqlite_schema). A
// table the agent creates after this connection opened is not in the list:
// the Store creates its whole schema before any QueryEngine opens the file.
Result<std::vector<std::string>> unreadable_tables(sqlite3* h) {
  auto stmt = sqlite::prepare(h, "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<std::string> out;
  int rc = SQLITE_ROW;
  while ((rc = ::sqlite3_step(stmt->get())) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(::sqlite3_column_text(stmt->get(), 0));
    if (text != nullptr && !query_guard::table_readable(text)) out.emplace_back(text);
  }
  if (rc != SQLITE_DONE) return std::unexpected(sqlite::error(h, "", rc));
  return out;
}

// True when `tail` holds only whitespace, semicolons and comments.
bool blank_tail(std::string_view tail) {
  std::size_t i = 0;
  while (i < tail.size()) {
    if (is_space(tail[i]) || tail[i] == ';') {
      ++i;
    } else if (tail.substr(i, 2) == "--") {
      const auto nl = tail.find('\n', i);
      i = nl == std::string_view::npos ? tail.size() : nl + 1;
    } else if (tail.substr(i, 2) == "/*") {
      const auto end = tail.find("*/", i + 2);
      i = end == std::string_view::npos ? tail.size() : end + 2;  // SQLite ends an open comment at the end
    } else {
      return false;
    }
  }
  return true;
}

// The statement's first keyword, upper-cased ("VACUUM"), for messages.
std::string first_keyword(std::string_view sql) {
  std::size_t i = 0;
  while (i < sql.size() && !std::isalpha(static_cast<unsigned char>(sql[i]))) {
    if (sql.substr(i, 2) == "--") {
      const auto nl = sql.find('\n', i);
      i = nl == std::string_view::npos ? sql.size() : nl + 1;
    } else if (sql.substr(i, 2) == "/*") {
      const auto end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else {
      ++i;
    }
  }
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])) && word.size() < 32) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
  }
  return word;
}

Value column_value(sqlite3_stmt* s, int i) {
  switch (::sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
      return static_cast<std::int64_t>(::sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
      return ::sqlite3_column_double(s, i);
    case SQLITE_NULL:
      return std::monostate{};
    default: {
      // TEXT, and BLOB as its bytes (the tables hold no blobs; a query can
      // still make one, e.g. x'00').
      const auto* p = static_cast<const char*>(::sqlite3_column_blob(s, i));
      const auto n = static_cast<std::size_t>(::sqlite3_column_bytes(s, i));
      return p != nullptr ? std::string(p, n) : std::string();
    }
  }
}

}  // namespace

std::string row_to_json(const QueryResult& r, std::size_t row) {
  nlohmann::ordered_json obj = nlohmann::ordered_json::object();
  if (row >= r.rows.size()) return obj.dump();
  const auto& values = r.rows[row];
  for (std::size_t c = 0; c < r.columns.size() && c < values.size(); ++c) {
    // A repeated column name (SELECT p.pid, pp.pid) must not overwrite the
    // first: later ones become name_2, name_3, ...
    std::string key = r.columns[c];
    for (int n = 2; obj.contains(key); ++n) key = fmt::format("{}_{}", r.columns[c], n);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::monostate>)
            obj[key] = nullptr;
          else
            obj[key] = v;
        },
        values[c]);
  }
  // Text from processes is whatever the kernel held: invalid UTF-8 is
  // replaced (U+FFFD) rather than failing the alert.
  return obj.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::filesystem::path directory_of(const std::filesystem::path& db) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(db, ec);
  return (ec ? db : abs).parent_path();
}

struct QueryEngine::Impl {
  // Before db: the connection is closed before its VFS is unregistered.
  std::unique_ptr<sqlite::TempBytesVfs> temp;
  sqlite::Db db;
  QueryLimits limits;
  query_guard::State guard;
  Clock::time_point deadline{};
  // PRAGMA user_version when opened: a store the agent has not upgraded
  // yet (a new package's CLI before the agent restarted) lacks the newest
  // columns, and "no such column" should say why.
  std::int64_t store_version = 0;

  static int on_progress(void* user) {
    auto* self = static_cast<Impl*>(user);
    return Clock::now() > self->deadline ? 1 : 0;
  }

  // Compiles exactly one read-only statement, or says why not.
  Result<sqlite::Stmt> compile(std::string_view sql) {
    if (sql.find('\0') != std::string_view::npos)
      return fail(ErrorCategory::invalid_input, "query contains a NUL byte");
    if (sql.size() > static_cast<std::size_t>(kMaxSqlBytes)) {
      return fail(ErrorCategory::invalid_input, fmt::format("query too long ({} bytes, at most {})", sql.size(), kMaxSqlBytes));
    }
    guard.clear();
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int rc = ::sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()), 0, &raw, &tail);
    sqlite::Stmt stmt(raw);
    if (rc != SQLITE_OK) {
      // SQLite says only "not authorized"; the authorizer kept the reason.
      if (!guard.denial.empty()) return fail(ErrorCategory::denied, guard.denial);
      std::string message = ::sqlite3_errmsg(db.get());
      // osquery's other tables (users, listening_ports, ...) are not here,
      // and there is no .tables: say which are, as a refused read does.
      const bool older_store = store_version > 0 && store_version < schema::kVersion;
      if (message.starts_with("no such table: ")) {
        const std::string_view table = std::string_view(message).substr(15);
        // users and groups came with schema 8 (store_schema.hpp).
        if (older_store && store_version < 8 && (table == "users" || table == "groups"))
          message += fmt::format(" (the store is at schema version {}, this program's is {}: the agent adds the users "
                                 "and groups tables when it next starts)",
                                 store_version, schema::kVersion);
        // process_memory_map came with schema 10.
        else if (older_store && store_version < 10 && table == "process_memory_map")
          message += fmt::format(" (the store is at schema version {}, this program's is {}: the agent adds the "
                                 "process_memory_map table when it next starts)",
                                 store_version, schema::kVersion);
        else
          message += fmt::format(" (readable: {})", fmt::join(query_guard::kReadableTables, ", "));
      }
      if (message.starts_with("no such column: ") && older_store)
        message += fmt::format(" (the store is at schema version {}, this program's is {}: the agent adds the newer "
                               "columns when it next starts)",
                               store_version, schema::kVersion);
      return fail(detail::sqlite_category(rc), std::move(message));
    }
    if (!stmt) return fail(ErrorCategory::invalid_input, "empty query");
    const auto consumed = static_cast<std::size_t>(tail - sql.data());
    if (!blank_tail(sql.substr(consumed)))
      return fail(ErrorCategory::invalid_input, "only one statement per query");
    // Belt and braces: statements with no authorizer action of their own
    // (VACUUM, which can write a copy elsewhere with INTO) are caught here.
    if (::sqlite3_stmt_readonly(stmt.get()) == 0) {
      return fail(ErrorCategory::denied,
                  fmt::format("not allowed: {} (only read-only SELECT statements)", first_keyword(sql)));
    }
    return stmt;
  }
};

QueryEngine::QueryEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QueryEngine::~QueryEngine() = default;

Result<std::unique_ptr<QueryEngine>> QueryEngine::open(const std::filesystem::path& db, QueryLimits limits) {
  // A process that set no limit of its own (daemoneye-cli) gets this one:
  // sqlite3_hard_heap_limit64(-1) only reads it.
  if (::sqlite3_hard_heap_limit64(-1) == 0) ::sqlite3_hard_heap_limit64(kSqliteHeapLimit);
  const std::string path = db.string();
  // The file must already be the Store's (READONLY without CREATE); a
  // symbolic link in its place is refused rather than followed.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    return fail(ErrorCategory::denied, fmt::format("refusing {}: it is a symbolic link", path));
  }
  // SQLite's open() of a FIFO waits for a writer: `daemoneye-cli --db FIFO
  // query` hung until killed. A directory read as "disk I/O error".
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return fail(ErrorCategory::invalid_input, fmt::format("refusing {}: not a regular file", path));
  }
  std::string temp_dir;
  if (!limits.temp_dir.empty()) {
    std::error_code ec;
    const auto dir = std::filesystem::absolute(limits.temp_dir, ec);
    if (ec || ::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return fail(ErrorCategory::invalid_input,
                  fmt::format("temporary files directory {}: not a directory", limits.temp_dir.string()));
    }
    temp_dir = dir.string();
  }
  auto temp = sqlite::TempBytesVfs::make(limits.max_temp_bytes, std::move(temp_dir));
  if (!temp) return std::unexpected(temp.error());
  auto conn = sqlite::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, (*temp)->name());
  if (!conn) return std::unexpected(conn.error());
  sqlite3* h = conn->get();
  auto failed = [&](ErrorCategory c, std::string_view what, const std::string& why) {
    return fail(c, fmt::format("{}: {}: {}", path, what, why));
  };

  int on = 0;
  if (::sqlite3_db_config(h, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || on != 1) {
    return failed(ErrorCategory::internal, "configure", "cannot enable defensive mode");
  }
  if (::sqlite3_db_config(h, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &on) != SQLITE_OK || on != 0) {
    return failed(ErrorCategory::internal, "configure", "cannot disable extension loading");
  }
  if (::sqlite3_db_config(h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on) != SQLITE_OK || on != 0) {
    return failed(ErrorCategory::internal, "configure", "cannot distrust the schema");
  }
  ::sqlite3_db_config(h, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
  ::sqlite3_db_config(h, SQLITE_DBCONFIG_ENABLE_VIEW, 0, nullptr);
  ::sqlite3_limit(h, SQLITE_LIMIT_ATTACHED, 0);
  ::sqlite3_limit(h, SQLITE_LIMIT_SQL_LENGTH, kMaxSqlBytes);
  ::sqlite3_limit(h, SQLITE_LIMIT_LENGTH, kMaxValueBytes);
  ::sqlite3_limit(h, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, kMaxLikePattern);
  ::sqlite3_limit(h, SQLITE_LIMIT_EXPR_DEPTH, kMaxExprDepth);
  ::sqlite3_limit(h, SQLITE_LIMIT_COMPOUND_SELECT, kMaxCompoundSelect);
  ::sqlite3_limit(h, SQLITE_LIMIT_WORKER_THREADS, 0);
  ::sqlite3_busy_timeout(h, 1000);
  // Before the authorizer exists (it refuses every PRAGMA): no writes even
  // if one slipped through, and the schema is read now so a file that is
  // not a database fails here, not at the first rule.
  // A page cache that holds `processes` of a large host (10,000 rows is
  // ~5 MB): the rules of one scan then read it from memory after the first
  // (default 2 MB: every rule re-read every page through the WAL, 4 ms
  // instead of 0.7 ms for a one-column filter over 10,000 rows).
  // temp_store=FILE: what a query sorts or buffers (ORDER BY, GROUP BY,
  // DISTINCT, window frames, materialised CTEs) spills to temporary files
  // past the page cache, so a sort over a full store needs little heap
  // (with MEMORY, 3b3b4bb, an ORDER BY over 200,000 process_events ran out
  // of the 256 MiB heap limit). The files are capped by the connection's
  // VFS (limits.max_temp_bytes, sqlite_temp_vfs.hpp): an ORDER BY over an
  // endless recursive CTE fails there instead of writing /var/tmp at disk
  // speed until the time limit (up to rules.timeout's 10 minutes).
  // listening_ports is made after temp_store (changing it drops TEMP
  // objects) and before query_only (which refuses CREATE, TEMP ones too).
  if (auto r = sqlite::exec(h, "PRAGMA cache_size=-16384; PRAGMA temp_store=FILE"); !r) {
    return failed(r.error().category, "configure", r.error().message);
  }
  if (auto r = sqlite::exec(h, kListeningPortsView); !r) {
    return failed(r.error().category, "create listening_ports", r.error().message);
  }
  if (auto r = sqlite::exec(h, "PRAGMA query_only=1"); !r) {
    return failed(r.error().category, "configure", r.error().message);
  }
  if (auto r = sqlite::query_int(h, "SELECT count(*) FROM sqlite_master"); !r) {
    // Most often a file that is not a database (or not a whole one).
    return failed(r.error().category, "read schema", r.error().message);
  }

  // regexp() for Sigma's `re` (bounded per call: sqlite_regexp.hpp).
  if (const int rc = detail::register_regexp(h); rc != SQLITE_OK) {
    return failed(detail::sqlite_category(rc), "configure", "cannot register regexp()");
  }

  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  if (auto v = sqlite::query_int(h, "PRAGMA user_version"); v) impl->store_version = *v;
  impl->temp = std::move(*temp);
  if (auto names = unreadable_tables(h); names) {
    impl->guard.unreadable_tables = std::move(*names);
  } else {
    return failed(names.error().category, "read schema", names.error().message);
  }
  ::sqlite3_set_authorizer(h, &query_guard::authorize, &impl->guard);
  ::sqlite3_progress_handler(h, kProgressOps, &Impl::on_progress, impl.get());
  impl->db = std::move(*conn);
  return std::unique_ptr<QueryEngine>(new QueryEngine(std::move(impl)));
}

Result<void> QueryEngine::check(std::string_view sql) const {
  // Preparing may read the schema, which runs the progress handler.
  impl_->deadline = Clock::now() + impl_->limits.time;
  auto stmt = impl_->compile(sql);
  if (!stmt) return std::unexpected(stmt.error());
  return {};
}

Result<std::vector<std::string>> QueryEngine::columns(std::string_view sql) const {
  impl_->deadline = Clock::now() + impl_->limits.time;
  auto stmt = impl_->compile(sql);
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<std::string> names;
  const int n = ::sqlite3_column_count(stmt->get());
  for (int c = 0; c < n; ++c) {
    const char* name = ::sqlite3_column_name(stmt->get(), c);
    names.emplace_back(name != nullptr ? name : "");
  }
  return names;
}

Result<QueryResult> QueryEngine::run(std::string_view sql, std::span<const QueryParam> params, const RowFilter& keep) {
  Impl& s = *impl_;
  const auto start = Clock::now();
  s.deadline = start + s.limits.time;
  auto stmt = s.compile(sql);
  if (!stmt) return std::unexpected(stmt.error());
  sqlite3_stmt* st = stmt->get();
  for (const QueryParam& p : params) {
    const std::string name(p.name);
    if (const int i = ::sqlite3_bind_parameter_index(st, name.c_str()); i > 0) ::sqlite3_bind_int64(st, i, p.value);
  }

  QueryResult result;
  std::size_t result_bytes = 0;  // never above s.limits.max_bytes
  const int ncol = ::sqlite3_column_count(st);
  for (int c = 0; c < ncol; ++c) {
    const char* name = ::sqlite3_column_name(st, c);
    result.columns.emplace_back(name != nullptr ? name : "");
  }
  s.temp->clear();
  for (;;) {
    const int rc = ::sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      if (rc == SQLITE_INTERRUPT) {
        return fail(ErrorCategory::timeout, fmt::format("time limit exceeded ({} ms)", s.limits.time.count()));
      }
      if (rc == SQLITE_FULL && s.temp->exceeded()) {
        return fail(ErrorCategory::resource_exhausted,
                    fmt::format("temporary files limit exceeded ({} MiB: what the query sorts or buffers)",
                                s.limits.max_temp_bytes >> 20));
      }
      return fail(detail::sqlite_category(rc), ::sqlite3_errmsg(s.db.get()));
    }
    // One row past the limit tells a cut-off result from one that fits exactly.
    if (result.rows.size() == s.limits.max_rows) {
      result.truncated = true;
      break;
    }
    // Rows a filter drops cost no memory kept, but reading them costs time.
    if (keep && result.rows.size() + result.dropped >= kMaxRowsReadFactor * s.limits.max_rows) {
      result.truncated = true;
      break;
    }
    // Sizes first, so a row that would pass max_bytes is never copied. Its
    // memory, numbers and NULLs included (result_memory.hpp).
    std::size_t row_bytes = detail::row_memory(static_cast<std::size_t>(ncol));
    for (int c = 0; c < ncol; ++c) {
      const int type = ::sqlite3_column_type(st, c);
      if (type == SQLITE_TEXT || type == SQLITE_BLOB)
        row_bytes += detail::string_heap(static_cast<std::size_t>(::sqlite3_column_bytes(st, c)));
    }
    if (row_bytes > s.limits.max_bytes - result_bytes) {
      result.truncated = true;
      break;
    }
    result_bytes += row_bytes;
    auto& row = result.rows.emplace_back();
    row.reserve(static_cast<std::size_t>(ncol));
    for (int c = 0; c < ncol; ++c) row.push_back(column_value(st, c));
    if (keep && !keep(result, result.rows.size() - 1)) {
      result.rows.pop_back();
      result_bytes -= row_bytes;
      ++result.dropped;
    }
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return result;
}

const QueryLimits& QueryEngine::limits() const noexcept { return impl_->limits; }

}  // namespace airssys::daemoneye
