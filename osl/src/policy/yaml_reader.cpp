#include "policy/yaml_reader.hpp"

#include <airssys/osl/detail/yaml_load.hpp>
#include <airssys/osl/detail/shown_text.hpp>

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "policy/policy_failure.hpp"

namespace airssys::osl::detail {

namespace {

SourcePos pos_of(const YAML::Node& n, SourcePos fallback) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0 || m.column < 0) return fallback;
  return {m.line + 1, m.column + 1};
}

std::string type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return "a string '" + shown_text(n.Scalar()) + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined node";
  }
}

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (const auto w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

// Visits the entries of a mapping in file order after checking that every key
// is a string, is one of `known`, and appears once. `what` names the mapping
// in messages ("the top level", "rule 'x'", ...).
template <class F>
void for_each_entry(const YAML::Node& map, SourcePos map_pos, const std::string& what,
                    std::initializer_list<std::string_view> known, F&& f) {
  std::map<std::string, SourcePos, std::less<>> seen;
  for (const auto& entry : map) {  // `entry` lives for the body; it->first would dangle
    const YAML::Node key = entry.first;
    const SourcePos kpos = pos_of(key, map_pos);
    if (!key.IsScalar()) fail(kpos, what + ": keys must be plain strings, got " + type_name(key));
    const std::string& k = key.Scalar();
    bool ok = false;
    for (const auto name : known) ok = ok || name == k;
    if (!ok) {
      if (known.size() == 0) fail(kpos, what + ": unexpected key '" + shown_text(k) + "'");
      fail(kpos, what + ": unknown key '" + shown_text(k) + "' (expected one of: " + join(known) + ")");
    }
    if (const auto prev = seen.find(k); prev != seen.end()) {
      fail(kpos, what + ": duplicate key '" + shown_text(k) + "' (first at line " + std::to_string(prev->second.line) + ")");
    }
    seen.emplace(k, kpos);
    f(k, kpos, entry.second);
  }
}

// Visits a mapping whose keys are names chosen by the author (roles,
// principals, tools): keys must be strings and unique.
template <class F>
void for_each_named(const YAML::Node& map, SourcePos map_pos, const std::string& what, F&& f) {
  std::map<std::string, SourcePos, std::less<>> seen;
  for (const auto& entry : map) {  // `entry` lives for the body; it->first would dangle
    const YAML::Node key = entry.first;
    const SourcePos kpos = pos_of(key, map_pos);
    if (!key.IsScalar()) fail(kpos, what + ": names must be plain strings, got " + type_name(key));
    const std::string& k = key.Scalar();
    if (const auto prev = seen.find(k); prev != seen.end()) {
      fail(kpos, what + ": '" + shown_text(k) + "' is defined twice (first at line " + std::to_string(prev->second.line) + ")");
    }
    seen.emplace(k, kpos);
    f(Located{k, kpos}, entry.second);
  }
}

void expect_map_or_null(const YAML::Node& v, SourcePos pos, const std::string& what) {
  if (!v.IsMap() && !v.IsNull()) fail(pos_of(v, pos), what + " must be a mapping, got " + type_name(v));
}

Located scalar(const YAML::Node& v, SourcePos key_pos, const std::string& what) {
  if (!v.IsScalar()) fail(v.IsNull() ? key_pos : pos_of(v, key_pos), what + " must be a string, got " + type_name(v));
  return Located{v.Scalar(), pos_of(v, key_pos)};
}

std::vector<Located> scalar_list(const YAML::Node& v, SourcePos key_pos, const std::string& what) {
  std::vector<Located> out;
  if (v.IsNull()) return out;
  if (!v.IsSequence()) fail(pos_of(v, key_pos), what + " must be a list, got " + type_name(v));
  const SourcePos list_pos = pos_of(v, key_pos);
  for (const auto& item : v) {
    const SourcePos ipos = pos_of(item, list_pos);
    if (!item.IsScalar()) fail(ipos, what + ": every entry must be a string, got " + type_name(item));
    out.push_back(Located{item.Scalar(), ipos});
  }
  return out;
}

std::vector<Located> nonempty_list(const YAML::Node& v, SourcePos key_pos, const std::string& what,
                                   std::string_view hint = {}) {
  auto out = scalar_list(v, key_pos, what);
  if (out.empty()) fail(v.IsNull() ? key_pos : pos_of(v, key_pos), what + " must not be empty" + std::string(hint));
  return out;
}

void read_roles(const YAML::Node& v, SourcePos pos, PolicyDocument& doc) {
  expect_map_or_null(v, pos, "'roles'");
  if (v.IsNull()) return;
  for_each_named(v, pos_of(v, pos), "roles", [&](Located name, const YAML::Node& body) {
    const std::string what = "role '" + shown_text(name.value) + "'";
    expect_map_or_null(body, body.IsNull() ? name.pos : pos_of(body, name.pos), what);
    RoleDef role{name, {}};
    if (body.IsMap()) {
      for_each_entry(body, pos_of(body, name.pos), what, {"inherits", "description", "env"},
                     [&](const std::string& k, SourcePos kpos, const YAML::Node& val) {
                       if (k == "inherits") role.inherits = scalar_list(val, kpos, what + ": 'inherits'");
                       else if (k == "env") role.env = scalar_list(val, kpos, what + ": 'env'");
                       else (void)scalar(val, kpos, what + ": 'description'");
                     });
    }
    doc.roles.push_back(std::move(role));
  });
}

void read_principals(const YAML::Node& v, SourcePos pos, PolicyDocument& doc) {
  expect_map_or_null(v, pos, "'principals'");
  if (v.IsNull()) return;
  for_each_named(v, pos_of(v, pos), "principals", [&](Located name, const YAML::Node& body) {
    const std::string what = "principal '" + shown_text(name.value) + "'";
    expect_map_or_null(body, body.IsNull() ? name.pos : pos_of(body, name.pos), what);
    PrincipalDef p{name, {}};
    if (body.IsMap()) {
      for_each_entry(body, pos_of(body, name.pos), what, {"roles", "description", "env"},
                     [&](const std::string& k, SourcePos kpos, const YAML::Node& val) {
                       if (k == "roles") p.roles = scalar_list(val, kpos, what + ": 'roles'");
                       else if (k == "env") p.env = scalar_list(val, kpos, what + ": 'env'");
                       else (void)scalar(val, kpos, what + ": 'description'");
                     });
    }
    doc.principals.push_back(std::move(p));
  });
}

void read_rule(const YAML::Node& v, SourcePos pos, int index, PolicyDocument& doc) {
  std::string what = "rule #" + std::to_string(index);
  if (!v.IsMap()) fail(pos, what + " must be a mapping (id, effect, principals, operations, resources), got " + type_name(v));
  // Name the rule by its id in every later message, wherever the id appears.
  if (const YAML::Node id = v["id"]; id && id.IsScalar() && !id.Scalar().empty()) {
    what = "rule '" + shown_text(id.Scalar()) + "'";
  }
  RuleDef rule;
  rule.pos = pos;
  rule.index = index;
  bool has_id = false;
  bool has_effect = false;
  bool has_principals = false;
  bool has_operations = false;
  for_each_entry(v, pos, what, {"id", "description", "effect", "principals", "operations", "resources"},
                 [&](const std::string& k, SourcePos kpos, const YAML::Node& val) {
                   if (k == "id") {
                     rule.id = scalar(val, kpos, what + ": 'id'");
                     has_id = true;
                   } else if (k == "effect") {
                     rule.effect = scalar(val, kpos, what + ": 'effect'");
                     has_effect = true;
                   } else if (k == "principals") {
                     rule.principals = nonempty_list(val, kpos, what + ": 'principals'");
                     has_principals = true;
                   } else if (k == "operations") {
                     rule.operations = nonempty_list(val, kpos, what + ": 'operations'");
                     has_operations = true;
                   } else if (k == "resources") {
                     rule.resources = nonempty_list(val, kpos, what + ": 'resources'",
                                                    " (leave the key out to match any resource)");
                   } else {
                     (void)scalar(val, kpos, what + ": 'description'");
                   }
                 });
  if (!has_id) fail(pos, what + ": missing 'id'");
  if (!has_effect) fail(pos, what + ": missing 'effect' (allow or deny)");
  if (!has_principals) fail(pos, what + ": missing 'principals'");
  if (!has_operations) fail(pos, what + ": missing 'operations'");
  doc.rules.push_back(std::move(rule));
}

void read_rules(const YAML::Node& v, SourcePos pos, PolicyDocument& doc) {
  if (v.IsNull()) return;
  if (!v.IsSequence()) fail(pos_of(v, pos), "'rules' must be a list of rules, got " + type_name(v));
  const SourcePos list_pos = pos_of(v, pos);
  int index = 0;
  for (const auto& item : v) read_rule(item, pos_of(item, list_pos), ++index, doc);
}

void read_tools(const YAML::Node& v, SourcePos pos, PolicyDocument& doc) {
  expect_map_or_null(v, pos, "'tools'");
  if (v.IsNull()) return;
  for_each_named(v, pos_of(v, pos), "tools", [&](Located name, const YAML::Node& val) {
    doc.tools.push_back(ToolDef{name, scalar(val, name.pos, "tool '" + shown_text(name.value) + "'")});
  });
}

void read_sandbox(const YAML::Node& v, SourcePos pos, PolicyDocument& doc) {
  expect_map_or_null(v, pos, "'sandbox'");
  if (v.IsNull()) return;
  for_each_entry(v, pos_of(v, pos), "sandbox", {"system_paths"},
                 [&](const std::string&, SourcePos kpos, const YAML::Node& val) {
                   doc.system_paths = scalar_list(val, kpos, "sandbox: 'system_paths'");
                 });
}

void read_limits(const YAML::Node& v, SourcePos pos, PolicyDocument& doc) {
  expect_map_or_null(v, pos, "'limits'");
  if (v.IsNull()) return;
  for_each_entry(v, pos_of(v, pos), "limits", {"max_open_files", "max_processes", "max_connections"},
                 [&](const std::string& k, SourcePos kpos, const YAML::Node& val) {
                   Located n = scalar(val, kpos, "limits: '" + shown_text(k) + "'");
                   if (k == "max_open_files") doc.max_open_files = std::move(n);
                   else if (k == "max_processes") doc.max_processes = std::move(n);
                   else doc.max_connections = std::move(n);
                 });
}

PolicyDocument read_document(const YAML::Node& root) {
  PolicyDocument doc;
  if (!root || root.IsNull()) return doc;
  const SourcePos pos = pos_of(root, {1, 1});
  if (!root.IsMap()) fail(pos, "a policy must be a mapping (version, roles, principals, rules, ...), got " + type_name(root));
  doc.empty = false;
  doc.pos = pos;
  for_each_entry(root, pos, "policy", {"version", "mode", "roles", "principals", "rules", "tools", "sandbox", "limits"},
                 [&](const std::string& k, SourcePos kpos, const YAML::Node& val) {
                   if (k == "version") doc.version = scalar(val, kpos, "'version'");
                   else if (k == "mode") doc.mode = scalar(val, kpos, "'mode'");
                   else if (k == "roles") read_roles(val, kpos, doc);
                   else if (k == "principals") read_principals(val, kpos, doc);
                   else if (k == "rules") read_rules(val, kpos, doc);
                   else if (k == "tools") read_tools(val, kpos, doc);
                   else if (k == "sandbox") read_sandbox(val, kpos, doc);
                   else read_limits(val, kpos, doc);
                 });
  return doc;
}

}  // namespace

PolicyDocument read_policy_yaml(std::string_view text) {
  if (text.size() > kMaxPolicyBytes) {
    fail({}, "policy is " + std::to_string(text.size()) + " bytes; the limit is " + std::to_string(kMaxPolicyBytes));
  }
  auto root = yaml::load_document(text, {.max_nodes = kMaxPolicyNodes, .max_flow_nesting = kMaxFlowNesting}, "a policy file");
  if (!root) fail({root.error().line, root.error().column}, root.error().message);
  return read_document(*root);
}

}  // namespace airssys::osl::detail
