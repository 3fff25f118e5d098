#pragma once
// The fast path of parse_registry: a strict, allocation-light JSON reader
// that fills RegistryData straight from the text, without building a JSON
// DOM (the DOM path took ~26 ms for 1,000 tasks; this one takes a few).
//
// It only accepts what the DOM path would accept without complaint: valid
// JSON, known fields of the right types, the current schema_version, ids
// that equal their keys. For anything else it returns nullopt and the caller
// runs the DOM path, which produces the precise error message. Unknown keys
// are kept: their raw text is parsed with nlohmann (rare, small).

#include <airssys/watchdog/registry.hpp>

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::watchdog::detail {

[[nodiscard]] std::optional<RegistryData> parse_registry_fast(std::string_view text);

// The same reader without RegistryData: calls `each` with every task, in
// file order, one record at a time (`list` of 100 tasks built ~100 KB of
// records for a 10 KB table: ~27 page faults, docs/BENCHMARKS.md). It
// accepts what parse_registry_fast accepts, except tasks whose ids are not
// in strictly ascending order (what Registry::update writes), where keys
// could repeat. False: give up, and read the text with parse_registry
// instead; `each` may have been called for some tasks by then.
[[nodiscard]] bool for_each_task_fast(std::string_view text, const std::function<void(const TaskRecord&)>& each);

// The DOM path (registry.cpp): every check, with messages naming the problem.
[[nodiscard]] std::expected<RegistryData, Error> parse_registry_dom(std::string_view text, const std::string& source);

}  // namespace airssys::watchdog::detail
