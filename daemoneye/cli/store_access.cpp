#include "store_access.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <ctime>
#include <variant>

#include <sys/stat.h>

namespace airssys::daemoneye::cli {

Result<std::unique_ptr<QueryEngine>> open_engine(const Context& ctx, std::size_t max_rows,
                                                 std::chrono::milliseconds timeout,
                                                 std::optional<std::uint64_t> max_bytes) {
  const auto& db = ctx.config.database.path;
  auto engine = QueryEngine::open(db, {.time = timeout,
                                       .max_rows = max_rows,
                                       .max_bytes = max_bytes.value_or(ctx.config.rules.max_bytes)});
  // SQLite's "unable to open database file" does not say what to do. The
  // usual cause is a CLI looking at the default database while the agent
  // was started with its own --config: say so, as `status` does.
  struct stat st {};
  if (!engine && engine.error().category == ErrorCategory::not_found && ::lstat(db.c_str(), &st) != 0 &&
      errno == ENOENT) {
    return fail(ErrorCategory::not_found,
                fmt::format("{}: no such database: no agent has run with it (give the --config the agent was started "
                            "with, or --db PATH)",
                            db.string()));
  }
  return engine;
}

std::int64_t int_of(const Value& v) {
  const auto* i = std::get_if<std::int64_t>(&v);
  return i ? *i : 0;
}

std::string str_of(const Value& v) {
  const auto* s = std::get_if<std::string>(&v);
  return s ? *s : std::string();
}

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

bool valid_rule_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string_view::npos;
}

void tell_truncated(const QueryResult& r, std::size_t max_rows, std::uint64_t max_bytes) {
  if (r.truncated)
    say(fmt::format("result cut after {} rows (the limits are {} rows and {} bytes of memory)", r.rows.size(), max_rows,
                    max_bytes));
}

}  // namespace airssys::daemoneye::cli
