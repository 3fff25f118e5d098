// Property test: random policies and requests, decide() compared against a
// deliberately naive reference evaluator (linear scan, regex globs, textual
// CIDR arithmetic), plus two invariants: adding a deny rule never turns a
// denial into an allow, and removing every allow rule denies everything.

#include <airssys/osl/policy.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace airssys::osl {
namespace {

// ---- the model ---------------------------------------------------------------

struct Rule {
  std::string id;
  bool deny = false;
  std::vector<std::string> principals;
  std::vector<std::string> operations;
  std::optional<std::vector<std::string>> resources;
};

struct Model {
  bool audit_only = false;
  std::vector<std::vector<int>> role_parents;  // role i inherits these (all > i: acyclic)
  std::vector<std::vector<int>> principal_roles;
  std::vector<Rule> rules;
};

const std::vector<std::string> kPathPatterns = {"/work/**", "/work/*", "/work/a/*.txt", "/work/a/**", "/**",
                                                "/etc/passwd", "/work/?", "/*/a/**", "/run/*.sock", "/work/**/b"};
const std::vector<std::string> kEndpointPatterns = {"127.0.0.0/8:*", "10.0.0.0/8:80",     "10.1.0.0/16:8000-9000",
                                                    "*:443",         "localhost:*",       "*.example.com:443",
                                                    "[::1]:*",       "192.168.0.1:443"};
const std::vector<std::string> kToolPatterns = {"git", "make", "m*", "g?t"};
const std::vector<std::string> kWildcards = {"*", "**"};

const std::vector<std::string> kPaths = {"/work", "/work/a", "/work/a/x.txt", "/work/a/b", "/work/b",
                                         "/work/ab", "/etc/passwd", "/", "/x/a/y", "/run/a.sock", "/workshop"};
struct Ep {
  const char* name;
  const char* alias;
};
const std::vector<Ep> kEndpoints = {{"127.0.0.1:80", "localhost:80"}, {"10.1.2.3:8080", ""},  {"10.2.0.1:80", ""},
                                    {"192.168.0.1:443", "api.example.com:443"}, {"[::1]:22", "localhost:22"},
                                    {"[2001:db8::1]:443", ""}, {"8.8.8.8:443", "dns.google:443"}, {"/run/a.sock", ""}};
const std::vector<std::string> kTools = {"git", "make", "gut", "curl"};

const std::vector<std::string> kOps = {"fs.read", "fs.write", "fs.delete", "process.spawn", "net.connect",
                                       "net.socket", "util.exec", "fs.*", "net.*", "process.*", "util.*", "*"};

std::string role_name(int i) { return "r" + std::to_string(i); }
std::string principal_name(int i) { return "p" + std::to_string(i); }

std::string to_yaml(const Model& m) {
  std::string y = "version: 1\n";
  if (m.audit_only) y += "mode: audit-only\n";
  y += "tools: { git: /usr/bin/git, make: /usr/bin/make, gut: /usr/bin/gut }\n";
  y += "roles:\n";
  for (std::size_t i = 0; i < m.role_parents.size(); ++i) {
    y += "  " + role_name(static_cast<int>(i)) + ": { inherits: [";
    for (const int p : m.role_parents[i]) y += role_name(p) + ", ";
    y += "] }\n";
  }
  y += "principals:\n";
  for (std::size_t i = 0; i < m.principal_roles.size(); ++i) {
    y += "  " + principal_name(static_cast<int>(i)) + ": { roles: [";
    for (const int r : m.principal_roles[i]) y += role_name(r) + ", ";
    y += "] }\n";
  }
  y += "rules:\n";
  const auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (const auto& x : v) s += "\"" + x + "\", ";
    return s + "]";
  };
  for (const Rule& r : m.rules) {
    y += "  - id: " + r.id + "\n    effect: " + (r.deny ? "deny" : "allow") + "\n";
    y += "    principals: " + list(r.principals) + "\n    operations: " + list(r.operations) + "\n";
    if (r.resources) y += "    resources: " + list(*r.resources) + "\n";
  }
  return y;
}

// ---- the reference evaluator --------------------------------------------------

bool op_listed(const std::vector<std::string>& ops, OpKind k) {
  const std::string name(to_string(k));
  for (const auto& o : ops) {
    if (o == "*" || o == name) return true;
    if (o.ends_with(".*") && name.starts_with(o.substr(0, o.size() - 1))) return true;
  }
  return false;
}

std::set<int> expanded_roles(const Model& m, const std::string& principal) {
  std::set<int> out;
  for (std::size_t i = 0; i < m.principal_roles.size(); ++i) {
    if (principal_name(static_cast<int>(i)) == principal) out.insert(m.principal_roles[i].begin(), m.principal_roles[i].end());
  }
  for (bool grew = true; grew;) {  // fixed point
    grew = false;
    for (const int r : std::set<int>(out)) {
      for (const int p : m.role_parents[static_cast<std::size_t>(r)]) grew |= out.insert(p).second;
    }
  }
  return out;
}

bool principal_ok(const Model& m, const Rule& r, const std::string& who) {
  const auto roles = expanded_roles(m, who);
  for (const auto& p : r.principals) {
    if (p == "*" || p == who) return true;
    for (const int role : roles) {
      if (p == "role:" + role_name(role)) return true;
    }
  }
  return false;
}

bool path_ok(const std::string& pattern, const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  std::string re;
  std::size_t pos = 1;
  while (pos <= pattern.size()) {
    std::size_t slash = pattern.find('/', pos);
    if (slash == std::string::npos) slash = pattern.size();
    const std::string seg = pattern.substr(pos, slash - pos);
    if (seg == "**") {
      re += "(/[^/]*)*";
    } else {
      re += "/";
      for (const char c : seg) re += c == '*' ? std::string("[^/]*") : c == '?' ? std::string("[^/]") : c == '.' ? std::string("\\.") : std::string(1, c);
    }
    pos = slash + 1;
  }
  return std::regex_match(path == "/" ? std::string() : path, std::regex(re));
}

std::optional<unsigned> ipv4(const std::string& s) {
  unsigned a, b, c, d;
  char tail;
  if (std::sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4) return std::nullopt;
  return (a << 24) | (b << 16) | (c << 8) | d;
}

bool endpoint_ok(const std::string& pattern, const std::string& res) {
  if (pattern.starts_with('/') || res.starts_with('/')) return pattern.starts_with('/') && res.starts_with('/') && path_ok(pattern, res);
  const auto pc = pattern.rfind(':');
  const auto rc = res.rfind(':');
  const std::string ph = pattern.substr(0, pc), pp = pattern.substr(pc + 1);
  const std::string rh = res.substr(0, rc);
  const unsigned port = static_cast<unsigned>(std::stoul(res.substr(rc + 1)));
  if (pp != "*") {
    const auto dash = pp.find('-');
    const unsigned lo = static_cast<unsigned>(std::stoul(pp.substr(0, dash)));
    const unsigned hi = dash == std::string::npos ? lo : static_cast<unsigned>(std::stoul(pp.substr(dash + 1)));
    if (port < lo || port > hi) return false;
  }
  if (ph == "*") return true;
  if (ph.starts_with('[')) return ph == rh;
  const auto slash = ph.find('/');
  const auto net = ipv4(ph.substr(0, slash));
  if (net) {
    const auto addr = ipv4(rh);
    if (!addr) return false;
    const int len = slash == std::string::npos ? 32 : std::stoi(ph.substr(slash + 1));
    const unsigned mask = len == 0 ? 0u : ~0u << (32 - len);
    return (*addr & mask) == (*net & mask);
  }
  std::string re;
  for (const char c : ph) re += c == '*' ? std::string(".*") : c == '.' ? std::string("\\.") : std::string(1, c);
  return std::regex_match(rh, std::regex(re));
}

bool tool_ok(const std::string& pattern, const std::string& tool) {
  std::string re;
  for (const char c : pattern) re += c == '*' ? std::string(".*") : c == '?' ? std::string(".") : std::string(1, c);
  return std::regex_match(tool, std::regex(re));
}

// Which resource kinds a pattern from the generator's pools is valid for.
bool pattern_ok(const std::string& p, ResourceKind kind, const std::string& res) {
  if (p == "*" || p == "**") return true;
  switch (kind) {
    case ResourceKind::path: return p.starts_with('/') && path_ok(p, res);
    case ResourceKind::endpoint: return (p.starts_with('/') || p.find(':') != std::string::npos) && endpoint_ok(p, res);
    case ResourceKind::tool: return !p.starts_with('/') && p.find(':') == std::string::npos && tool_ok(p, res);
  }
  return false;
}

bool any_resource(const Rule& r) {
  if (!r.resources) return true;
  for (const auto& p : *r.resources) {
    if (p == "*" || p == "**") return true;
  }
  return false;
}

bool resource_ok(const Rule& r, ResourceKind kind, const ResourceRef& ref) {
  if (!r.resources) return true;
  for (const auto& p : *r.resources) {
    if (pattern_ok(p, kind, std::string(ref.name))) return true;
    if (!ref.alias.empty() && pattern_ok(p, kind, std::string(ref.alias))) return true;
  }
  return false;
}

Decision reference(const Model& m, const std::string& who, OpKind op, const std::vector<ResourceRef>& res) {
  const auto verdict = [&](std::optional<std::string> rule, std::string reason) {
    Decision d;
    d.allowed = m.audit_only;
    d.would_deny = m.audit_only;
    d.rule = std::move(rule);
    d.reason = std::move(reason);
    return d;
  };
  const auto applies = [&](const Rule& r) { return op_listed(r.operations, op) && principal_ok(m, r, who); };
  const ResourceKind kind = resource_kind(op);
  if (res.empty()) {
    for (const Rule& r : m.rules) {
      if (r.deny && applies(r) && any_resource(r)) return verdict(r.id, "denied by rule " + r.id);
    }
    for (const Rule& r : m.rules) {
      if (!r.deny && applies(r) && any_resource(r)) return Decision{true, false, r.id, ""};
    }
    return verdict(std::nullopt, "no rule allows " + std::string(to_string(op)) + " for " + who);
  }
  for (const ResourceRef& x : res) {
    for (const Rule& r : m.rules) {
      if (r.deny && applies(r) && resource_ok(r, kind, x)) return verdict(r.id, "denied by rule " + r.id);
    }
  }
  std::optional<std::string> first;
  for (const ResourceRef& x : res) {
    std::optional<std::string> found;
    for (const Rule& r : m.rules) {
      if (!r.deny && applies(r) && resource_ok(r, kind, x)) {
        found = r.id;
        break;
      }
    }
    if (!found) {
      return verdict(std::nullopt, "no rule allows " + std::string(to_string(op)) + " on " + std::string(x.name) + " for " + who);
    }
    if (!first) first = found;
  }
  return Decision{true, false, first, ""};
}

// ---- generators --------------------------------------------------------------

struct Gen {
  std::mt19937 rng;
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng); }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(uniform(0, static_cast<int>(v.size()) - 1))];
  }

  Rule rule(const Model& m, int n) {
    Rule r;
    r.id = "rule" + std::to_string(n);
    r.deny = coin(0.3);
    const int np = uniform(1, 2);
    for (int i = 0; i < np; ++i) {
      switch (uniform(0, 3)) {
        case 0: r.principals.push_back("*"); break;
        case 1: r.principals.push_back(principal_name(uniform(0, static_cast<int>(m.principal_roles.size()) - 1))); break;
        case 2: r.principals.push_back("role:" + role_name(uniform(0, static_cast<int>(m.role_parents.size()) - 1))); break;
        default: r.principals.push_back("n0"); break;  // named only in rules
      }
    }
    const int no = uniform(1, 2);
    for (int i = 0; i < no; ++i) r.operations.push_back(pick(kOps));
    if (coin(0.15)) return r;  // no resources: matches anything
    // Only patterns valid for at least one of the rule's kinds (else the
    // policy would rightly be rejected).
    bool path = false, endpoint = false, tool = false;
    for (const OpKind k : kAllOpKinds) {
      if (!op_listed(r.operations, k)) continue;
      const ResourceKind rk = resource_kind(k);
      path |= rk == ResourceKind::path;
      endpoint |= rk == ResourceKind::endpoint;
      tool |= rk == ResourceKind::tool;
    }
    std::vector<std::string> pool;
    if (path || endpoint) pool.insert(pool.end(), kPathPatterns.begin(), kPathPatterns.end());
    if (endpoint) pool.insert(pool.end(), kEndpointPatterns.begin(), kEndpointPatterns.end());
    if (tool) pool.insert(pool.end(), kToolPatterns.begin(), kToolPatterns.end());
    if (coin(0.05)) pool.insert(pool.end(), kWildcards.begin(), kWildcards.end());
    std::vector<std::string> res;
    const int nr = uniform(1, 3);
    for (int i = 0; i < nr; ++i) res.push_back(pick(pool));
    r.resources = res;
    return r;
  }

  Model model() {
    Model m;
    m.audit_only = coin(0.2);
    const int nroles = uniform(1, 5);
    m.role_parents.resize(static_cast<std::size_t>(nroles));
    for (int i = 0; i < nroles; ++i) {
      for (int j = i + 1; j < nroles; ++j) {
        if (coin(0.3)) m.role_parents[static_cast<std::size_t>(i)].push_back(j);
      }
    }
    const int nprin = uniform(1, 4);
    m.principal_roles.resize(static_cast<std::size_t>(nprin));
    for (auto& roles : m.principal_roles) {
      for (int r = 0; r < nroles; ++r) {
        if (coin(0.3)) roles.push_back(r);
      }
    }
    const int nrules = uniform(0, 12);
    for (int i = 0; i < nrules; ++i) m.rules.push_back(rule(m, i));
    return m;
  }

  std::string principal(const Model& m) {
    switch (uniform(0, 2)) {
      case 0: return "stranger";
      case 1: return "n0";
      default: return principal_name(uniform(0, static_cast<int>(m.principal_roles.size()) - 1));
    }
  }

  std::vector<ResourceRef> resources(ResourceKind kind) {
    std::vector<ResourceRef> out;
    const int n = uniform(0, 3) == 0 ? 0 : uniform(1, 3);
    for (int i = 0; i < n; ++i) {
      switch (kind) {
        case ResourceKind::path: out.push_back(ResourceRef{pick(kPaths)}); break;
        case ResourceKind::endpoint: {
          const Ep& e = pick(kEndpoints);
          out.push_back(ResourceRef{e.name, coin() ? e.alias : ""});
          break;
        }
        case ResourceKind::tool: out.push_back(ResourceRef{pick(kTools)}); break;
      }
    }
    return out;
  }
};

void expect_same(const Decision& got, const Decision& want, const std::string& context) {
  ASSERT_EQ(got.allowed, want.allowed) << context;
  ASSERT_EQ(got.would_deny, want.would_deny) << context;
  ASSERT_EQ(got.rule, want.rule) << context;
  ASSERT_EQ(got.reason, want.reason) << context;
}

std::string describe(const std::string& yaml, const std::string& who, OpKind op, const std::vector<ResourceRef>& res) {
  std::string s = yaml + "\nrequest: " + who + " " + std::string(to_string(op));
  for (const auto& r : res) s += " " + std::string(r.name) + (r.alias.empty() ? "" : "|" + std::string(r.alias));
  return s;
}

TEST(PolicyProperty, DecideAgreesWithReferenceEvaluator) {
  Gen g{std::mt19937(7)};
  int allowed = 0;
  int denied = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const Model m = g.model();
    const std::string yaml = to_yaml(m);
    const auto p = Policy::parse(yaml);
    ASSERT_TRUE(p.has_value()) << p.error().to_string() << "\n" << yaml;
    ASSERT_EQ(p->rule_count(), m.rules.size());
    for (int q = 0; q < 15; ++q) {
      const std::string who = g.principal(m);
      const OpKind op = g.pick(std::vector<OpKind>(kAllOpKinds.begin(), kAllOpKinds.end()));
      const auto res = g.resources(resource_kind(op));
      const Decision got = p->decide(who, op, res);
      ASSERT_NO_FATAL_FAILURE(expect_same(got, reference(m, who, op, res), describe(yaml, who, op, res)));
      // What lets decide() skip the deny look-ups and a tree walk skip its
      // entries: whether any deny rule for op speaks about this principal.
      const bool any_deny = std::any_of(m.rules.begin(), m.rules.end(), [&](const Rule& r) {
        return r.deny && op_listed(r.operations, op) && principal_ok(m, r, who);
      });
      ASSERT_EQ(p->has_deny_rules(who, op), any_deny) << describe(yaml, who, op, res);
      (got.allowed && !got.would_deny ? allowed : denied)++;
    }
  }
  // The generator must produce both outcomes in quantity to mean anything.
  EXPECT_GT(allowed, 400);
  EXPECT_GT(denied, 400);
}

TEST(PolicyProperty, AddingADenyNeverAllowsMore) {
  Gen g{std::mt19937(11)};
  for (int iter = 0; iter < 200; ++iter) {
    Model m = g.model();
    m.audit_only = false;
    const auto before = Policy::parse(to_yaml(m));
    ASSERT_TRUE(before.has_value());
    Rule extra = g.rule(m, 99);
    extra.deny = true;
    m.rules.insert(m.rules.begin() + g.uniform(0, static_cast<int>(m.rules.size())), extra);
    const auto after = Policy::parse(to_yaml(m));
    ASSERT_TRUE(after.has_value()) << after.error().to_string();
    for (int q = 0; q < 15; ++q) {
      const std::string who = g.principal(m);
      const OpKind op = kAllOpKinds[static_cast<std::size_t>(g.uniform(0, kOpKindCount - 1))];
      const auto res = g.resources(resource_kind(op));
      if (!before->decide(who, op, res).allowed) {
        ASSERT_FALSE(after->decide(who, op, res).allowed) << describe(to_yaml(m), who, op, res);
      }
    }
  }
}

TEST(PolicyProperty, WithoutAllowRulesEverythingIsDenied) {
  Gen g{std::mt19937(13)};
  for (int iter = 0; iter < 200; ++iter) {
    Model m = g.model();
    m.audit_only = false;
    std::erase_if(m.rules, [](const Rule& r) { return !r.deny; });
    const auto p = Policy::parse(to_yaml(m));
    ASSERT_TRUE(p.has_value());
    for (int q = 0; q < 15; ++q) {
      const std::string who = g.principal(m);
      const OpKind op = kAllOpKinds[static_cast<std::size_t>(g.uniform(0, kOpKindCount - 1))];
      const auto res = g.resources(resource_kind(op));
      const Decision d = p->decide(who, op, res);
      ASSERT_FALSE(d.allowed) << describe(to_yaml(m), who, op, res);
      if (d.rule) {
        // Only a deny rule can be named when nothing allows.
        ASSERT_TRUE(d.reason.starts_with("denied by rule "));
      }
    }
  }
}

}  // namespace
}  // namespace airssys::osl
