#pragma once
// The child's environment under policy (docs/osl-policy.md, "Child
// environment").
//
// - Inherited variables (Options::env unset: this process's environment)
//   pass only when the principal's allowlist (Policy::env_allowlist) matches
//   their name: a minimal default plus what the policy grants.
// - Variables the caller passes (Options::env, Options::extra_env, the
//   CLI's --env) are the caller's choice and pass.
// - Either way, a variable the dynamic loader or libc acts on before main
//   (osl::is_loader_variable) passes only when the allowlist names it exactly: a
//   pattern ("LD_*", "*") never admits one.

#include <airssys/osl/policy.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl::detail {

// NAME matches itself, PREFIX* every name starting with PREFIX, "*" any name.
[[nodiscard]] bool env_pattern_matches(std::string_view pattern, std::string_view name) noexcept;

struct ChildEnv {
  std::vector<std::string> env;      // KEY=VALUE, in order
  std::vector<std::string> removed;  // names worth recording: explicit ones and loader variables (never values)
};

// `inherited`: null for none (Options::env given), else this process's
// environment. `explicit_env` then `extra` are applied in order, a later
// KEY replacing an earlier one.
[[nodiscard]] ChildEnv build_child_env(char** inherited, std::span<const std::string> explicit_env,
                                       std::span<const std::string> extra, std::span<const std::string> allowlist);

}  // namespace airssys::osl::detail
