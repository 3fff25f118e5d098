#include "policy/policy_compiler.hpp"

#include <airssys/osl/detail/shown_text.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <limits>
#include <set>
#include <utility>

#include "policy/glob.hpp"
#include "policy/policy_failure.hpp"

namespace airssys::osl::detail {

namespace {

bool is_alnum(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool all_of(std::string_view s, bool (*ok)(char)) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), ok);
}

bool role_char(char c) noexcept { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }
bool principal_char(char c) noexcept { return role_char(c) || c == '@' || c == '+'; }
bool tool_char(char c) noexcept { return role_char(c) || c == '+'; }
bool tool_pattern_char(char c) noexcept { return tool_char(c) || c == '*' || c == '?'; }
bool env_name_char(char c) noexcept { return is_alnum(c) || c == '_'; }

// NAME, PREFIX* or "*": what an `env` list may hold.
bool valid_env_pattern(std::string_view s) noexcept {
  if (s == "*") return true;
  if (s.ends_with('*')) s.remove_suffix(1);
  return all_of(s, env_name_char) && !(s.front() >= '0' && s.front() <= '9');
}

bool rule_id_char(char c) noexcept { return role_char(c) || c == ':' || c == '/' || c == '@' || c == '+'; }

std::string quoted_list(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string known_operations() {
  std::string out;
  for (const OpKind k : kAllOpKinds) {
    out += to_string(k);
    out += ", ";
  }
  return out + "fs.*, process.*, net.*, util.*, cgroup.*, *";
}

std::string_view family_of(OpKind k) noexcept {
  const std::string_view name = to_string(k);
  return name.substr(0, name.find('.'));
}

std::optional<OpMask> family_mask(std::string_view family) noexcept {
  OpMask m = 0;
  for (const OpKind k : kAllOpKinds) {
    if (family_of(k) == family) m = static_cast<OpMask>(m | op_bit(k));
  }
  return m == 0 ? std::nullopt : std::optional<OpMask>(m);
}

bool is_absolute_clean(std::string_view p) noexcept {
  if (p.empty() || p.front() != '/' || p.find('\0') != std::string_view::npos) return false;
  std::size_t pos = 1;
  while (pos <= p.size()) {
    const std::size_t slash = std::min(p.find('/', pos), p.size());
    const std::string_view seg = p.substr(pos, slash - pos);
    if (seg == "." || seg == "..") return false;
    pos = slash + 1;
  }
  return true;
}

class Compiler {
 public:
  explicit Compiler(const PolicyDocument& doc) : doc_(doc) {}

  CompiledPolicy run() {
    out_.system_paths = default_system_paths();
    out_.role_words = 1;
    if (doc_.empty) return std::move(out_);
    header();
    roles();
    principals();
    tools();
    identities();
    rules();
    deny_masks();
    sandbox();
    limits();
    return std::move(out_);
  }

 private:
  void header() {
    if (!doc_.version) fail(doc_.pos, "missing 'version: 1'");
    if (doc_.version->value != "1") {
      fail(doc_.version->pos, "unsupported version '" + shown_text(doc_.version->value) + "' (this build reads version 1)");
    }
    if (doc_.mode) {
      if (doc_.mode->value == "enforce") out_.mode = EnforcementMode::enforce;
      else if (doc_.mode->value == "audit-only") out_.mode = EnforcementMode::audit_only;
      else fail(doc_.mode->pos, "mode must be enforce or audit-only, got '" + shown_text(doc_.mode->value) + "'");
    }
  }

  // ---- roles ---------------------------------------------------------------

  void roles() {
    if (doc_.roles.size() > kMaxRoles) {
      fail(doc_.roles[kMaxRoles].name.pos, "too many roles (the limit is " + std::to_string(kMaxRoles) + ")");
    }
    for (const auto& r : doc_.roles) {
      if (!all_of(r.name.value, role_char)) {
        fail(r.name.pos, "role name '" + shown_text(r.name.value) + "' may contain only letters, digits, '.', '_' and '-'");
      }
      role_index_.emplace(r.name.value, static_cast<std::uint32_t>(out_.role_names.size()));
      out_.role_names.push_back(r.name.value);
    }
    out_.role_words = std::max<std::size_t>(1, (out_.role_names.size() + 63) / 64);
    for (const auto& r : doc_.roles) out_.role_env.push_back(env_list(r.env, "role '" + shown_text(r.name.value) + "'"));
    for (const auto& r : doc_.roles) {
      for (const auto& parent : r.inherits) {
        if (!role_index_.contains(parent.value)) {
          fail(parent.pos, "role '" + shown_text(r.name.value) + "' inherits unknown role '" + shown_text(parent.value) +
                               "' (defined roles: " + quoted_list(out_.role_names) + ")");
        }
      }
    }
    expand_roles();
  }

  std::uint32_t role_id(const std::string& name) const { return role_index_.at(name); }

  // Depth-first over `inherits` with an explicit stack (no recursion on
  // input-controlled depth). A grey role met again closes a cycle. A role's
  // closure (itself plus everything it inherits) is final when it turns black.
  void expand_roles() {
    const std::size_t n = out_.role_names.size();
    const std::size_t w = out_.role_words;
    closure_.assign(n * w, 0);
    enum : std::uint8_t { white, grey, black };
    std::vector<std::uint8_t> colour(n, white);
    struct Frame {
      std::uint32_t role;
      std::size_t next;
    };
    std::vector<Frame> stack;
    for (std::uint32_t root = 0; root < n; ++root) {
      if (colour[root] != white) continue;
      colour[root] = grey;
      stack.push_back({root, 0});
      while (!stack.empty()) {
        Frame& top = stack.back();
        const auto& parents = doc_.roles[top.role].inherits;
        if (top.next < parents.size()) {
          const Located& edge = parents[top.next++];
          const std::uint32_t p = role_id(edge.value);
          if (colour[p] == grey) report_cycle(stack, p, edge);
          if (colour[p] == white) {
            colour[p] = grey;
            stack.push_back({p, 0});
          }
          continue;
        }
        const std::uint32_t r = top.role;
        closure_[r * w + r / 64] |= std::uint64_t{1} << (r % 64);
        for (const auto& edge : parents) {
          const std::uint32_t p = role_id(edge.value);
          for (std::size_t i = 0; i < w; ++i) closure_[r * w + i] |= closure_[p * w + i];
        }
        colour[r] = black;
        stack.pop_back();
      }
    }
  }

  template <class Stack>
  [[noreturn]] void report_cycle(const Stack& stack, std::uint32_t again, const Located& edge) const {
    std::string path;
    bool on = false;
    for (const auto& f : stack) {
      on = on || f.role == again;
      if (on) path += out_.role_names[f.role] + " -> ";
    }
    fail(edge.pos, "role inheritance cycle: " + path + out_.role_names[again]);
  }

  // ---- environment allowlists ---------------------------------------------

  static std::vector<std::string> env_list(const std::vector<Located>& items, const std::string& owner) {
    std::vector<std::string> out;
    for (const auto& e : items) {
      if (!valid_env_pattern(e.value)) {
        fail(e.pos, owner + ": env entry '" + shown_text(e.value) +
                        "' must be a variable name (letters, digits, '_'), a prefix ending in '*', or \"*\"");
      }
      out.push_back(e.value);
    }
    return out;
  }

  // ---- principals and identities -------------------------------------------

  void principals() {
    for (const auto& p : doc_.principals) {
      if (!all_of(p.name.value, principal_char)) {
        fail(p.name.pos, "principal name '" + shown_text(p.name.value) +
                             "' may contain only letters, digits, '.', '_', '-', '@' and '+'");
      }
      for (const auto& r : p.roles) {
        if (!role_index_.contains(r.value)) {
          fail(r.pos, "principal '" + shown_text(p.name.value) + "': unknown role '" + shown_text(r.value) + "' (defined roles: " +
                          quoted_list(out_.role_names) + ")");
        }
      }
      defined_principals_.insert(p.name.value);
    }
  }

  std::string rule_label(const RuleDef& r) const {
    return r.id.value.empty() ? "rule #" + std::to_string(r.index) : "rule '" + shown_text(r.id.value) + "'";
  }

  // Every principal name the policy mentions becomes an identity; names only
  // used in rules hold no roles.
  void identities() {
    std::set<std::string, std::less<>> names(defined_principals_.begin(), defined_principals_.end());
    for (const auto& rule : doc_.rules) {
      for (const auto& p : rule.principals) {
        if (p.value == "*" || p.value.starts_with("role:")) continue;
        if (!all_of(p.value, principal_char)) {
          fail(p.pos, rule_label(rule) + ": principal '" + shown_text(p.value) +
                          "' is not valid; write a principal name, role:NAME or \"*\"");
        }
        if (!defined_principals_.contains(p.value) && role_index_.contains(p.value)) {
          fail(p.pos, rule_label(rule) + ": '" + shown_text(p.value) + "' is a role, not a principal; write 'role:" + shown_text(p.value) + "'");
        }
        names.insert(p.value);
      }
    }
    out_.identity_names.assign(names.begin(), names.end());
    const std::size_t w = out_.role_words;
    out_.identity_roles.assign(out_.identity_names.size() * w, 0);
    out_.identity_env.assign(out_.identity_names.size(), {});
    for (const auto& p : doc_.principals) {
      const std::uint32_t id = *out_.find_identity(p.name.value);
      out_.identity_env[id] = env_list(p.env, "principal '" + shown_text(p.name.value) + "'");
      for (const auto& r : p.roles) {
        const std::uint32_t rid = role_id(r.value);
        for (std::size_t i = 0; i < w; ++i) out_.identity_roles[id * w + i] |= closure_[rid * w + i];
      }
    }
  }

  // ---- tools ---------------------------------------------------------------

  void tools() {
    for (const auto& t : doc_.tools) {
      if (!all_of(t.name.value, tool_char)) {
        fail(t.name.pos, "tool name '" + shown_text(t.name.value) + "' may contain only letters, digits, '.', '_', '-' and '+'");
      }
      if (!is_absolute_clean(t.path.value)) {
        fail(t.path.pos, "tool '" + shown_text(t.name.value) + "': path must be absolute without '.' or '..', got '" +
                             shown_text(t.path.value) + "'");
      }
      out_.tools.emplace(t.name.value, t.path.value);
    }
  }

  // ---- rules ---------------------------------------------------------------

  void rules() {
    std::map<std::string, SourcePos, std::less<>> ids;
    for (const auto& def : doc_.rules) {
      CompiledRule rule;
      const std::string label = rule_label(def);
      if (!all_of(def.id.value, rule_id_char)) {
        fail(def.id.pos, label + ": id must be non-empty and contain only letters, digits and . _ - : / @ +");
      }
      if (const auto prev = ids.find(def.id.value); prev != ids.end()) {
        fail(def.id.pos, "duplicate rule id '" + shown_text(def.id.value) + "' (first at line " + std::to_string(prev->second.line) + ")");
      }
      ids.emplace(def.id.value, def.id.pos);
      rule.id = def.id.value;

      if (def.effect.value == "allow") rule.deny = false;
      else if (def.effect.value == "deny") rule.deny = true;
      else fail(def.effect.pos, label + ": effect must be allow or deny, got '" + shown_text(def.effect.value) + "'");

      rule_principals(def, label, rule);
      rule_operations(def, label, rule);
      rule_resources(def, label, rule);

      const auto index = static_cast<std::uint32_t>(out_.rules.size());
      for (const OpKind k : kAllOpKinds) {
        if (!(rule.ops & op_bit(k))) continue;
        const auto ki = static_cast<std::size_t>(k);
        (rule.deny ? out_.deny_by_op : out_.allow_by_op)[ki].push_back(index);
        if (resource_kind(k) != ResourceKind::path) continue;
        PathRuleIndex& idx = (rule.deny ? out_.deny_paths : out_.allow_paths)[ki];
        if (rule.any_resource) idx.add_always(index);
        for (const auto& g : rule.paths) idx.add(g.index_prefix(), index);
      }
      out_.rules.push_back(std::move(rule));
    }
  }

  // The same masks as asking rule_applies_to for every deny rule and
  // identity, in time linear in the policy: "*" rules once, named rules over
  // the identities they name, role rules through a mask per role that each
  // identity ORs over the denied roles it holds (at most kMaxRoles).
  void deny_masks() {
    OpMask for_anyone = 0;
    std::vector<OpMask> by_role(out_.role_names.size(), 0);
    out_.identity_deny_ops.assign(out_.identity_names.size(), 0);
    for (const CompiledRule& r : out_.rules) {
      if (!r.deny) continue;
      if (r.any_principal) for_anyone |= r.ops;
      for (const std::uint32_t id : r.identities) out_.identity_deny_ops[id] |= r.ops;
      for (std::size_t w = 0; w < r.role_bits.size(); ++w) {
        for (std::uint64_t bits = r.role_bits[w]; bits != 0; bits &= bits - 1) {
          by_role[w * 64 + static_cast<std::size_t>(std::countr_zero(bits))] |= r.ops;
        }
      }
    }
    std::vector<std::uint32_t> denied_roles;
    for (std::uint32_t role = 0; role < by_role.size(); ++role) {
      if (by_role[role] != 0) denied_roles.push_back(role);
    }
    out_.anonymous_deny_ops = for_anyone;
    for (std::uint32_t id = 0; id < out_.identity_deny_ops.size(); ++id) {
      OpMask& m = out_.identity_deny_ops[id];
      m |= for_anyone;
      for (const std::uint32_t role : denied_roles) {
        if (out_.identity_has_role(id, role)) m |= by_role[role];
      }
    }
  }

  void rule_principals(const RuleDef& def, const std::string& label, CompiledRule& rule) const {
    for (const auto& p : def.principals) {
      if (p.value == "*") {
        rule.any_principal = true;
      } else if (p.value.starts_with("role:")) {
        const std::string name = p.value.substr(5);
        const auto it = role_index_.find(name);
        if (it == role_index_.end()) {
          fail(p.pos, label + ": unknown role '" + shown_text(name) + "' (defined roles: " + quoted_list(out_.role_names) + ")");
        }
        rule.role_bits.resize(out_.role_words, 0);
        rule.role_bits[it->second / 64] |= std::uint64_t{1} << (it->second % 64);
      } else {
        rule.identities.push_back(*out_.find_identity(p.value));
      }
    }
    std::sort(rule.identities.begin(), rule.identities.end());
    rule.identities.erase(std::unique(rule.identities.begin(), rule.identities.end()), rule.identities.end());
  }

  static void rule_operations(const RuleDef& def, const std::string& label, CompiledRule& rule) {
    for (const auto& o : def.operations) {
      const std::string_view op = o.value;
      if (op == "*") {
        rule.ops = static_cast<OpMask>((std::uint64_t{1} << kOpKindCount) - 1);
      } else if (op.ends_with(".*")) {
        const auto m = family_mask(op.substr(0, op.size() - 2));
        if (!m) fail(o.pos, label + ": unknown operation family '" + shown_text(o.value) + "' (known: fs.*, process.*, net.*, util.*, cgroup.*)");
        rule.ops = static_cast<OpMask>(rule.ops | *m);
      } else if (const auto k = parse_op_kind(op)) {
        rule.ops = static_cast<OpMask>(rule.ops | op_bit(*k));
      } else {
        fail(o.pos, label + ": unknown operation '" + shown_text(o.value) + "' (known: " + known_operations() + ")");
      }
    }
  }

  void rule_resources(const RuleDef& def, const std::string& label, CompiledRule& rule) const {
    if (!def.resources) {
      rule.any_resource = true;
      return;
    }
    bool wants_path = false;
    bool wants_endpoint = false;
    bool wants_tool = false;
    for (const OpKind k : kAllOpKinds) {
      if (!(rule.ops & op_bit(k))) continue;
      switch (resource_kind(k)) {
        case ResourceKind::path: wants_path = true; break;
        case ResourceKind::endpoint: wants_endpoint = true; break;
        case ResourceKind::tool: wants_tool = true; break;
      }
    }
    for (const auto& res : *def.resources) {
      const std::string& text = res.value;
      if (text == "*" || text == "**") {
        rule.any_resource = true;
        continue;
      }
      std::string path_error;
      std::string endpoint_error;
      std::string tool_error;
      bool used = false;
      if (wants_path) {
        if (auto g = PathGlob::compile(text)) {
          rule.paths.push_back(std::move(*g));
          used = true;
        } else {
          path_error = g.error();
        }
      }
      if (wants_endpoint) {
        if (auto e = EndpointPattern::compile(text)) {
          rule.endpoints.push_back(std::move(*e));
          used = true;
        } else {
          endpoint_error = e.error();
        }
      }
      if (wants_tool) {
        if (!all_of(text, tool_pattern_char)) {
          tool_error = "tool pattern '" + shown_text(text) + "' may contain only letters, digits, '.', '_', '-', '+', '*' and '?'";
        } else if (!has_glob_chars(text) && !out_.tools.contains(text)) {
          std::vector<std::string> defined;
          for (const auto& [name, path] : out_.tools) defined.push_back(name);
          fail(res.pos, label + ": tool '" + shown_text(text) + "' is not listed under 'tools' (defined: " + quoted_list(defined) + ")");
        } else {
          rule.tools.push_back(text);
          used = true;
        }
      }
      if (used) continue;
      // Not valid for any of the rule's operations: report the reading the
      // author most likely meant.
      std::string why;
      if (text.starts_with('/') && !path_error.empty()) why = path_error;
      else if (text.find(':') != std::string::npos && !endpoint_error.empty()) why = endpoint_error;
      else if (!tool_error.empty()) why = tool_error;
      else if (!path_error.empty()) why = path_error;
      else why = endpoint_error;
      fail(res.pos, label + ": " + why);
    }
  }

  // ---- sandbox and limits --------------------------------------------------

  void sandbox() {
    if (!doc_.system_paths) return;
    out_.system_paths.clear();
    for (const auto& p : *doc_.system_paths) {
      if (!is_absolute_clean(p.value)) {
        fail(p.pos, "sandbox: system path must be absolute without '.' or '..', got '" + shown_text(p.value) + "'");
      }
      if (std::find(out_.system_paths.begin(), out_.system_paths.end(), p.value) == out_.system_paths.end()) {
        out_.system_paths.push_back(p.value);
      }
    }
  }

  static std::optional<std::size_t> count(const std::optional<Located>& v, std::string_view key) {
    if (!v) return std::nullopt;
    const std::string& s = v->value;
    std::size_t n = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) {
      fail(v->pos, "limits: '" + std::string(key) + "' must be a whole number (0 or more), got '" + shown_text(s) + "'");
    }
    return n;
  }

  void limits() {
    out_.limits.max_open_files = count(doc_.max_open_files, "max_open_files");
    out_.limits.max_processes = count(doc_.max_processes, "max_processes");
    out_.limits.max_connections = count(doc_.max_connections, "max_connections");
  }

  const PolicyDocument& doc_;
  CompiledPolicy out_;
  std::map<std::string, std::uint32_t, std::less<>> role_index_;
  std::vector<std::uint64_t> closure_;  // per role: itself and everything it inherits
  std::set<std::string, std::less<>> defined_principals_;
};

}  // namespace

CompiledPolicy compile_policy(const PolicyDocument& doc) { return Compiler(doc).run(); }

}  // namespace airssys::osl::detail
