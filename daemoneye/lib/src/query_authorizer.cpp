#include "query_authorizer.hpp"

#include "sqlite_regexp.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <iterator>

namespace airssys::daemoneye::query_guard {

static_assert(kMaxRegexpCalls == detail::kMaxCallSites, "the authorizer's early refusal and regexp()'s bound agree");
static_assert(std::ranges::is_sorted(kAllowedFunctions),
              "kAllowedFunctions must stay sorted (binary search)");

bool function_allowed(std::string_view name) noexcept {
  return std::ranges::binary_search(kAllowedFunctions, name);
}

bool table_readable(std::string_view table) noexcept {
  return std::ranges::find(kReadableTables, table) != kReadableTables.end();
}

namespace {

std::string_view sv(const char* s) { return s != nullptr ? std::string_view(s) : std::string_view(); }

bool same_name(std::string_view a, std::string_view b) {  // SQLite's names ignore ASCII case
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_sqlite_internal(std::string_view table) {
  constexpr std::string_view prefix = "sqlite_";
  return table.size() >= prefix.size() && same_name(table.substr(0, prefix.size()), prefix);
}

bool is_unreadable_table(const State& state, std::string_view name) {
  return std::ranges::any_of(state.unreadable_tables, [&](const std::string& t) { return same_name(t, name); });
}

// Why `action` is refused, in the words of the statement that asked for it.
std::string denial_reason(int action, std::string_view a1, std::string_view a2) {
  switch (action) {
    case SQLITE_PRAGMA:
      return fmt::format("PRAGMA {}", a1);
    case SQLITE_ATTACH:
      return "ATTACH";
    case SQLITE_DETACH:
      return "DETACH";
    // CREATE and DROP are first checked as a write to the schema table, and
    // compiling stops at that refusal.
    case SQLITE_INSERT:
      if (a1 == "sqlite_master") return "CREATE (schema changes)";
      if (a1 == "sqlite_temp_master") return "CREATE TEMP (temporary tables, views, indexes, triggers)";
      return fmt::format("INSERT into {}", a1);
    case SQLITE_UPDATE:
      if (a1 == "sqlite_master" || a1 == "sqlite_temp_master") {
        return fmt::format("UPDATE of {} (table-valued functions such as json_each and pragma_* need it)",
                           a1);
      }
      return fmt::format("UPDATE of {}", a1);
    case SQLITE_DELETE:
      if (a1 == "sqlite_master") return "DROP (schema changes)";
      if (a1 == "sqlite_temp_master") return "DROP TEMP (temporary objects)";
      return fmt::format("DELETE from {}", a1);
    case SQLITE_CREATE_TABLE:
      return fmt::format("CREATE TABLE {}", a1);
    case SQLITE_CREATE_TEMP_TABLE:
      return fmt::format("CREATE TEMP TABLE {}", a1);
    case SQLITE_CREATE_INDEX:
      return fmt::format("CREATE INDEX {}", a1);
    case SQLITE_CREATE_TEMP_INDEX:
      return fmt::format("CREATE TEMP INDEX {}", a1);
    case SQLITE_CREATE_VIEW:
      return fmt::format("CREATE VIEW {}", a1);
    case SQLITE_CREATE_TEMP_VIEW:
      return fmt::format("CREATE TEMP VIEW {}", a1);
    case SQLITE_CREATE_TRIGGER:
      return fmt::format("CREATE TRIGGER {}", a1);
    case SQLITE_CREATE_TEMP_TRIGGER:
      return fmt::format("CREATE TEMP TRIGGER {}", a1);
    case SQLITE_CREATE_VTABLE:
      return fmt::format("CREATE VIRTUAL TABLE {}", a1);
    case SQLITE_DROP_TABLE:
      return fmt::format("DROP TABLE {}", a1);
    case SQLITE_DROP_TEMP_TABLE:
      return fmt::format("DROP TEMP TABLE {}", a1);
    case SQLITE_DROP_INDEX:
      return fmt::format("DROP INDEX {}", a1);
    case SQLITE_DROP_TEMP_INDEX:
      return fmt::format("DROP TEMP INDEX {}", a1);
    case SQLITE_DROP_VIEW:
      return fmt::format("DROP VIEW {}", a1);
    case SQLITE_DROP_TEMP_VIEW:
      return fmt::format("DROP TEMP VIEW {}", a1);
    case SQLITE_DROP_TRIGGER:
      return fmt::format("DROP TRIGGER {}", a1);
    case SQLITE_DROP_TEMP_TRIGGER:
      return fmt::format("DROP TEMP TRIGGER {}", a1);
    case SQLITE_DROP_VTABLE:
      return fmt::format("DROP VIRTUAL TABLE {}", a1);
    case SQLITE_ALTER_TABLE:
      return fmt::format("ALTER TABLE {}", a2);
    case SQLITE_REINDEX:
      return "REINDEX";
    case SQLITE_ANALYZE:
      return "ANALYZE";
    case SQLITE_TRANSACTION:
      return fmt::format("{} (transactions)", a1);
    case SQLITE_SAVEPOINT:
      return "SAVEPOINT";
    case SQLITE_READ:
      return fmt::format("read of table {} (readable: {})", a1, fmt::join(kReadableTables, ", "));
    case SQLITE_FUNCTION:
      return fmt::format("function {}", a2);
    default:
      return fmt::format("operation {}", action);
  }
}

}  // namespace

int authorize(void* user, int action, const char* arg1, const char* arg2, const char* db,
              const char* /*inner*/) {
  const std::string_view a1 = sv(arg1), a2 = sv(arg2), schema = sv(db);
  bool ok = false;
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      ok = true;
      break;
    // A column read names its table and schema "main". A FROM item none of
    // whose columns is used (count(*), a join's other side) is reported as
    // a read of column "" with no schema, under its table, CTE or subquery
    // name: that reveals no values but their number, so it is allowed for
    // anything but SQLite's own tables and the database's unreadable ones.
    case SQLITE_READ:
      if (a2.empty() && schema.empty())
        ok = !is_sqlite_internal(a1) && !is_unreadable_table(*static_cast<const State*>(user), a1);
      else
        // listening_ports is the engine's TEMP view (no query can make or
        // change a TEMP object); SQLite reports its columns read in "temp".
        ok = table_readable(a1) && (schema == "main" || (schema == "temp" && a1 == kEngineView));
      break;
    case SQLITE_FUNCTION:
      ok = function_allowed(a2);
      break;
    default:
      ok = false;
  }
  auto* state = static_cast<State*>(user);
  if (ok && action == SQLITE_FUNCTION && a2 == "regexp" && ++state->regexp_calls > kMaxRegexpCalls) {
    if (state->denial.empty())
      state->denial = fmt::format("not allowed: more than {} regexp()/REGEXP calls in one query (each may hold {} KiB of "
                                  "matching memory)",
                                  kMaxRegexpCalls, detail::kHeapLimitKib);
    return SQLITE_DENY;
  }
  if (ok) return SQLITE_OK;
  if (state->denial.empty()) state->denial = "not allowed: " + denial_reason(action, a1, a2);
  return SQLITE_DENY;
}

}  // namespace airssys::daemoneye::query_guard
