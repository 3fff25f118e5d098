#pragma once
// PolicyDocument → CompiledPolicy: checks meaning (version, known roles and
// operations, no inheritance cycles, unique rule ids, valid patterns) and
// builds the indexes decide() uses. Throws PolicyFailure.

#include "policy/compiled_policy.hpp"
#include "policy/policy_document.hpp"

namespace airssys::osl::detail {

// Upper bound on distinct roles: each identity carries a bitset of them.
inline constexpr std::size_t kMaxRoles = 1024;

[[nodiscard]] CompiledPolicy compile_policy(const PolicyDocument& doc);

}  // namespace airssys::osl::detail
