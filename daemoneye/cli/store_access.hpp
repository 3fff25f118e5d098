#pragma once
// What daemoneye-cli's store commands (query, alerts, events) share: the
// guarded engine opened on the agent's database, and the values of its
// results.

#include "commands.hpp"

#include <airssys/daemoneye/query_engine.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::daemoneye::cli {

// The store, read-only, under the rules' guard: at most `max_rows` rows and
// `max_bytes` (default rules.max_bytes) of result memory per statement
// (QueryLimits::max_bytes), `timeout` per statement.
[[nodiscard]] Result<std::unique_ptr<QueryEngine>> open_engine(const Context& ctx, std::size_t max_rows,
                                                               std::chrono::milliseconds timeout,
                                                               std::optional<std::uint64_t> max_bytes = std::nullopt);

// An integer column (0 for anything else), a text column ("" for anything else).
[[nodiscard]] std::int64_t int_of(const Value& v);
[[nodiscard]] std::string str_of(const Value& v);

[[nodiscard]] std::int64_t unix_now();

// Rule ids are [A-Za-z0-9_.-]+ (rule.hpp), so an id that passes this is safe in a quoted SQL literal.
[[nodiscard]] bool valid_rule_id(std::string_view id);

// "result cut after N rows (...)" on stderr when `r` was cut by a limit.
void tell_truncated(const QueryResult& r, std::size_t max_rows, std::uint64_t max_bytes);

}  // namespace airssys::daemoneye::cli
