#include <airssys/daemoneye/rule_changes.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace airssys::daemoneye {

namespace {

bool same_alerts(const Rule& a, const Rule& b) {
  return std::tie(a.query, a.severity, a.enabled, a.name, a.tags, a.key_columns) ==
         std::tie(b.query, b.severity, b.enabled, b.name, b.tags, b.key_columns);
}

std::string part(std::string_view what, const std::vector<std::string>& ids, std::size_t max_ids) {
  std::string s = fmt::format("{}: ", what);
  const std::size_t shown = std::min(ids.size(), max_ids);
  for (std::size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + ids[i];
  if (ids.size() > shown) s += fmt::format(" and {} more", ids.size() - shown);
  return s;
}

}  // namespace

RuleChanges rule_changes(const std::vector<Rule>& before, const std::vector<Rule>& after) {
  std::map<std::string_view, const Rule*> old;
  for (const auto& r : before) old.emplace(r.id, &r);
  RuleChanges c;
  for (const auto& r : after) {
    const auto it = old.find(r.id);
    if (it == old.end()) {
      c.added.push_back(r.id);
      continue;
    }
    if (!same_alerts(*it->second, r)) c.changed.push_back(r.id);
    old.erase(it);
  }
  for (const auto& [id, rule] : old) c.removed.emplace_back(id);
  std::ranges::sort(c.added);
  std::ranges::sort(c.changed);
  return c;  // removed: in the map's (sorted) order
}

std::string describe(const RuleChanges& c, std::size_t max_ids) {
  if (c.empty()) return "no rule added, changed or removed";
  std::string s;
  for (const auto& [what, ids] : {std::pair<std::string_view, const std::vector<std::string>*>{"added", &c.added},
                                  {"changed", &c.changed},
                                  {"removed", &c.removed}}) {
    if (ids->empty()) continue;
    if (!s.empty()) s += "; ";
    s += part(what, *ids, max_ids);
  }
  return s;
}

}  // namespace airssys::daemoneye
