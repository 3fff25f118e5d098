// excepted_rows (rule_exception_marks.hpp).

#include "rule_exception_marks.hpp"

#include "output.hpp"

#include <airssys/daemoneye/rule_exception.hpp>

#include <span>

namespace airssys::daemoneye::cli {

std::vector<std::string> excepted_rows(const Context& ctx, const Rule& rule, const QueryEngine& engine,
                                       const std::vector<Alert>& candidates, std::int64_t now) {
  std::vector<std::string> out(candidates.size());
  const auto& path = ctx.config.rules.exceptions;
  if (path.empty()) return out;
  // Only this rule is loaded here: the other rules' entries would all be
  // "not loaded" warnings, and their refusals are the agent's to say.
  const ExceptionSet set = load_exceptions(path, std::span(&rule, 1), engine, now);
  for (const auto& e : set.errors)
    if (e.rule.empty() || e.rule == rule.id) say(printable("rule exception rejected (the agent would not apply it): " + e.message));
  for (const auto& w : set.warnings)
    if (w.rule == rule.id) say(printable("rule exception: " + w.message));
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (const RuleException* e = exception_for(set.exceptions, candidates[i], now)) out[i] = e->id;
  return out;
}

}  // namespace airssys::daemoneye::cli
