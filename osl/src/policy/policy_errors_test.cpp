// Every validation error, with the exact position it points at. Positions
// are 1-based line:column of the offending node.

#include <airssys/osl/policy.hpp>
#include <gtest/gtest.h>

#include <string>

namespace airssys::osl {
namespace {

struct ErrorCase {
  const char* name;
  const char* yaml;
  int line;
  int column;
  const char* message;  // exact, or a prefix when it ends in "…"
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class PolicyErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(PolicyErrors, ReportsPositionAndMessage) {
  const ErrorCase& c = GetParam();
  const auto p = Policy::parse(c.yaml, "p.yaml");
  ASSERT_FALSE(p.has_value()) << "accepted: " << c.yaml;
  const PolicyError& e = p.error();
  EXPECT_EQ(e.file, "p.yaml");
  EXPECT_EQ(e.line, c.line) << e.to_string();
  EXPECT_EQ(e.column, c.column) << e.to_string();
  std::string want = c.message;
  if (want.ends_with("…")) {
    want.resize(want.size() - std::string("…").size());
    EXPECT_TRUE(e.message.starts_with(want)) << e.to_string();
  } else {
    EXPECT_EQ(e.message, want);
  }
  EXPECT_EQ(e.to_string(), "p.yaml:" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": " + e.message);
}

INSTANTIATE_TEST_SUITE_P(
    All, PolicyErrors,
    ::testing::Values(
        // ---- YAML itself
        ErrorCase{"syntax_unclosed_flow", "version: 1\nrules: [\n", 3, 1, "YAML syntax error: …"},
        ErrorCase{"syntax_bad_indent", "version: 1\nmode: enforce\n  extra: 1\n", 3, 8, "YAML syntax error: …"},
        ErrorCase{"undefined_alias", "version: 1\nmode: *nope\n", 2, 7, "YAML syntax error: the referenced anchor is not defined"},
        ErrorCase{"two_documents", "version: 1\n---\nversion: 1\n", 2, 1,
                  "a policy file holds one YAML document; found another one here"},
        // yaml-cpp 0.7's LoadAll loops forever on this (found by the fuzzer).
        ErrorCase{"stray_comma", ",ver[# ", 1, 1, "YAML syntax error: unexpected ','"},
        ErrorCase{"stray_comma_after_map", "version: 1\n,\n", 2, 1, "YAML syntax error: …"},
        ErrorCase{"deep_flow", "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 1, 68,
                  "collections nested deeper than 64 levels"},
        // ---- top level
        ErrorCase{"not_a_mapping", "- a\n- b\n", 1, 1, "a policy must be a mapping (version, roles, principals, rules, ...), got a list"},
        ErrorCase{"missing_version", "\nrules: []\n", 2, 1, "missing 'version: 1'"},
        ErrorCase{"wrong_version", "version: 2\n", 1, 10, "unsupported version '2' (this build reads version 1)"},
        ErrorCase{"version_not_scalar", "version: [1]\n", 1, 10, "'version' must be a string, got a list"},
        ErrorCase{"unknown_top_key", "version: 1\nrule: []\n", 2, 1,
                  "policy: unknown key 'rule' (expected one of: version, mode, roles, principals, rules, tools, sandbox, limits)"},
        ErrorCase{"duplicate_top_key", "version: 1\nmode: enforce\nmode: audit-only\n", 3, 1,
                  "policy: duplicate key 'mode' (first at line 2)"},
        ErrorCase{"bad_mode", "version: 1\nmode: audit\n", 2, 7, "mode must be enforce or audit-only, got 'audit'"},
        // ---- roles
        ErrorCase{"roles_not_map", "version: 1\nroles: [a]\n", 2, 8, "'roles' must be a mapping, got a list"},
        ErrorCase{"role_unknown_key", "version: 1\nroles:\n  a: { inherit: [b] }\n", 3, 8,
                  "role 'a': unknown key 'inherit' (expected one of: inherits, description, env)"},
        ErrorCase{"role_defined_twice", "version: 1\nroles:\n  a: {}\n  a: {}\n", 4, 3,
                  "roles: 'a' is defined twice (first at line 3)"},
        ErrorCase{"role_unknown_parent", "version: 1\nroles:\n  a: { inherits: [b, c] }\n  b: {}\n", 3, 22,
                  "role 'a' inherits unknown role 'c' (defined roles: a, b)"},
        ErrorCase{"role_cycle", "version: 1\nroles:\n  a: { inherits: [b] }\n  b: { inherits: [c] }\n  c: { inherits: [a] }\n",
                  5, 19, "role inheritance cycle: a -> b -> c -> a"},
        ErrorCase{"role_self_cycle", "version: 1\nroles:\n  a: { inherits: [a] }\n", 3, 19, "role inheritance cycle: a -> a"},
        ErrorCase{"role_bad_name", "version: 1\nroles:\n  'my role': {}\n", 3, 3,
                  "role name 'my role' may contain only letters, digits, '.', '_' and '-'"},
        ErrorCase{"inherits_not_list", "version: 1\nroles:\n  a: { inherits: b }\n", 3, 18,
                  "role 'a': 'inherits' must be a list, got a string 'b'"},
        // ---- principals
        ErrorCase{"principal_unknown_role", "version: 1\nroles: { builder: {} }\nprincipals:\n  alice: { roles: [buidler] }\n",
                  4, 20, "principal 'alice': unknown role 'buidler' (defined roles: builder)"},
        ErrorCase{"principal_unknown_key", "version: 1\nprincipals:\n  alice: { role: [x] }\n", 3, 12,
                  "principal 'alice': unknown key 'role' (expected one of: roles, description, env)"},
        ErrorCase{"principal_bad_name", "version: 1\nprincipals:\n  'a:b': {}\n", 3, 3,
                  "principal name 'a:b' may contain only letters, digits, '.', '_', '-', '@' and '+'"},
        ErrorCase{"principal_roles_nested", "version: 1\nprincipals:\n  alice: { roles: [[x]] }\n", 3, 20,
                  "principal 'alice': 'roles': every entry must be a string, got a list"},
        // ---- rules: shape
        ErrorCase{"rules_not_list", "version: 1\nrules: { id: x }\n", 2, 8, "'rules' must be a list of rules, got a mapping"},
        ErrorCase{"rule_not_map", "version: 1\nrules:\n  - allow everything\n", 3, 5,
                  "rule #1 must be a mapping (id, effect, principals, operations, resources), got a string 'allow everything'"},
        ErrorCase{"rule_missing_id", "version: 1\nrules:\n  - effect: allow\n    principals: ['*']\n    operations: [fs.read]\n",
                  3, 5, "rule #1: missing 'id'"},
        ErrorCase{"rule_missing_effect", "version: 1\nrules:\n  - id: r1\n    principals: ['*']\n    operations: [fs.read]\n",
                  3, 5, "rule 'r1': missing 'effect' (allow or deny)"},
        ErrorCase{"rule_missing_principals", "version: 1\nrules:\n  - { id: r1, effect: allow, operations: [fs.read] }\n",
                  3, 5, "rule 'r1': missing 'principals'"},
        ErrorCase{"rule_missing_operations", "version: 1\nrules:\n  - { id: r1, effect: allow, principals: ['*'] }\n",
                  3, 5, "rule 'r1': missing 'operations'"},
        ErrorCase{"rule_typo_key",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: [fs.read]\n"
                  "    resouces: ['/a/**']\n",
                  7, 5, "rule 'x': unknown key 'resouces' (expected one of: id, description, effect, principals, operations, resources)"},
        ErrorCase{"rule_duplicate_key", "version: 1\nrules:\n  - id: x\n    effect: allow\n    effect: deny\n", 5, 5,
                  "rule 'x': duplicate key 'effect' (first at line 4)"},
        ErrorCase{"rule_empty_resources",
                  "version: 1\nrules:\n  - { id: x, effect: allow, principals: ['*'], operations: [fs.read], resources: [] }\n",
                  3, 82, "rule 'x': 'resources' must not be empty (leave the key out to match any resource)"},
        ErrorCase{"rule_empty_principals", "version: 1\nrules:\n  - { id: x, effect: allow, principals: [], operations: [fs.read] }\n",
                  3, 41, "rule 'x': 'principals' must not be empty"},
        ErrorCase{"rule_null_operations", "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations:\n",
                  6, 5, "rule 'x': 'operations' must not be empty"},
        // ---- rules: meaning
        ErrorCase{"bad_effect", "version: 1\nrules:\n  - id: x\n    effect: alow\n    principals: ['*']\n    operations: [fs.read]\n", 4, 13,
                  "rule 'x': effect must be allow or deny, got 'alow'"},
        ErrorCase{"duplicate_rule_id",
                  "version: 1\nrules:\n  - { id: a, effect: allow, principals: ['*'], operations: [fs.read] }\n"
                  "  - { id: a, effect: deny, principals: ['*'], operations: [fs.read] }\n",
                  4, 11, "duplicate rule id 'a' (first at line 3)"},
        ErrorCase{"empty_rule_id", "version: 1\nrules:\n  - { id: '', effect: allow, principals: ['*'], operations: [fs.read] }\n",
                  3, 11, "rule #1: id must be non-empty and contain only letters, digits and . _ - : / @ +"},
        ErrorCase{"unknown_operation",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: [fs.read, fs.raed]\n",
                  6, 27, "rule 'x': unknown operation 'fs.raed' (known: fs.read, fs.write, …"},
        ErrorCase{"unknown_family",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: ['file.*']\n",
                  6, 18, "rule 'x': unknown operation family 'file.*' (known: fs.*, process.*, net.*, util.*, cgroup.*)"},
        ErrorCase{"unknown_role_in_rule",
                  "version: 1\nroles: { reader: {} }\nrules:\n  - id: x\n    effect: allow\n    principals: ['role:raeder']\n"
                  "    operations: [fs.read]\n",
                  6, 18, "rule 'x': unknown role 'raeder' (defined roles: reader)"},
        ErrorCase{"role_used_as_principal",
                  "version: 1\nroles: { reader: {} }\nrules:\n  - id: x\n    effect: deny\n    principals: [reader]\n"
                  "    operations: [fs.read]\n",
                  6, 18, "rule 'x': 'reader' is a role, not a principal; write 'role:reader'"},
        ErrorCase{"bad_principal_pattern",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['rol:reader']\n    operations: [fs.read]\n",
                  5, 18, "rule 'x': principal 'rol:reader' is not valid; write a principal name, role:NAME or \"*\""},
        ErrorCase{"relative_path",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: [fs.read]\n"
                  "    resources: ['/ok/**', 'work/**']\n",
                  7, 27, "rule 'x': path pattern 'work/**' must be absolute (start with '/') or be '*' / '**'"},
        ErrorCase{"globstar_in_segment",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: [fs.read]\n"
                  "    resources: ['/work**']\n",
                  7, 17, "rule 'x': path pattern '/work**': '**' must be a whole segment (use '*' within a segment)"},
        ErrorCase{"bad_cidr",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: [net.connect]\n"
                  "    resources: ['10.0.0.0/33:*']\n",
                  7, 17, "rule 'x': endpoint pattern '10.0.0.0/33:*': prefix length must be a number from 0 to 32"},
        ErrorCase{"port_too_big",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: [net.connect]\n"
                  "    resources: ['127.0.0.1:80', '127.0.0.1:70000']\n",
                  7, 33,
                  "rule 'x': endpoint pattern '127.0.0.1:70000': port must be a number from 0 to 65535, a range LOW-HIGH, or '*'"},
        ErrorCase{"endpoint_without_port",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: [net.connect]\n"
                  "    resources: [localhost]\n",
                  7, 17, "rule 'x': endpoint pattern 'localhost': needs a port: …"},
        ErrorCase{"unknown_tool",
                  "version: 1\ntools: { git: /usr/bin/git }\nrules:\n  - id: x\n    effect: deny\n    principals: ['*']\n"
                  "    operations: [util.exec]\n    resources: [gti]\n",
                  8, 17, "rule 'x': tool 'gti' is not listed under 'tools' (defined: git)"},
        ErrorCase{"mixed_rule_bad_resource",
                  "version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: ['*']\n    operations: ['*']\n"
                  "    resources: ['127.0.0.1:99999']\n",
                  7, 17, "rule 'x': endpoint pattern '127.0.0.1:99999': port must be …"},
        // ---- tools, sandbox, limits
        ErrorCase{"tool_relative", "version: 1\ntools:\n  git: git\n", 3, 8,
                  "tool 'git': path must be absolute without '.' or '..', got 'git'"},
        ErrorCase{"tool_dotdot", "version: 1\ntools:\n  git: /usr/../bin/git\n", 3, 8,
                  "tool 'git': path must be absolute without '.' or '..', got '/usr/../bin/git'"},
        ErrorCase{"tool_bad_name", "version: 1\ntools:\n  'g/it': /usr/bin/git\n", 3, 3,
                  "tool name 'g/it' may contain only letters, digits, '.', '_', '-' and '+'"},
        ErrorCase{"tool_not_string", "version: 1\ntools:\n  git: [/usr/bin/git]\n", 3, 8,
                  "tool 'git' must be a string, got a list"},
        ErrorCase{"sandbox_unknown_key", "version: 1\nsandbox:\n  system_path: [/usr]\n", 3, 3,
                  "sandbox: unknown key 'system_path' (expected one of: system_paths)"},
        ErrorCase{"sandbox_relative", "version: 1\nsandbox:\n  system_paths: [/usr, lib]\n", 3, 24,
                  "sandbox: system path must be absolute without '.' or '..', got 'lib'"},
        ErrorCase{"limit_negative", "version: 1\nlimits:\n  max_processes: -1\n", 3, 18,
                  "limits: 'max_processes' must be a whole number (0 or more), got '-1'"},
        ErrorCase{"limit_unknown", "version: 1\nlimits:\n  max_files: 3\n", 3, 3,
                  "limits: unknown key 'max_files' (expected one of: max_open_files, max_processes, max_connections)"}),
    [](const ::testing::TestParamInfo<ErrorCase>& i) { return std::string(i.param.name); });

TEST(PolicyErrors, FileLevelErrorsHaveNoPosition) {
  const PolicyError e{"p.yaml", 0, 0, "cannot open: No such file or directory"};
  EXPECT_EQ(e.to_string(), "p.yaml: cannot open: No such file or directory");
}

TEST(PolicyErrors, ANulByteIsNamedWithItsPosition) {
  using namespace std::string_literals;
  // Before: "YAML syntax error: unknown escape character: " and a raw byte,
  // on the line after the NUL; or, inside a plain scalar, a rule id holding
  // the NUL.
  const std::string cases[][2] = {
      {"version: 1\n\0\nrules: []\n"s, "p.yaml:2:1: "},
      {"version: 1\nrules:\n  - id: a\0b\n"s, "p.yaml:3:10: "},
      {"\xef\xbb\xbfversion: 1\0\n"s, "p.yaml:1:14: "},  // after a UTF-8 byte order mark (its 3 bytes count)
  };
  for (const auto& [text, where] : cases) {
    const auto p = Policy::parse(text, "p.yaml");
    ASSERT_FALSE(p.has_value()) << where;
    EXPECT_EQ(p.error().to_string(), where + "a NUL byte: a policy file is YAML text, not a binary file");
  }
  // The two characters \0 in a double-quoted string are YAML's escape, not a NUL byte.
  const auto escaped = Policy::parse("version: 1\nmode: \"x\\0\"\n");
  ASSERT_FALSE(escaped.has_value());
  EXPECT_TRUE(escaped.error().message.starts_with("mode must be enforce or audit-only")) << escaped.error().to_string();
}

// The text in UTF-16 or UTF-32, little or big endian, with or without a
// byte order mark (ASCII input only).
std::string encode(std::string_view ascii, int width, bool little, bool bom) {
  std::string out;
  const auto put = [&](char32_t c) {
    for (int i = 0; i < width; ++i) out += static_cast<char>((c >> (8 * (little ? i : width - 1 - i))) & 0xff);
  };
  if (bom) put(0xfeff);
  for (const char c : ascii) put(static_cast<unsigned char>(c));
  return out;
}

TEST(PolicyErrors, Utf16AndUtf32PoliciesStillLoad) {
  // yaml-cpp decodes them; the NUL check must leave them alone.
  for (const int width : {2, 4}) {
    for (const bool little : {true, false}) {
      for (const bool bom : {true, false}) {
        const auto p = Policy::parse(encode("version: 1\nmode: enforce\n", width, little, bom), "p.yaml");
        EXPECT_TRUE(p.has_value()) << width << little << bom << ": " << p.error().to_string();
        const auto bad = Policy::parse(encode("version: 2\n", width, little, bom), "p.yaml");
        ASSERT_FALSE(bad.has_value());
        EXPECT_EQ(bad.error().to_string(), "p.yaml:1:10: unsupported version '2' (this build reads version 1)")
            << width << little << bom;
      }
    }
  }
}

TEST(PolicyErrors, LongValuesAreShownCut) {
  // A 500 KB mode, operation or rule id came back whole in the message
  // (outside probe, session 11): at most 64 bytes, then the length.
  const std::string big(500'000, 'v');
  const std::string cut = std::string(64, 'v') + "… (500000 bytes)";
  const std::string rule = "version: 1\nrules:\n  - id: r\n    effect: allow\n    principals: [a]\n";
  const std::pair<std::string, std::string> cases[] = {
      {"version: 1\nmode: " + big + "\n", "p.yaml:2:7: mode must be enforce or audit-only, got '" + cut + "'"},
      {"version: " + big + "\n", "p.yaml:1:10: unsupported version '" + cut + "' (this build reads version 1)"},
      {rule + "    operations: [" + big + "]\n    resources: [\"/x\"]\n",
       "p.yaml:6:18: rule 'r': unknown operation '" + cut + "' (known: …"},
      {"version: 1\nrules:\n  - id: " + big + "\n    effect: alow\n",
       "p.yaml:3:5: rule '" + cut + "': missing 'principals'"},
      {rule + "    operations: [fs.read]\n    resources: [" + big + "]\n",
       "p.yaml:7:17: rule 'r': path pattern '" + cut + "' must be absolute …"},
  };
  for (const auto& [text, want] : cases) {
    const auto p = Policy::parse(text, "p.yaml");
    ASSERT_FALSE(p.has_value()) << want;
    const std::string got = p.error().to_string();
    EXPECT_LT(got.size(), 1000U) << got.substr(0, 1000);
    if (want.ends_with("…")) {
      EXPECT_TRUE(got.starts_with(want.substr(0, want.size() - std::string("…").size()))) << got.substr(0, 1000);
    } else {
      EXPECT_EQ(got, want);
    }
  }
}

TEST(PolicyErrors, DefaultSourceName) {
  const auto p = Policy::parse("version: 3\n");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().to_string(), "<policy>:1:10: unsupported version '3' (this build reads version 1)");
}

}  // namespace
}  // namespace airssys::osl
