#include "policy/compiled_policy.hpp"

#include <algorithm>

namespace airssys::osl::detail {

std::optional<std::uint32_t> CompiledPolicy::find_identity(std::string_view name) const noexcept {
  const auto it = std::lower_bound(identity_names.begin(), identity_names.end(), name,
                                   [](const std::string& a, std::string_view b) { return a < b; });
  if (it == identity_names.end() || *it != name) return std::nullopt;
  return static_cast<std::uint32_t>(it - identity_names.begin());
}

bool CompiledPolicy::rule_applies_to(const CompiledRule& r, std::optional<std::uint32_t> identity) const noexcept {
  if (r.any_principal) return true;
  if (!identity) return false;
  if (std::binary_search(r.identities.begin(), r.identities.end(), *identity)) return true;
  return std::any_of(r.roles.begin(), r.roles.end(), [&](std::uint32_t role) { return identity_has_role(*identity, role); });
}

std::vector<std::string> default_system_paths() {
  return {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/ld.so.conf.d",
          "/dev/null", "/dev/zero", "/dev/urandom"};
}

}  // namespace airssys::osl::detail
