// Policy decisions: deny by default, deny overrides, roles, wildcards,
// endpoints, tools, audit-only mode, sandbox paths, limits, hostile inputs,
// and the example policy shipped for the CLI demo.

#include <airssys/osl/policy.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace airssys::osl {
namespace {

Policy load(std::string_view yaml) {
  auto p = Policy::parse(yaml, "test.yaml");
  EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().to_string());
  return p ? *p : Policy();
}

Decision ask(const Policy& p, std::string_view who, OpKind op, std::initializer_list<ResourceRef> res) {
  return p.decide(who, op, std::span<const ResourceRef>(res.begin(), res.size()));
}

bool allows(const Policy& p, std::string_view who, OpKind op, std::string_view res) {
  const Decision d = ask(p, who, op, {ResourceRef{res}});
  EXPECT_FALSE(d.would_deny);
  return d.allowed;
}

constexpr std::string_view kBasic = R"(
version: 1
roles:
  builder: { inherits: [reader] }
  reader: {}
principals:
  alice: { roles: [builder] }
  bob: { roles: [reader] }
rules:
  - id: read-workspace
    effect: allow
    principals: ["role:reader"]
    operations: ["fs.read", "fs.list", "fs.stat"]
    resources: ["/work/**"]
  - id: build-writes
    effect: allow
    principals: ["role:builder"]
    operations: ["fs.*"]
    resources: ["/work/out/**"]
)";

TEST(Policy, DenyByDefault) {
  const Policy p = load(kBasic);
  const Decision d = ask(p, "alice", OpKind::fs_read, {ResourceRef{"/etc/shadow"}});
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.would_deny);
  EXPECT_FALSE(d.rule.has_value());
  EXPECT_EQ(d.reason, "no rule allows fs.read on /etc/shadow for alice");
  EXPECT_FALSE(allows(p, "alice", OpKind::process_spawn, "/work/tool"));  // op not granted
  EXPECT_FALSE(allows(p, "bob", OpKind::fs_write, "/work/out/x"));       // role not held
}

// The resource is the caller's text: a denial shows it escaped (an ESC
// cannot reach the terminal the reason is printed on) and, past 256 bytes,
// cut with its length; the words around it stay as they are.
TEST(Policy, TheDeniedResourceIsShownEscapedAndCut) {
  const Policy p = load(kBasic);
  const Decision esc = ask(p, "alice", OpKind::process_spawn, {ResourceRef{"/usr/bin/t\x1b[31mrue"}});
  EXPECT_FALSE(esc.allowed);
  EXPECT_EQ(esc.reason, "no rule allows process.spawn on /usr/bin/t\\x1b[31mrue for alice");
  const std::string long_path = "/srv/" + std::string(100'000, 'p');
  const Decision cut = ask(p, "alice", OpKind::fs_read, {ResourceRef{long_path}});
  EXPECT_EQ(cut.reason, "no rule allows fs.read on " + long_path.substr(0, 128) + "… (100005 bytes) …" +
                            long_path.substr(long_path.size() - 128) + " for alice");
}

// Review of 0082308: the principal (from --principal or a caller) was
// still appended raw, so an ESC in it reached the terminal and the audit
// record's error text. It is shown as paths are: unquoted, so ' stays.
TEST(Policy, TheDeniedPrincipalIsShownEscaped) {
  const Policy p = load(kBasic);
  const Decision on = ask(p, "al\x1b[31mice", OpKind::fs_read, {ResourceRef{"/etc/hostname"}});
  EXPECT_FALSE(on.allowed);
  EXPECT_EQ(on.reason, "no rule allows fs.read on /etc/hostname for al\\x1b[31mice");
  const Decision none = ask(p, "o'b\x9bx", OpKind::net_socket, {});
  EXPECT_FALSE(none.allowed);
  EXPECT_EQ(none.reason, "no rule allows net.socket for o'b\\x9bx");
  const Decision quote = ask(p, "o'brien", OpKind::fs_read, {ResourceRef{"/tmp/o'brien/nofile"}});
  EXPECT_EQ(quote.reason, "no rule allows fs.read on /tmp/o'brien/nofile for o'brien") << "' is shown as it is";
}

TEST(Policy, EmptyPoliciesDenyEverything) {
  for (const char* text : {"", "version: 1\n", "# only a comment\n", "---\n", "version: 1\nrules: []\nroles: {}\n"}) {
    const Policy p = load(text);
    EXPECT_EQ(p.rule_count(), 0u) << text;
    for (const OpKind k : kAllOpKinds) {
      EXPECT_FALSE(ask(p, "root", k, {ResourceRef{"/"}}).allowed) << text;
      EXPECT_FALSE(ask(p, "root", k, {}).allowed) << text;
    }
    EXPECT_EQ(p.mode(), EnforcementMode::enforce);
  }
  const Policy def;
  EXPECT_FALSE(ask(def, "root", OpKind::fs_read, {ResourceRef{"/"}}).allowed);
  EXPECT_EQ(def.rule_count(), 0u);
  EXPECT_FALSE(def.tool_path("git").has_value());
}

TEST(Policy, AllowNamesTheFirstMatchingRule) {
  const Policy p = load(kBasic);
  const Decision d = ask(p, "alice", OpKind::fs_read, {ResourceRef{"/work/out/a.o"}});
  EXPECT_TRUE(d.allowed);
  EXPECT_FALSE(d.would_deny);
  EXPECT_EQ(d.rule, "read-workspace");
  EXPECT_TRUE(allows(p, "alice", OpKind::fs_delete, "/work/out/a.o"));
  EXPECT_EQ(ask(p, "alice", OpKind::fs_delete, {ResourceRef{"/work/out/a.o"}}).rule, "build-writes");
}

TEST(Policy, RoleInheritanceIsTransitive) {
  const Policy p = load(R"(
version: 1
roles:
  admin: { inherits: [operator] }
  operator: { inherits: [viewer, auditor] }
  viewer: {}
  auditor:
principals:
  root: { roles: [admin] }
  op: { roles: [operator] }
  guest: {}
rules:
  - { id: view, effect: allow, principals: ["role:viewer"], operations: [fs.read], resources: ["/srv/**"] }
  - { id: admin-only, effect: allow, principals: ["role:admin"], operations: [fs.write], resources: ["/srv/**"] }
)");
  EXPECT_TRUE(allows(p, "root", OpKind::fs_read, "/srv/x"));  // admin → operator → viewer
  EXPECT_TRUE(allows(p, "op", OpKind::fs_read, "/srv/x"));
  EXPECT_FALSE(allows(p, "guest", OpKind::fs_read, "/srv/x"));
  EXPECT_TRUE(allows(p, "root", OpKind::fs_write, "/srv/x"));
  EXPECT_FALSE(allows(p, "op", OpKind::fs_write, "/srv/x"));  // inheritance only goes down
  EXPECT_EQ(p.roles_of("root"), (std::vector<std::string>{"admin", "auditor", "operator", "viewer"}));
  EXPECT_EQ(p.roles_of("op"), (std::vector<std::string>{"auditor", "operator", "viewer"}));
  EXPECT_TRUE(p.roles_of("guest").empty());
  EXPECT_TRUE(p.roles_of("nobody").empty());
}

TEST(Policy, DenyWinsRegardlessOfOrder) {
  constexpr std::string_view allow = R"(
  - { id: allow-all, effect: allow, principals: ["*"], operations: ["*"], resources: ["/work/**"] })";
  constexpr std::string_view deny = R"(
  - { id: no-secrets, effect: deny, principals: ["*"], operations: [fs.read], resources: ["/work/secret/**"] })";
  for (const bool deny_first : {false, true}) {
    const std::string text = std::string("version: 1\nrules:") + std::string(deny_first ? deny : allow) +
                             std::string(deny_first ? allow : deny) + "\n";
    const Policy p = load(text);
    const Decision d = ask(p, "alice", OpKind::fs_read, {ResourceRef{"/work/secret/key"}});
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.rule, "no-secrets");
    EXPECT_EQ(d.reason, "denied by rule no-secrets");
    EXPECT_FALSE(allows(p, "alice", OpKind::fs_read, "/work/secret"));  // '**' includes the directory itself
    EXPECT_TRUE(allows(p, "alice", OpKind::fs_read, "/work/secrets"));
    EXPECT_TRUE(allows(p, "alice", OpKind::fs_write, "/work/secret/key"));  // the deny lists fs.read only
  }
}

// decide() files path rules by literal prefix; the answer must still be the
// first matching rule in file order, whichever prefix bucket it sits in.
TEST(Policy, FirstRuleInFileOrderAcrossPrefixes) {
  const Policy p = load(R"(
version: 1
rules:
  - { id: deep, effect: allow, principals: [a], operations: [fs.read], resources: ["/w/x/y/**"] }
  - { id: wild, effect: allow, principals: [a], operations: [fs.read], resources: ["/*/x/**"] }
  - { id: shallow, effect: allow, principals: [a], operations: [fs.read], resources: ["/w/**"] }
  - { id: any, effect: allow, principals: [a], operations: [fs.read] }
  - { id: d2, effect: deny, principals: [a], operations: [fs.read], resources: ["/w/x/y/z"] }
  - { id: d1, effect: deny, principals: [a], operations: [fs.read], resources: ["/**/z"] }
)");
  EXPECT_EQ(ask(p, "a", OpKind::fs_read, {ResourceRef{"/w/x/y/q"}}).rule, "deep");
  EXPECT_EQ(ask(p, "a", OpKind::fs_read, {ResourceRef{"/w/x/q"}}).rule, "wild");
  EXPECT_EQ(ask(p, "a", OpKind::fs_read, {ResourceRef{"/w/q"}}).rule, "shallow");
  EXPECT_EQ(ask(p, "a", OpKind::fs_read, {ResourceRef{"/elsewhere"}}).rule, "any");
  EXPECT_EQ(ask(p, "a", OpKind::fs_read, {ResourceRef{"/w/x/y/z"}}).rule, "d2");
  EXPECT_EQ(ask(p, "a", OpKind::fs_read, {ResourceRef{"/v/z"}}).rule, "d1");
  // Matching through the alias counts, and file order still decides.
  EXPECT_EQ(ask(p, "a", OpKind::fs_read, {ResourceRef{"/elsewhere", "/w/q"}}).rule, "shallow");
}

TEST(Policy, EveryResourceMustBeAllowedAndNoneDenied) {
  const Policy p = load(R"(
version: 1
rules:
  - { id: w, effect: allow, principals: [alice], operations: [fs.rename], resources: ["/work/**"] }
  - { id: d, effect: deny, principals: [alice], operations: [fs.rename], resources: ["/work/locked/**"] }
)");
  auto d = ask(p, "alice", OpKind::fs_rename, {ResourceRef{"/work/a"}, ResourceRef{"/work/b"}});
  EXPECT_TRUE(d.allowed);
  d = ask(p, "alice", OpKind::fs_rename, {ResourceRef{"/work/a"}, ResourceRef{"/etc/passwd"}});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "no rule allows fs.rename on /etc/passwd for alice");
  // A deny on any resource wins over a missing allow on an earlier one.
  d = ask(p, "alice", OpKind::fs_rename, {ResourceRef{"/etc/passwd"}, ResourceRef{"/work/locked/x"}});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "d");
}

TEST(Policy, PrincipalMatching) {
  const Policy p = load(R"(
version: 1
roles: { staff: {} }
principals:
  carol: { roles: [staff] }
rules:
  - { id: everyone, effect: allow, principals: ["*"], operations: [fs.stat], resources: ["/**"] }
  - { id: dave-only, effect: allow, principals: [dave], operations: [fs.read], resources: ["/home/dave/**"] }
  - { id: staff, effect: allow, principals: ["role:staff"], operations: [fs.read], resources: ["/staff/**"] }
)");
  EXPECT_TRUE(allows(p, "stranger", OpKind::fs_stat, "/x"));           // unknown principal matches "*"
  EXPECT_TRUE(allows(p, "dave", OpKind::fs_read, "/home/dave/notes"));  // undeclared but named in a rule
  EXPECT_FALSE(allows(p, "dave", OpKind::fs_read, "/staff/x"));
  EXPECT_FALSE(allows(p, "stranger", OpKind::fs_read, "/home/dave/notes"));
  EXPECT_TRUE(allows(p, "carol", OpKind::fs_read, "/staff/x"));
  EXPECT_FALSE(allows(p, "", OpKind::fs_read, "/staff/x"));
  EXPECT_FALSE(allows(p, "Carol", OpKind::fs_read, "/staff/x"));  // names are case-sensitive
}

TEST(Policy, OperationWildcards) {
  const Policy p = load(R"(
version: 1
rules:
  - { id: fs, effect: allow, principals: [a], operations: ["fs.*"], resources: ["/d/**"] }
  - { id: all, effect: allow, principals: [b], operations: ["*"] }
  - { id: proc, effect: allow, principals: [c], operations: ["process.*", "util.exec"] }
)");
  for (const OpKind k : kAllOpKinds) {
    const bool is_fs = to_string(k).starts_with("fs.");
    EXPECT_EQ(allows(p, "a", k, "/d/x"), is_fs) << to_string(k);
    EXPECT_TRUE(allows(p, "b", k, "anything")) << to_string(k);
    const bool is_proc = to_string(k).starts_with("process.") || k == OpKind::util_exec;
    EXPECT_EQ(allows(p, "c", k, "/bin/true"), is_proc) << to_string(k);
  }
}

TEST(Policy, RulesWithoutResourcesAndResourcelessOperations) {
  const Policy p = load(R"(
version: 1
rules:
  - { id: sock-any, effect: allow, principals: [a], operations: [net.socket] }
  - { id: sock-star, effect: allow, principals: [b], operations: [net.socket], resources: ["*"] }
  - { id: sock-listed, effect: allow, principals: [c], operations: [net.socket], resources: ["*:80"] }
  - { id: read-star, effect: allow, principals: [d], operations: [fs.read], resources: ["**"] }
)");
  EXPECT_TRUE(ask(p, "a", OpKind::net_socket, {}).allowed);
  EXPECT_TRUE(ask(p, "a", OpKind::net_socket, {ResourceRef{"1.2.3.4:5"}}).allowed);
  EXPECT_TRUE(ask(p, "b", OpKind::net_socket, {}).allowed);
  const Decision d = ask(p, "c", OpKind::net_socket, {});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "no rule allows net.socket for c");
  EXPECT_TRUE(ask(p, "c", OpKind::net_socket, {ResourceRef{"1.2.3.4:80"}}).allowed);
  EXPECT_TRUE(allows(p, "d", OpKind::fs_read, "/etc/passwd"));
  EXPECT_TRUE(allows(p, "d", OpKind::fs_read, "not/even/absolute"));
}

TEST(Policy, EndpointsWithAliases) {
  const Policy p = load(R"(
version: 1
rules:
  - { id: local, effect: allow, principals: [svc], operations: [net.connect], resources: ["127.0.0.0/8:*", "[::1]:*"] }
  - { id: api, effect: allow, principals: [svc], operations: [net.connect], resources: ["*.example.com:443"] }
  - { id: no-smtp, effect: deny, principals: ["*"], operations: ["net.*"], resources: ["*:25"] }
  - { id: listen, effect: allow, principals: [svc], operations: [net.listen], resources: ["0.0.0.0:8000-8999", "/run/svc/*.sock"] }
)");
  EXPECT_TRUE(allows(p, "svc", OpKind::net_connect, "127.0.0.1:5432"));
  EXPECT_TRUE(allows(p, "svc", OpKind::net_connect, "[::1]:5432"));
  EXPECT_FALSE(allows(p, "svc", OpKind::net_connect, "10.0.0.1:5432"));
  // The alias carries the name the caller asked for; matching either suffices.
  EXPECT_TRUE(ask(p, "svc", OpKind::net_connect, {ResourceRef{"93.184.216.34:443", "api.example.com:443"}}).allowed);
  EXPECT_FALSE(ask(p, "svc", OpKind::net_connect, {ResourceRef{"93.184.216.34:443", "evil.org:443"}}).allowed);
  const Decision d = ask(p, "svc", OpKind::net_connect, {ResourceRef{"127.0.0.1:25", "localhost:25"}});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "no-smtp");
  EXPECT_TRUE(allows(p, "svc", OpKind::net_listen, "0.0.0.0:8080"));
  EXPECT_FALSE(allows(p, "svc", OpKind::net_listen, "0.0.0.0:9000"));
  EXPECT_TRUE(allows(p, "svc", OpKind::net_listen, "/run/svc/api.sock"));
  EXPECT_FALSE(allows(p, "svc", OpKind::net_listen, "/run/other/api.sock"));
  EXPECT_FALSE(allows(p, "svc", OpKind::net_connect, "garbage"));
}

TEST(Policy, ToolsAllowlist) {
  const Policy p = load(R"(
version: 1
tools: { git: /usr/bin/git, make: /usr/bin/make }
rules:
  - { id: git, effect: allow, principals: [dev], operations: [util.exec], resources: [git] }
  - { id: any-tool, effect: allow, principals: [ci], operations: [util.exec], resources: ["m*"] }
)");
  EXPECT_EQ(p.tool_path("git"), "/usr/bin/git");
  EXPECT_EQ(p.tool_path("make"), "/usr/bin/make");
  EXPECT_FALSE(p.tool_path("curl").has_value());
  EXPECT_TRUE(allows(p, "dev", OpKind::util_exec, "git"));
  EXPECT_FALSE(allows(p, "dev", OpKind::util_exec, "make"));
  EXPECT_TRUE(allows(p, "ci", OpKind::util_exec, "make"));
  EXPECT_FALSE(allows(p, "ci", OpKind::util_exec, "git"));
}

TEST(Policy, AuditOnlyLetsWouldBeDenialsThrough) {
  const Policy p = load(R"(
version: 1
mode: audit-only
rules:
  - { id: ok, effect: allow, principals: ["*"], operations: [fs.read], resources: ["/pub/**"] }
  - { id: no-priv, effect: deny, principals: ["*"], operations: [fs.read], resources: ["/pub/private/**"] }
)");
  EXPECT_EQ(p.mode(), EnforcementMode::audit_only);
  Decision d = ask(p, "x", OpKind::fs_read, {ResourceRef{"/pub/a"}});
  EXPECT_TRUE(d.allowed);
  EXPECT_FALSE(d.would_deny);
  EXPECT_EQ(d.rule, "ok");
  d = ask(p, "x", OpKind::fs_read, {ResourceRef{"/pub/private/a"}});
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.would_deny);
  EXPECT_EQ(d.rule, "no-priv");
  EXPECT_EQ(d.reason, "denied by rule no-priv");
  d = ask(p, "x", OpKind::fs_read, {ResourceRef{"/etc/passwd"}});
  EXPECT_TRUE(d.allowed);
  EXPECT_TRUE(d.would_deny);
  EXPECT_FALSE(d.rule.has_value());
  EXPECT_EQ(d.reason, "no rule allows fs.read on /etc/passwd for x");
}

TEST(Policy, SandboxPathsFromAllowRules) {
  const Policy p = load(R"(
version: 1
sandbox: { system_paths: [/usr, /lib] }
rules:
  - { id: r, effect: allow, principals: [a], operations: [fs.read, fs.list], resources: ["/work/**", "/data/*.csv", "/work/**"] }
  - { id: w, effect: allow, principals: [a], operations: [fs.write, fs.delete], resources: ["/work/out/**"] }
  - { id: x, effect: allow, principals: [a], operations: [process.spawn], resources: ["/opt/tools/bin/*", "/usr/bin/git"] }
  - { id: deny, effect: deny, principals: [a], operations: [fs.read], resources: ["/secret/**"] }
  - { id: other, effect: allow, principals: [b], operations: [fs.read], resources: ["/elsewhere/**"] }
  - { id: net, effect: allow, principals: [a], operations: [net.connect, fs.stat], resources: ["127.0.0.1:80", "/etc/hosts"] }
)");
  const SandboxPaths s = p.sandbox_paths("a");
  EXPECT_EQ(s.read, (std::vector<std::string>{"/data", "/etc/hosts", "/work"}));
  EXPECT_EQ(s.write, (std::vector<std::string>{"/work/out"}));
  EXPECT_EQ(s.execute, (std::vector<std::string>{"/lib", "/opt/tools/bin", "/usr", "/usr/bin/git"}));
  const SandboxPaths none = p.sandbox_paths("nobody");
  EXPECT_TRUE(none.read.empty());
  EXPECT_TRUE(none.write.empty());
  EXPECT_EQ(none.execute, (std::vector<std::string>{"/lib", "/usr"}));
}

TEST(Policy, DefaultSystemPathsAndLimits) {
  const Policy p = load("version: 1\nlimits: { max_open_files: 256, max_processes: 0 }\n");
  const auto exec = p.sandbox_paths("x").execute;
  for (const char* dir : {"/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/ld.so.conf.d",
                          "/dev/null", "/dev/zero", "/dev/urandom"}) {
    EXPECT_NE(std::find(exec.begin(), exec.end(), dir), exec.end()) << dir;
  }
  EXPECT_EQ(exec.size(), 10u);
  EXPECT_EQ(p.limits().max_open_files, 256u);
  EXPECT_EQ(p.limits().max_processes, 0u);
  EXPECT_FALSE(p.limits().max_connections.has_value());
}

TEST(Policy, CopiesShareTheCompiledRules) {
  const Policy a = load(kBasic);
  const Policy b = a;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the point
  EXPECT_EQ(b.rule_count(), 2u);
  EXPECT_TRUE(allows(b, "alice", OpKind::fs_read, "/work/x"));
}

// Which operations a deny rule could refuse each principal is worked out at
// load in time linear in the policy, not rules x principals: 60,000
// principals and 12,000 deny rules (near the node limit) would be 7.2e8
// rule checks, minutes under the sanitizers; the masks stay exact for "*",
// named and role rules.
TEST(Policy, DenyMasksAreBuiltWithoutVisitingEveryRuleForEveryPrincipal) {
  constexpr int kPrincipals = 60'000;
  constexpr int kDenies = 12'000;
  std::string y = "version: 1\nroles:\n  ops: {}\n  oncall: { inherits: [ops] }\n"
                  "principals:\n  carol: { roles: [oncall] }\nrules:\n"
                  "  - id: many\n    effect: allow\n    operations: [\"fs.read\"]\n    principals: [";
  for (int i = 0; i < kPrincipals; ++i) y += (i ? ",p" : "p") + std::to_string(i);
  y += "]\n  - {id: named, effect: deny, principals: [p7], operations: [\"fs.delete\"]}\n"
       "  - {id: by-role, effect: deny, principals: [\"role:ops\"], operations: [\"process.kill\"]}\n";
  for (int i = 0; i < kDenies; ++i) {
    y += "  - {id: d" + std::to_string(i) + ", effect: deny, principals: [\"*\"], operations: [\"net.connect\"]}\n";
  }
  const Policy p = load(y);
  ASSERT_EQ(p.rule_count(), std::size_t{kDenies} + 3);
  for (const std::string who : {"p0", "p7", "p59999", "carol", "nobody"}) {
    EXPECT_TRUE(p.has_deny_rules(who, OpKind::net_connect)) << who;
    EXPECT_FALSE(p.has_deny_rules(who, OpKind::fs_read)) << who;
    EXPECT_EQ(p.has_deny_rules(who, OpKind::fs_delete), who == "p7") << who;
    EXPECT_EQ(p.has_deny_rules(who, OpKind::process_kill), who == "carol") << who << ": role:ops through oncall";
  }
}

TEST(Policy, HostileInputsFailCleanly) {
  const std::string brackets(100000, '[');
  auto r = Policy::parse(brackets);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("nested deeper"), std::string::npos) << r.error().to_string();
  EXPECT_EQ(r.error().line, 1);
  EXPECT_EQ(r.error().column, 65);

  std::string dashes;
  for (int i = 0; i < 100000; ++i) dashes += "- ";
  r = Policy::parse(dashes);
  ASSERT_FALSE(r.has_value());
  EXPECT_GT(r.error().line, 0) << r.error().to_string();

  std::string indent;
  for (int i = 0; i < 5000; ++i) indent += std::string(static_cast<std::size_t>(i), ' ') + "k:\n";
  EXPECT_FALSE(Policy::parse(indent).has_value());

  const std::string huge((4u << 20) + 1, '#');
  r = Policy::parse(huge);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("limit"), std::string::npos);

  using namespace std::string_view_literals;
  for (const std::string_view junk : {"\x00\x01\x02"sv, "version: 1\x00\n"sv, "version: 1\n\t- x"sv, "["sv, "{a: 1"sv,
                                      "version: &a 1\nmode: *b\n"sv, "%YAML 9\n---\n"sv}) {
    EXPECT_FALSE(Policy::parse(junk).has_value()) << testing::PrintToString(std::string(junk));
  }
  // A lone UTF-16 byte-order mark is an empty document: valid, denies everything.
  const auto bom = Policy::parse("\xff\xfe"sv);
  ASSERT_TRUE(bom.has_value());
  EXPECT_EQ(bom->rule_count(), 0u);
  // Aliases are fine where a string is expected, and cannot blow up lists.
  EXPECT_TRUE(Policy::parse("version: &v 1\nrules:\n  - {id: a, effect: allow, principals: [&p x], operations: [fs.read]}\n"
                            "  - {id: b, effect: allow, principals: [*p], operations: [fs.read]}\n")
                  .has_value());
}

TEST(Policy, LoadFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("airssys-policy-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "p.yaml";
  {
    std::ofstream(file) << kBasic;
  }
  auto p = Policy::load_file(file);
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->rule_count(), 2u);

  {
    std::ofstream(file) << "version: 1\nrules:\n  - id: x\n    effect: alow\n    principals: [a]\n    operations: [fs.read]\n";
  }
  p = Policy::load_file(file);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().file, file.string());
  EXPECT_EQ(p.error().line, 4);

  {
    std::ofstream out(file);
    out << std::string((4u << 20) + 10, '#');
  }
  p = Policy::load_file(file);
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message.find("larger than"), std::string::npos);

  p = Policy::load_file(dir / "missing.yaml");
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().to_string().find("missing.yaml: cannot open: No such file"), std::string::npos)
      << p.error().to_string();
  std::filesystem::remove_all(dir);
}

TEST(Policy, ExamplePolicyForTheDemo) {
  const auto file = std::filesystem::path(__FILE__).parent_path() / "../../policies/example.yaml";
  const auto p = Policy::load_file(file);
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_TRUE(allows(*p, "demo", OpKind::fs_read, "/tmp/airssys-demo/a.txt"));
  EXPECT_TRUE(allows(*p, "demo", OpKind::fs_list, "/tmp/airssys-demo"));
  EXPECT_TRUE(allows(*p, "demo", OpKind::fs_write, "/tmp/airssys-demo/out/b.txt"));
  EXPECT_FALSE(allows(*p, "demo", OpKind::fs_read, "/tmp/airssys-demo/secret/key"));
  EXPECT_FALSE(allows(*p, "demo", OpKind::fs_write, "/tmp/airssys-demo/secret/key"));
  EXPECT_FALSE(allows(*p, "demo", OpKind::fs_read, "/etc/shadow"));
  EXPECT_TRUE(allows(*p, "demo", OpKind::process_spawn, "/usr/bin/env"));
  EXPECT_TRUE(allows(*p, "demo", OpKind::process_spawn, "/bin/echo"));
  EXPECT_FALSE(allows(*p, "demo", OpKind::process_spawn, "/tmp/airssys-demo/evil"));
  EXPECT_TRUE(allows(*p, "demo", OpKind::net_connect, "127.0.0.1:8080"));
  EXPECT_FALSE(allows(*p, "demo", OpKind::net_connect, "1.1.1.1:443"));
  EXPECT_TRUE(allows(*p, "demo", OpKind::util_exec, "git"));
  EXPECT_EQ(p->tool_path("git"), "/usr/bin/git");
  EXPECT_FALSE(allows(*p, "mallory", OpKind::fs_read, "/tmp/airssys-demo/a.txt"));
  EXPECT_EQ(p->mode(), EnforcementMode::enforce);
}

}  // namespace
}  // namespace airssys::osl
