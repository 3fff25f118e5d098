#include "process/env_filter.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <unordered_set>

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

// Lets the sets below look a std::string_view up without a copy.
struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// The entries being built, in order, with their names indexed so that
// replacing or removing one costs O(1) (expected): a caller may pass tens of
// thousands of variables (exec --env), and a scan per entry made that
// quadratic. A replaced or removed entry leaves a dead slot that take() skips.
class EnvBuilder {
 public:
  explicit EnvBuilder(std::size_t expected) {
    slots_.reserve(expected);
    live_.reserve(expected);
    where_.reserve(expected);
  }

  // ENTRY goes at the end; an earlier entry of the same name is dropped.
  void put(std::string entry) {
    const std::string_view name = name_of(entry);
    const auto [it, added] = where_.try_emplace(std::string(name), slots_.size());
    if (!added) {
      kill(it->second);
      it->second = slots_.size();
    }
    slots_.push_back(std::move(entry));
    live_.push_back(true);
  }

  void drop(std::string_view name) {
    const auto it = where_.find(name);
    if (it == where_.end()) return;
    kill(it->second);
    where_.erase(it);
  }

  std::vector<std::string> take() && {
    std::vector<std::string> out;
    out.reserve(where_.size());
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (live_[i]) out.push_back(std::move(slots_[i]));
    }
    return out;
  }

 private:
  void kill(std::size_t i) {
    live_[i] = false;
    slots_[i] = std::string();  // its memory back now, not at the end
  }

  std::vector<std::string> slots_;
  std::vector<bool> live_;
  std::unordered_map<std::string, std::size_t, NameHash, std::equal_to<>> where_;
};

// Names removed, each once, in the order first seen.
class RemovedNames {
 public:
  void note(std::string_view name) {
    if (seen_.find(name) != seen_.end()) return;
    seen_.emplace(name);
    names_.emplace_back(name);
  }
  std::vector<std::string> take() && { return std::move(names_); }

 private:
  std::unordered_set<std::string, NameHash, std::equal_to<>> seen_;
  std::vector<std::string> names_;
};

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
  std::size_t count = explicit_env.size() + extra.size();
  for (char** e = inherited; e && *e; ++e) ++count;
  EnvBuilder env(count);
  RemovedNames removed;
  for (char** e = inherited; e && *e; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = name_of(entry);
    if (is_loader_variable(name)) {
      if (named(allowlist, name)) {
        env.put(std::string(entry));
      } else {
        removed.note(name);
      }
    } else if (matched(allowlist, name)) {
      env.put(std::string(entry));
    }
  }
  for (auto list : {explicit_env, extra}) {
    for (const auto& entry : list) {
      const std::string_view name = name_of(entry);
      if (is_loader_variable(name) && !named(allowlist, name)) {
        // An earlier (inherited) value of it must not survive either.
        env.drop(name);
        removed.note(name);
        continue;
      }
      env.put(entry);
    }
  }
  return ChildEnv{.env = std::move(env).take(), .removed = std::move(removed).take()};
}

}  // namespace airssys::osl::detail
