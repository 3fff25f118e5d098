#pragma once
// Finds the rules that can possibly match a path without scanning them all.
//
// A path glob can only match paths that begin with its literal prefix (the
// leading segments without wildcards), so rules are filed under that prefix.
// For a path "/a/b/c" the candidates are the rules filed under "/a", "/a/b"
// and "/a/b/c", plus the rules that must always be tried (no literal prefix,
// or any resource). Candidates are still checked in full by the caller.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace airssys::osl::detail {

class PathRuleIndex {
 public:
  // Rule indices must be added in ascending order per bucket (file order).
  void add(std::string_view prefix, std::uint32_t rule);
  void add_always(std::uint32_t rule);

  // The lowest rule index for which `accept(rule)` is true among the
  // candidates for `path`, or kNone. Each bucket is sorted, so it stops at the
  // first accepted rule and skips buckets that cannot beat the best so far.
  static constexpr std::uint32_t kNone = UINT32_MAX;
  template <class Accept>
  [[nodiscard]] std::uint32_t first_match(std::string_view path, std::uint32_t best, Accept&& accept) const {
    best = scan(always_, best, accept);
    if (by_prefix_.empty() || path.empty() || path.front() != '/') return best;
    std::size_t depth = 0;
    for (std::size_t end = 1; end <= path.size() && depth < max_depth_; ++end) {
      if (end != path.size() && path[end] != '/') continue;
      ++depth;
      if (const auto it = by_prefix_.find(path.substr(0, end)); it != by_prefix_.end()) {
        best = scan(it->second, best, accept);
      }
    }
    return best;
  }

 private:
  template <class Accept>
  static std::uint32_t scan(const std::vector<std::uint32_t>& rules, std::uint32_t best, Accept& accept) {
    for (const std::uint32_t r : rules) {
      if (r >= best) break;
      if (accept(r)) return r;
    }
    return best;
  }

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<std::uint32_t>, Hash, std::equal_to<>> by_prefix_;
  std::vector<std::uint32_t> always_;
  std::size_t max_depth_ = 0;  // segments in the deepest prefix: deeper path prefixes cannot hit
};

}  // namespace airssys::osl::detail
