// Policy: loading (YAML → document → compiled form) and the decision itself.

#include <airssys/osl/policy.hpp>

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "core/file_type.hpp"
#include "policy/compiled_policy.hpp"
#include "policy/glob.hpp"
#include "policy/policy_compiler.hpp"
#include "policy/policy_failure.hpp"
#include "policy/yaml_reader.hpp"

namespace airssys::osl {

namespace {

using detail::CompiledPolicy;
using detail::CompiledRule;

std::shared_ptr<const CompiledPolicy> empty_policy() {
  static const auto empty = [] {
    auto p = std::make_shared<CompiledPolicy>();
    p->system_paths = detail::default_system_paths();
    p->role_words = 1;
    return std::shared_ptr<const CompiledPolicy>(std::move(p));
  }();
  return empty;
}

// One resource of a request, taken apart once for all rules.
struct PreparedResource {
  const ResourceRef* ref = nullptr;
  std::optional<detail::Endpoint> name_ep;
  std::optional<detail::Endpoint> alias_ep;
};

PreparedResource prepare(const ResourceRef& r, ResourceKind kind) noexcept {
  PreparedResource p;
  p.ref = &r;
  if (kind == ResourceKind::endpoint) {
    p.name_ep = detail::parse_endpoint(r.name);
    if (!r.alias.empty()) p.alias_ep = detail::parse_endpoint(r.alias);
  }
  return p;
}

bool name_matches(const CompiledRule& rule, ResourceKind kind, std::string_view name,
                  const std::optional<detail::Endpoint>& ep) noexcept {
  switch (kind) {
    case ResourceKind::path:
      for (const auto& g : rule.paths) {
        if (g.matches(name)) return true;
      }
      return false;
    case ResourceKind::endpoint:
      if (!ep) return false;
      for (const auto& e : rule.endpoints) {
        if (e.matches(*ep)) return true;
      }
      return false;
    case ResourceKind::tool:
      for (const auto& t : rule.tools) {
        if (detail::glob_match(t, name)) return true;
      }
      return false;
  }
  return false;
}

bool resource_matches(const CompiledRule& rule, ResourceKind kind, const PreparedResource& r) noexcept {
  if (rule.any_resource) return true;
  if (name_matches(rule, kind, r.ref->name, r.name_ep)) return true;
  return !r.ref->alias.empty() && name_matches(rule, kind, r.ref->alias, r.alias_ep);
}

constexpr std::uint32_t kNone = detail::PathRuleIndex::kNone;

// The first rule in file order (deny or allow rules as asked) that applies to
// the principal and matches the resource, or kNone. Path kinds go through the
// prefix index; the other kinds have few rules and are scanned.
std::uint32_t first_matching(const CompiledPolicy& p, OpKind op, bool deny, std::optional<std::uint32_t> who,
                             const PreparedResource& res) {
  const auto k = static_cast<std::size_t>(op);
  const ResourceKind kind = resource_kind(op);
  const auto accept = [&](std::uint32_t i) {
    const CompiledRule& r = p.rules[i];
    return p.rule_applies_to(r, who) && resource_matches(r, kind, res);
  };
  if (kind == ResourceKind::path) {
    const detail::PathRuleIndex& index = deny ? p.deny_paths[k] : p.allow_paths[k];
    std::uint32_t best = index.first_match(res.ref->name, kNone, accept);
    if (!res.ref->alias.empty()) best = index.first_match(res.ref->alias, best, accept);
    return best;
  }
  for (const std::uint32_t i : deny ? p.deny_by_op[k] : p.allow_by_op[k]) {
    if (accept(i)) return i;
  }
  return kNone;
}

Decision denial(const CompiledPolicy& p, std::optional<std::string> rule, std::string reason) {
  Decision d;
  d.allowed = p.mode == EnforcementMode::audit_only;
  d.would_deny = d.allowed;
  d.rule = std::move(rule);
  d.reason = std::move(reason);
  return d;
}

Decision allowed_by(const CompiledRule& r) {
  Decision d;
  d.allowed = true;
  d.rule = r.id;
  // `reason` stays empty: building "allowed by rule X" would allocate on
  // every allowed operation; the rule id says it all.
  return d;
}

Decision decide_impl(const CompiledPolicy& p, std::string_view principal, OpKind op,
                     std::span<const ResourceRef> resources) {
  const auto k = static_cast<std::size_t>(op);
  const auto& denies = p.deny_by_op[k];
  const auto& allows = p.allow_by_op[k];
  const ResourceKind kind = resource_kind(op);
  const std::optional<std::uint32_t> who = p.find_identity(principal);

  if (resources.empty()) {
    // Only rules that match any resource speak about resource-less operations.
    for (const std::uint32_t i : denies) {
      const CompiledRule& r = p.rules[i];
      if (r.any_resource && p.rule_applies_to(r, who)) return denial(p, r.id, "denied by rule " + r.id);
    }
    for (const std::uint32_t i : allows) {
      const CompiledRule& r = p.rules[i];
      if (r.any_resource && p.rule_applies_to(r, who)) return allowed_by(r);
    }
    return denial(p, std::nullopt, "no rule allows " + std::string(to_string(op)) + " for " + detail::shown_path(principal));
  }

  // A deny anywhere wins, so all resources are checked against the deny rules
  // before any allow is looked for (when some deny rule could apply at all).
  if (p.may_deny(who, op)) {
    for (const ResourceRef& ref : resources) {
      const std::uint32_t i = first_matching(p, op, /*deny=*/true, who, prepare(ref, kind));
      if (i != kNone) return denial(p, p.rules[i].id, "denied by rule " + p.rules[i].id);
    }
  }
  std::uint32_t first_allow = kNone;
  for (const ResourceRef& ref : resources) {
    const std::uint32_t i = first_matching(p, op, /*deny=*/false, who, prepare(ref, kind));
    if (i == kNone) {
      // The resource and the principal as messages show them (escaped, cut
      // past 256 bytes): both are the caller's text. The audit record keeps
      // them whole in resources and principal.
      return denial(p, std::nullopt,
                    "no rule allows " + std::string(to_string(op)) + " on " + detail::shown_path(ref.name) + " for " +
                        detail::shown_path(principal));
    }
    if (first_allow == kNone) first_allow = i;
  }
  return allowed_by(p.rules[first_allow]);
}

bool is_read(OpKind k) { return k == OpKind::fs_read || k == OpKind::fs_list || k == OpKind::fs_stat; }
bool is_write(OpKind k) {
  return k == OpKind::fs_write || k == OpKind::fs_create_dir || k == OpKind::fs_delete ||
         k == OpKind::fs_rename || k == OpKind::fs_set_permissions;
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

PolicyError to_policy_error(std::string_view source, detail::SourcePos pos, std::string message) {
  return PolicyError{std::string(source), pos.line, pos.column, std::move(message)};
}

}  // namespace

Policy::Policy() : impl_(empty_policy()) {}

Policy::Policy(std::shared_ptr<const detail::CompiledPolicy> impl) : impl_(std::move(impl)) {}

std::expected<Policy, PolicyError> Policy::parse(std::string_view yaml, std::string_view source_name) {
  try {
    const detail::PolicyDocument doc = detail::read_policy_yaml(yaml);
    auto compiled = std::make_shared<const CompiledPolicy>(detail::compile_policy(doc));
    return Policy(std::move(compiled));
  } catch (const detail::PolicyFailure& f) {
    return std::unexpected(to_policy_error(source_name, f.pos, f.message));
  } catch (const std::bad_alloc&) {
    return std::unexpected(to_policy_error(source_name, {}, "out of memory while loading the policy"));
  } catch (const std::exception& e) {
    return std::unexpected(to_policy_error(source_name, {}, std::string("internal error while loading the policy: ") + e.what()));
  } catch (...) {
    return std::unexpected(to_policy_error(source_name, {}, "internal error while loading the policy"));
  }
}

std::expected<Policy, PolicyError> Policy::load_file(const std::filesystem::path& file) {
  const std::string name = file.string();
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (a caller that
    // blocked its signals would hang for good). Only a regular file is read.
    const UniqueFd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) {
      const int err = errno;
      return std::unexpected(PolicyError{name, 0, 0, std::string("cannot open: ") + std::strerror(err)});
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      const int err = errno;
      return std::unexpected(PolicyError{name, 0, 0, std::string("cannot stat: ") + std::strerror(err)});
    }
    if (!S_ISREG(st.st_mode)) {
      return std::unexpected(PolicyError{name, 0, 0,
                                         "not a regular file (" + std::string(detail::file_type_name(st.st_mode)) +
                                             "); a policy is read from a regular file only"});
    }
    // Read at most one byte past the limit: enough to know the file is too
    // big without trusting a size that may change under us.
    std::string text;
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        return std::unexpected(PolicyError{name, 0, 0, std::string("cannot read: ") + std::strerror(err)});
      }
      if (n == 0) break;
      text.append(buf, static_cast<std::size_t>(n));
      if (text.size() > detail::kMaxPolicyBytes) {
        return std::unexpected(PolicyError{name, 0, 0,
                                           "policy file is larger than " + std::to_string(detail::kMaxPolicyBytes) +
                                               " bytes"});
      }
    }
    return parse(text, name);
  } catch (...) {
    return std::unexpected(PolicyError{name, 0, 0, "out of memory while reading the policy"});
  }
}

Decision Policy::decide(std::string_view principal, OpKind op, std::span<const ResourceRef> resources) const {
  return decide_impl(*impl_, principal, op, resources);
}

EnforcementMode Policy::mode() const noexcept { return impl_->mode; }

bool Policy::has_deny_rules(std::string_view principal, OpKind op) const {
  const CompiledPolicy& p = *impl_;
  return p.may_deny(p.find_identity(principal), op);
}

std::optional<std::string> Policy::tool_path(std::string_view tool) const {
  const auto it = impl_->tools.find(tool);
  if (it == impl_->tools.end()) return std::nullopt;
  return it->second;
}

SandboxPaths Policy::sandbox_paths(std::string_view principal) const {
  const CompiledPolicy& p = *impl_;
  const auto who = p.find_identity(principal);
  SandboxPaths out;
  for (const CompiledRule& r : p.rules) {
    if (r.deny || !p.rule_applies_to(r, who)) continue;
    std::vector<std::string> prefixes;
    if (r.any_resource) prefixes.emplace_back("/");
    for (const auto& g : r.paths) add_unique(prefixes, g.literal_prefix());
    for (const OpKind k : kAllOpKinds) {
      if (!(r.ops & detail::op_bit(k))) continue;
      std::vector<std::string>* dst = is_read(k)                     ? &out.read
                                      : is_write(k)                  ? &out.write
                                      : k == OpKind::process_spawn   ? &out.execute
                                                                     : nullptr;
      if (dst == nullptr) continue;
      for (const auto& s : prefixes) add_unique(*dst, s);
    }
  }
  for (const auto& s : p.system_paths) add_unique(out.execute, s);
  for (auto* v : {&out.read, &out.write, &out.execute}) std::sort(v->begin(), v->end());
  return out;
}

PolicyLimits Policy::limits() const { return impl_->limits; }

std::size_t Policy::rule_count() const noexcept { return impl_->rules.size(); }

std::vector<std::string> Policy::env_allowlist(std::string_view principal) const {
  const CompiledPolicy& p = *impl_;
  std::vector<std::string> out = detail::default_env_allowlist();
  const auto who = p.find_identity(principal);
  if (!who) return out;
  if (*who < p.identity_env.size()) {
    for (const auto& e : p.identity_env[*who]) add_unique(out, e);
  }
  for (std::uint32_t r = 0; r < p.role_env.size(); ++r) {
    if (!p.identity_has_role(*who, r)) continue;
    for (const auto& e : p.role_env[r]) add_unique(out, e);
  }
  return out;
}

std::vector<std::string> Policy::roles_of(std::string_view principal) const {
  const CompiledPolicy& p = *impl_;
  std::vector<std::string> out;
  const auto who = p.find_identity(principal);
  if (!who) return out;
  for (std::uint32_t r = 0; r < p.role_names.size(); ++r) {
    if (p.identity_has_role(*who, r)) out.push_back(p.role_names[r]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace airssys::osl
