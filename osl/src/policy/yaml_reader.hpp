#pragma once
// YAML text → PolicyDocument. Checks shape only (types, known keys, no
// duplicate keys, required keys present); meaning is the compiler's job.
// The only policy file that includes yaml-cpp: its exceptions are caught
// here (the guards and loading: airssys/osl/detail/yaml_load.hpp) and
// rethrown as PolicyFailure with a 1-based position.

#include <string_view>

#include "policy/policy_document.hpp"

namespace airssys::osl::detail {

// Bigger inputs are refused before parsing (a policy is a few KiB).
inline constexpr std::size_t kMaxPolicyBytes = 4u << 20;
// Flow collections ('[' / '{') nested deeper than this are refused before
// yaml-cpp sees them; yaml-cpp's own guard covers block nesting.
inline constexpr int kMaxFlowNesting = 64;
// The most YAML nodes (every key, value and list item) a policy may have
// once aliases are expanded: an alias counts again at every use, because the
// reader and compiler handle each use on its own. Real policies have a few
// hundred to a few thousand nodes; a 213 KB file of anchors and aliases (one
// list of 10,000 patterns used by 1,000 rules: 10 M patterns, 32 s and 3.4 GB
// to compile) is refused before anything is built.
inline constexpr std::size_t kMaxPolicyNodes = 200'000;

// Throws PolicyFailure.
[[nodiscard]] PolicyDocument read_policy_yaml(std::string_view text);

}  // namespace airssys::osl::detail
