#pragma once
// Landlock ruleset for sandboxed children, built in the parent (it needs
// allocations and open()) and applied in the child just before exec.

#include <airssys/osl/error.hpp>
#include <airssys/osl/policy.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <expected>

namespace airssys::osl::detail {

// The ruleset fd; the child calls landlock_restrict_self on it.
[[nodiscard]] std::expected<UniqueFd, Error> build_landlock_ruleset(const SandboxPaths& paths);

// Async-signal-safe: for use between clone and exec. Returns 0 or -errno.
int landlock_restrict_self(int ruleset_fd) noexcept;

}  // namespace airssys::osl::detail
