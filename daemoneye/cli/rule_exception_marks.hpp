#pragma once
// `daemoneye-cli rules test`'s view of the rule exceptions (rules.exceptions,
// docs/daemoneye.md "Rule exceptions"): which rows of the rule tried an
// exception in force would silence in the agent. Loaded as the agent loads
// them (load_exceptions: the same trust checks and the rule's columns), the
// refusals and warnings that concern this rule said on stderr.

#include "commands.hpp"

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/rule.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace airssys::daemoneye {
class QueryEngine;
}

namespace airssys::daemoneye::cli {

// One entry per candidate: the id of the exception that matches it at
// `now`, or empty. All empty when rules.exceptions is empty.
[[nodiscard]] std::vector<std::string> excepted_rows(const Context& ctx, const Rule& rule, const QueryEngine& engine,
                                                     const std::vector<Alert>& candidates, std::int64_t now);

}  // namespace airssys::daemoneye::cli
