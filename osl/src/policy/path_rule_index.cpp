#include "policy/path_rule_index.hpp"

#include <algorithm>

namespace airssys::osl::detail {

void PathRuleIndex::add(std::string_view prefix, std::uint32_t rule) {
  if (prefix.empty()) {
    add_always(rule);
    return;
  }
  auto& bucket = by_prefix_[std::string(prefix)];
  if (bucket.empty() || bucket.back() != rule) bucket.push_back(rule);  // one rule, several patterns
  max_depth_ = std::max<std::size_t>(max_depth_, static_cast<std::size_t>(std::count(prefix.begin(), prefix.end(), '/')));
}

void PathRuleIndex::add_always(std::uint32_t rule) {
  if (always_.empty() || always_.back() != rule) always_.push_back(rule);
}

}  // namespace airssys::osl::detail
