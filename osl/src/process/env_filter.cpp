#include "process/env_filter.hpp"

#include <algorithm>
#include <array>

namespace airssys::osl::detail {

namespace {

std::string_view name_of(std::string_view entry) noexcept { return entry.substr(0, entry.find('=')); }

// Exactly named in the allowlist (not through a pattern).
bool named(std::span<const std::string> allowlist, std::string_view name) noexcept {
  return std::find(allowlist.begin(), allowlist.end(), name) != allowlist.end();
}

bool matched(std::span<const std::string> allowlist, std::string_view name) noexcept {
  return std::any_of(allowlist.begin(), allowlist.end(),
                     [&](const std::string& p) { return env_pattern_matches(p, name); });
}

void put(std::vector<std::string>& env, std::string entry) {
  const std::string_view key = name_of(entry);
  std::erase_if(env, [&](const std::string& x) { return name_of(x) == key; });
  env.push_back(std::move(entry));
}

void note(std::vector<std::string>& removed, std::string_view name) {
  if (std::find(removed.begin(), removed.end(), name) == removed.end()) removed.emplace_back(name);
}

}  // namespace

}  // namespace airssys::osl::detail

namespace airssys::osl {

bool is_loader_variable(std::string_view name) noexcept {
  // Prefixes: every variable ld.so reads starts with LD_; glibc's malloc
  // reads MALLOC_* (MALLOC_TRACE writes a file wherever it names).
  if (name.starts_with("LD_") || name.starts_with("MALLOC_")) return true;
  // glibc's "unsecure" variables (sysdeps/generic/unsecvars.h) that are not
  // covered above: each makes libc load code or read attacker-chosen files
  // (iconv modules, locales, message catalogues, resolver and host alias
  // files, tunables). TMPDIR, also on that list, names only where temporary
  // files go and stays an ordinary variable.
  static constexpr std::array<std::string_view, 11> kExact{
      "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES",      "LOCALDOMAIN", "LOCPATH",
      "NIS_PATH",   "NLSPATH",     "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR"};
  return std::find(kExact.begin(), kExact.end(), name) != kExact.end();
}

}  // namespace airssys::osl

namespace airssys::osl::detail {

bool env_pattern_matches(std::string_view pattern, std::string_view name) noexcept {
  if (pattern.ends_with('*')) return name.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == name;
}

ChildEnv build_child_env(char** inherited, std::span<const std::string> explicit_env, std::span<const std::string> extra,
                         std::span<const std::string> allowlist) {
  ChildEnv out;
  for (char** e = inherited; e && *e; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = name_of(entry);
    if (is_loader_variable(name)) {
      if (named(allowlist, name)) {
        put(out.env, std::string(entry));
      } else {
        note(out.removed, name);
      }
    } else if (matched(allowlist, name)) {
      put(out.env, std::string(entry));
    }
  }
  for (auto list : {explicit_env, extra}) {
    for (const auto& entry : list) {
      const std::string_view name = name_of(entry);
      if (is_loader_variable(name) && !named(allowlist, name)) {
        // An earlier (inherited) value of it must not survive either.
        std::erase_if(out.env, [&](const std::string& x) { return name_of(x) == name; });
        note(out.removed, name);
        continue;
      }
      put(out.env, entry);
    }
  }
  return out;
}

}  // namespace airssys::osl::detail
