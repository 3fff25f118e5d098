#include "policy/yaml_reader.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <map>
#include <sstream>
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
      return "a string '" + n.Scalar() + "'";
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
      if (known.size() == 0) fail(kpos, what + ": unexpected key '" + k + "'");
      fail(kpos, what + ": unknown key '" + k + "' (expected one of: " + join(known) + ")");
    }
    if (const auto prev = seen.find(k); prev != seen.end()) {
      fail(kpos, what + ": duplicate key '" + k + "' (first at line " + std::to_string(prev->second.line) + ")");
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
      fail(kpos, what + ": '" + k + "' is defined twice (first at line " + std::to_string(prev->second.line) + ")");
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
    const std::string what = "role '" + name.value + "'";
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
    const std::string what = "principal '" + name.value + "'";
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
    what = "rule '" + id.Scalar() + "'";
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
    doc.tools.push_back(ToolDef{name, scalar(val, name.pos, "tool '" + name.value + "'")});
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
                   Located n = scalar(val, kpos, "limits: '" + k + "'");
                   if (k == "max_open_files") doc.max_open_files = std::move(n);
                   else if (k == "max_processes") doc.max_processes = std::move(n);
                   else doc.max_connections = std::move(n);
                 });
}

// Refuses deeply nested flow collections before yaml-cpp recurses into them.
// Deliberately crude (brackets inside quotes count too): a real policy never
// comes close to the limit, so a false alarm needs an absurd file.
void check_flow_nesting(std::string_view text) {
  int depth = 0;
  int line = 1;
  int column = 1;
  for (const char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > kMaxFlowNesting) {
        fail({line, column}, "collections nested deeper than " + std::to_string(kMaxFlowNesting) + " levels");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
}

// Records where documents start; builds nothing.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

SourcePos pos_of(const YAML::Mark& m) { return {m.line + 1, m.column + 1}; }

// A policy is one document. This walks at most two documents instead of
// using YAML::LoadAll: yaml-cpp 0.7 reports some stray characters (a ',' at
// the top level) as an endless series of empty documents at one position,
// and LoadAll then loops forever while its memory grows.
void check_single_document(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts docs;
  for (int i = 0; i < 2 && parser.HandleNextDocument(docs); ++i) {
  }
  if (docs.starts.size() < 2) return;
  const YAML::Mark& second = docs.starts[1];
  if (second.pos == docs.starts[0].pos) {
    const auto at = static_cast<std::size_t>(second.pos);
    fail(pos_of(second), at < text.size() ? std::string("YAML syntax error: unexpected '") + text[at] + "'"
                                          : std::string("YAML syntax error"));
  }
  fail(pos_of(second), "a policy file holds one YAML document; found another one here");
}

// Counts nodes as the reader will visit them (aliases once per use) and
// stops at the first node past kMaxPolicyNodes, so a file that expands to
// billions of nodes costs no more than one that expands to the limit.
void check_expanded_size(const YAML::Node& root) {
  std::size_t count = 0;
  std::vector<YAML::Node> pending{root};
  while (!pending.empty()) {
    const YAML::Node n = pending.back();
    pending.pop_back();
    if (++count > kMaxPolicyNodes) {
      fail(pos_of(n, {1, 1}), "the policy expands to more than " + std::to_string(kMaxPolicyNodes) +
                                  " YAML nodes (keys, values and list items; an alias counts again at every use): "
                                  "the limit is " + std::to_string(kMaxPolicyNodes));
    }
    if (n.IsSequence()) {
      for (const auto& item : n) pending.push_back(item);
    } else if (n.IsMap()) {
      for (const auto& entry : n) {
        pending.push_back(entry.first);
        pending.push_back(entry.second);
      }
    }
  }
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
  check_flow_nesting(text);
  try {
    const std::string copy(text);
    check_single_document(copy);
    const YAML::Node root = YAML::Load(copy);
    check_expanded_size(root);
    return read_document(root);
  } catch (const YAML::DeepRecursion& e) {
    fail({e.mark.line + 1, e.mark.column + 1}, "YAML nesting is too deep");
  } catch (const YAML::Exception& e) {
    const SourcePos pos = e.mark.is_null() ? SourcePos{} : SourcePos{e.mark.line + 1, e.mark.column + 1};
    fail(pos, "YAML syntax error: " + e.msg);
  }
}

}  // namespace airssys::osl::detail
