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
  if (!r.role_bits.empty()) {
    const std::uint64_t* held = identity_roles.data() + *identity * role_words;
    for (std::size_t i = 0; i < role_words; ++i) {
      if (r.role_bits[i] & held[i]) return true;
    }
  }
  return std::binary_search(r.identities.begin(), r.identities.end(), *identity);
}

std::vector<std::string> default_env_allowlist() {
  // What ordinary programs need to find programs, the user, the locale and
  // the terminal; nothing that carries credentials or loads code.
  return {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "TMPDIR"};
}

std::vector<std::string> default_system_paths() {
  return {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/ld.so.conf.d",
          "/dev/null", "/dev/zero", "/dev/urandom"};
}

}  // namespace airssys::osl::detail
