#pragma once
// YAML text → PolicyDocument. Checks shape only (types, known keys, no
// duplicate keys, required keys present); meaning is the compiler's job.
// The only file that includes yaml-cpp: its exceptions are caught here and
// rethrown as PolicyFailure with a 1-based position.

#include <string_view>

#include "policy/policy_document.hpp"

namespace airssys::osl::detail {

// Bigger inputs are refused before parsing (a policy is a few KiB).
inline constexpr std::size_t kMaxPolicyBytes = 4u << 20;
// Flow collections ('[' / '{') nested deeper than this are refused before
// yaml-cpp sees them; yaml-cpp's own guard covers block nesting.
inline constexpr int kMaxFlowNesting = 64;

// Throws PolicyFailure.
[[nodiscard]] PolicyDocument read_policy_yaml(std::string_view text);

}  // namespace airssys::osl::detail
