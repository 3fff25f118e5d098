#pragma once
// What a reload changed in the rules: the ids added, changed and removed
// between the rules in use and the rules just loaded. The agent logs it at
// each SIGHUP, so an operator who edited one file sees that the edit was
// taken (or that a file now rejected no longer runs), not only a count.

#include <airssys/daemoneye/rule.hpp>

#include <string>
#include <vector>

namespace airssys::daemoneye {

struct RuleChanges {
  std::vector<std::string> added;    // ids not in use before; sorted
  std::vector<std::string> changed;  // ids in both whose alerts would differ; sorted
  std::vector<std::string> removed;  // ids in use before and not now (deleted, rejected); sorted
  [[nodiscard]] bool empty() const { return added.empty() && changed.empty() && removed.empty(); }
};

// "Changed" compares what decides a rule's alerts: query, severity,
// enabled, name, tags and key columns (not the description or the file).
// O((n + m) log(n + m)).
[[nodiscard]] RuleChanges rule_changes(const std::vector<Rule>& before, const std::vector<Rule>& after);

// One line for the log: "added: a, b; changed: c; removed: d" (only the
// parts that are not empty; at most `max_ids` ids a part, then "and N
// more"), or "no rule added, changed or removed". Ids are [A-Za-z0-9_.-]
// (rule.hpp), so they need no escaping.
[[nodiscard]] std::string describe(const RuleChanges& c, std::size_t max_ids = 20);

}  // namespace airssys::daemoneye
