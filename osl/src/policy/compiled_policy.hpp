#pragma once
// The form a policy takes after loading: everything decide() needs is
// precomputed so that a decision is a few index look-ups and pattern matches
// with no allocation on the allow path.
//
// Identities are every principal name the policy mentions (defined under
// `principals:` or named in a rule), sorted, so a request's principal is
// found by binary search; any other name is "anonymous" and matches only "*"
// rules. Roles are numbered; each identity carries its expanded (inherited)
// role set as a bitset.

#include <airssys/osl/policy.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/endpoint.hpp"
#include "policy/path_glob.hpp"
#include "policy/path_rule_index.hpp"

namespace airssys::osl::detail {

using OpMask = std::uint32_t;
static_assert(kOpKindCount <= 32, "OpMask has one bit per OpKind");
[[nodiscard]] constexpr OpMask op_bit(OpKind k) noexcept { return static_cast<OpMask>(1u << static_cast<unsigned>(k)); }

struct CompiledRule {
  std::string id;
  bool deny = false;
  OpMask ops = 0;

  bool any_principal = false;           // "*"
  std::vector<std::uint32_t> identities;  // sorted identity indices named directly
  std::vector<std::uint64_t> role_bits;   // "role:NAME" as a role bitset (role_words long), empty if none

  bool any_resource = false;  // no `resources`, or "*" / "**" among them
  // Each resource pattern compiled for every resource kind the rule's
  // operations use; a pattern that is not valid for a kind is left out of
  // that kind's list (it cannot match such a resource).
  std::vector<PathGlob> paths;
  std::vector<EndpointPattern> endpoints;
  std::vector<std::string> tools;  // exact names or '*'/'?' globs
};

struct CompiledPolicy {
  EnforcementMode mode = EnforcementMode::enforce;
  std::vector<CompiledRule> rules;  // file order
  // Per OpKind, the indices of the rules that list it, in file order.
  std::array<std::vector<std::uint32_t>, kOpKindCount> deny_by_op;
  std::array<std::vector<std::uint32_t>, kOpKindCount> allow_by_op;
  // For path kinds, the same rules filed by literal prefix (see PathRuleIndex).
  std::array<PathRuleIndex, kOpKindCount> deny_paths;
  std::array<PathRuleIndex, kOpKindCount> allow_paths;

  std::vector<std::string> role_names;      // index → name
  std::vector<std::string> identity_names;  // sorted
  std::size_t role_words = 0;               // 64-bit words per role bitset
  std::vector<std::uint64_t> identity_roles;  // identity i's bitset at [i * role_words, (i+1) * role_words)

  // `env` patterns as written: per role (index as role_names), per identity
  // (its own, without its roles'). See Policy::env_allowlist.
  std::vector<std::vector<std::string>> role_env;
  std::vector<std::vector<std::string>> identity_env;

  std::map<std::string, std::string, std::less<>> tools;  // util.exec allowlist
  std::vector<std::string> system_paths;
  PolicyLimits limits;

  [[nodiscard]] std::optional<std::uint32_t> find_identity(std::string_view name) const noexcept;
  [[nodiscard]] bool identity_has_role(std::uint32_t identity, std::uint32_t role) const noexcept {
    const std::size_t word = identity * role_words + role / 64;
    return (identity_roles[word] >> (role % 64)) & 1u;
  }
  [[nodiscard]] bool rule_applies_to(const CompiledRule& r, std::optional<std::uint32_t> identity) const noexcept;

  // Per identity, the operations some deny rule applies to it for (a rule
  // for "*", a role it holds or the identity itself); for any other name,
  // those of the "*" deny rules. Computed at load: a principal no deny rule
  // speaks about skips the deny look-ups.
  std::vector<OpMask> identity_deny_ops;
  OpMask anonymous_deny_ops = 0;
  [[nodiscard]] bool may_deny(std::optional<std::uint32_t> identity, OpKind op) const noexcept {
    const OpMask m = identity && *identity < identity_deny_ops.size() ? identity_deny_ops[*identity] : anonymous_deny_ops;
    return (m & op_bit(op)) != 0;
  }
};

// The environment every principal's children may inherit (NAME or PREFIX*).
[[nodiscard]] std::vector<std::string> default_env_allowlist();

// The default system paths a sandboxed child may read and execute.
[[nodiscard]] std::vector<std::string> default_system_paths();

}  // namespace airssys::osl::detail
