// airssys-osl policy check | explain

#include <filesystem>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "common.hpp"

#include <airssys/osl/detail/stderr_message.hpp>

namespace airssys::osl::cli {

namespace {

struct ExplainOptions {
  std::string policy;
  std::string principal;
  std::string op;
  std::vector<std::string> resources;
};

int run_check(const std::vector<std::string>& files) {
  int code = kExitOk;
  for (const auto& file : files) {
    auto p = Policy::load_file(file);
    if (!p) {
      detail::print_stderr("{}\n", p.error().to_string());
      code = kExitUsage;
      continue;
    }
    fmt::print("{}: ok, {} rules\n", file, p->rule_count());  // fixed format: scripts parse it
  }
  return code;
}

// Paths as the pipeline would name them, without touching the filesystem:
// absolute (relative to the working directory) and lexically normalised.
// Symbolic links are not resolved (the pipeline does resolve them).
std::expected<std::string, std::string> canonical_path(const std::string& r) {
  if (r.empty()) return std::unexpected(std::string("empty path"));
  std::filesystem::path p(r);
  if (p.is_relative()) {
    std::error_code ec;
    const auto cwd = std::filesystem::current_path(ec);
    if (ec) return std::unexpected("cannot read the working directory: " + ec.message());
    p = cwd / p;
  }
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

int run_explain(const ExplainOptions& o) {
  auto policy = Policy::load_file(o.policy);
  if (!policy) {
    detail::print_stderr("{}\n", policy.error().to_string());
    return kExitUsage;
  }
  const auto kind = parse_op_kind(o.op);
  if (!kind) {
    std::string known;
    for (const OpKind k : kAllOpKinds) known += fmt::format("{}{}", known.empty() ? "" : ", ", to_string(k));
    detail::print_stderr("airssys-osl: unknown operation kind '{}'; known: {}\n", o.op, known);
    return kExitUsage;
  }
  // The questions the pipeline asks: fs.rename names two paths (from, to),
  // net.socket none, every other operation at least one. Anything else
  // answered a question that never comes up: `--op fs.rename --resource A`
  // was "allow" for A alone, `--op fs.read` without a resource "deny"
  // even under a rule allowing every path.
  if (*kind == OpKind::fs_rename && o.resources.size() != 2) {
    detail::print_stderr("airssys-osl: --op fs.rename takes --resource twice (the path, then its new name); got {}\n",
                         o.resources.size());
    return kExitUsage;
  }
  if (*kind != OpKind::net_socket && o.resources.empty()) {
    detail::print_stderr("airssys-osl: --op {} needs a --resource (a path, \"IP:PORT\" or a tool name)\n", o.op);
    return kExitUsage;
  }
  std::vector<std::string> names;
  for (const auto& r : o.resources) {
    if (resource_kind(*kind) != ResourceKind::path) {
      names.push_back(r);
      continue;
    }
    auto c = canonical_path(r);
    if (!c) {
      detail::print_stderr("airssys-osl: --resource '{}': {}\n", r, c.error());
      return kExitUsage;
    }
    names.push_back(std::move(*c));
  }
  std::vector<ResourceRef> refs;
  refs.reserve(names.size());
  for (const auto& n : names) refs.push_back(ResourceRef{n});
  const Decision d = policy->decide(o.principal, *kind, refs);

  if (d.allowed && !d.would_deny) {
    fmt::print("allow (rule {})\n", d.rule.value_or("?"));
    return kExitOk;
  }
  // The reason already names the rule ("denied by rule X") or says that no
  // rule allows the operation; print the shorter form for a matched rule.
  const std::string why = d.rule ? "rule " + *d.rule : d.reason;
  if (d.would_deny) {
    fmt::print("audit_deny ({}; audit-only mode: it would run and be recorded)\n", why);
  } else {
    fmt::print("deny ({})\n", why);
  }
  return kExitFailed;
}

}  // namespace

void add_policy_commands(CLI::App& app, int& exit_code) {
  CLI::App* policy = app.add_subcommand("policy", "check a policy file, or explain one decision");
  policy->require_subcommand(1);

  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* check = policy->add_subcommand("check", "validate policy files (exit 0 if all are valid, 2 if not)");
  check->add_option("FILE", *files, "policy file(s)")->required();
  check->callback([files, &exit_code] { exit_code = run_check(*files); });

  auto ex = std::make_shared<ExplainOptions>();
  CLI::App* explain = policy->add_subcommand(
      "explain",
      "show the decision for one operation and the deciding rule (exit 0 allow, 1 deny, 2 bad input).\n"
      "Path resources are made absolute and '.'/'..' are removed lexically; symlinks are not\n"
      "resolved here (the pipeline resolves them before it asks the policy).");
  explain->add_option("--policy", ex->policy, "policy file")->required();
  explain->add_option("--principal", ex->principal, "who would act")->required();
  explain->add_option("--op", ex->op, "operation kind, e.g. fs.read, process.spawn, net.connect, util.exec")
      ->required();
  explain->add_option("--resource", ex->resources,
                      "resource: a path, \"IP:PORT\" or a tool name; repeat for operations with several "
                      "(fs.rename: from and to)");
  explain->callback([ex, &exit_code] { exit_code = run_explain(*ex); });
}

}  // namespace airssys::osl::cli
