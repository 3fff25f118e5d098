#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <airssys/daemoneye/rule.hpp>
#include <airssys/osl/detail/shown_text.hpp>
#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include "rule_name.hpp"
#include "sigma.hpp"
#include "yaml_document.hpp"

namespace airssys::daemoneye {

std::string_view to_string(Severity s) noexcept {
  switch (s) {
    case Severity::low:
      return "low";
    case Severity::medium:
      return "medium";
    case Severity::high:
      return "high";
    case Severity::critical:
      return "critical";
  }
  return "medium";
}

namespace {

constexpr std::size_t kMaxRuleBytes = 1024 * 1024;
constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxTags = 64;
// Tags are copied into every alert, and YAML aliases let a 1 MiB file name
// one 900 KB string 64 times (57 MB per alert): bounded as Sigma's are.
constexpr std::size_t kMaxTagBytes = 64 * 1024;
// The dedup key holds each key column's value once per listed column; a
// list of 50,000 'pid's made every alert's key ~400 KB.
constexpr std::size_t kMaxKeyColumns = 16;
constexpr std::size_t kMaxColumnNameBytes = 128;
constexpr std::size_t kMaxKeyBytes = kMaxKeyColumns * kMaxColumnNameBytes;
constexpr std::array<std::string_view, 8> kKnownKeys{"description", "enabled", "id",       "key",
                                                     "name",        "query",   "severity", "tags"};

// Thrown inside this file only, caught in parse_rule: keeps each check one
// line.
struct RuleFault {
  std::optional<int> line;  // 1-based
  std::string message;
};

[[noreturn]] void fault(const YAML::Node& at, std::string message) {
  throw RuleFault{at.Mark().is_null() ? std::nullopt : std::optional<int>(at.Mark().line + 1),
                  std::move(message)};
}

std::string text(const YAML::Node& n, std::string_view key, bool allow_empty = false) {
  if (n.IsNull() && !allow_empty) fault(n, fmt::format("{} must not be empty", key));
  if (n.IsNull()) return {};
  if (!n.IsScalar()) fault(n, fmt::format("{} must be a string (got {})", key, detail::describe(n)));
  std::string s = n.Scalar();
  const bool blank = std::ranges::all_of(s, [](unsigned char c) { return std::isspace(c) != 0; });
  if (blank && !allow_empty) fault(n, fmt::format("{} must not be empty", key));
  return s;
}

bool is_id_char(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-'; }
bool is_ident(std::string_view s) {
  if (s.empty() || s.size() > kMaxColumnNameBytes) return false;
  if (std::isdigit(static_cast<unsigned char>(s[0])) != 0) return false;
  return std::ranges::all_of(s, [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
}

// The bounds are checked before each copy: YAML aliases let a 1 MiB file
// list one 400 KB string ~160,000 times (under the loader's 200,000-node
// bound), ~64 GB if every item were copied before the total was checked.
struct ListBounds {
  std::size_t max_items;
  std::string_view items;  // what the list holds, for the message: "tags", "columns"
  std::size_t max_bytes;
};

std::vector<std::string> string_list(const YAML::Node& n, std::string_view key, const ListBounds& bounds) {
  if (n.IsNull()) return {};
  if (!n.IsSequence())
    fault(n, fmt::format("{} must be a list, e.g. {}: [a, b] (got {})", key, key, detail::describe(n)));
  std::vector<std::string> out;
  std::size_t bytes = 0;
  for (const auto& item : n) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      fault(item, fmt::format("{} entries must be non-empty strings (got {})", key, detail::describe(item)));
    }
    if (out.size() == bounds.max_items) fault(n, fmt::format("{}: at most {} {}", key, bounds.max_items, bounds.items));
    bytes += item.Scalar().size();
    if (bytes > bounds.max_bytes) fault(n, fmt::format("{}: more than {} bytes in all", key, bounds.max_bytes));
    out.push_back(item.Scalar());
  }
  return out;
}

Severity severity_of(const YAML::Node& n) {
  const std::string s = text(n, "severity");
  std::string lower;
  for (unsigned char c : s) lower += static_cast<char>(std::tolower(c));
  for (Severity v : {Severity::low, Severity::medium, Severity::high, Severity::critical}) {
    if (lower == to_string(v)) return v;
  }
  fault(n, fmt::format("severity '{}' is not one of low, medium, high, critical", osl::detail::shown_text(s)));
}

bool bool_of(const YAML::Node& n, std::string_view key) {
  bool b = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) {
    fault(n, fmt::format("{} must be true or false (got {})", key, detail::describe(n)));
  }
  return b;
}

void parse_key(Rule& rule, const std::string& key, const YAML::Node& v) {
  if (key == "id") {
    rule.id = text(v, "id");
    if (rule.id.size() > kMaxIdBytes) fault(v, fmt::format("id is longer than {} characters", kMaxIdBytes));
    if (!std::ranges::all_of(rule.id, [](unsigned char c) { return is_id_char(c); })) {
      fault(v, fmt::format("id '{}' may contain only letters, digits, '_', '.' and '-'", osl::detail::shown_text(rule.id)));
    }
  } else if (key == "name") {
    rule.name = text(v, "name");
    if (const std::size_t chars = detail::name_chars(rule.name); chars > detail::kMaxRuleNameChars) {
      fault(v, fmt::format("name: {} characters; at most {} (it is the name in every alert)", chars,
                           detail::kMaxRuleNameChars));
    }
  } else if (key == "description") {
    rule.description = text(v, "description", /*allow_empty=*/true);
  } else if (key == "severity") {
    rule.severity = severity_of(v);
  } else if (key == "enabled") {
    rule.enabled = bool_of(v, "enabled");
  } else if (key == "tags") {
    rule.tags = string_list(v, "tags", {kMaxTags, "tags", kMaxTagBytes});
  } else if (key == "key") {
    rule.key_columns = string_list(v, "key", {kMaxKeyColumns, "columns", kMaxKeyBytes});
    if (rule.key_columns.empty())
      fault(v,
            "key must list at least one column (or be left out for pid, "
            "start_time)");
    for (const auto& c : rule.key_columns) {
      if (!is_ident(c)) fault(v, fmt::format("key column '{}' is not a column name", osl::detail::shown_text(c)));
      // SQL names ignore case: [pid, PID] names one column twice.
      const auto same = [&](const std::string& o) {
        return std::ranges::equal(o, c, [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); });
      };
      if (&*std::ranges::find_if(rule.key_columns, same) != &c)
        fault(v, fmt::format("key column '{}' is listed twice", c));
    }
  } else if (key == "query") {
    rule.query = text(v, "query");
    rule.query_line = v.Mark().is_null() ? 0 : v.Mark().line + 1;
  }
}

Rule parse_map(const YAML::Node& root) {
  if (!root.IsMap())
    fault(root, fmt::format("a rule must be a mapping of keys (id, name, "
                            "severity, query, ...), got {}",
                            detail::describe(root)));
  Rule rule;
  std::vector<std::string> seen;
  for (const auto& kv : root) {
    const YAML::Node& k = kv.first;
    const YAML::Node& v = kv.second;
    if (!k.IsScalar()) fault(k, fmt::format("keys must be plain words (got {})", detail::describe(k)));
    const std::string key = k.Scalar();
    if (std::ranges::find(kKnownKeys, key) == kKnownKeys.end()) {
      fault(k, fmt::format("unknown key '{}' (known: description, enabled, id, "
                           "key, name, query, severity, tags)",
                           osl::detail::shown_text(key)));
    }
    if (std::ranges::find(seen, key) != seen.end()) fault(k, fmt::format("duplicate key '{}'", osl::detail::shown_text(key)));
    seen.push_back(key);
    try {
      parse_key(rule, key, v);
    } catch (RuleFault& f) {
      // An empty value has no position of its own (yaml-cpp marks the next
      // token): report the key's line.
      if (v.IsNull() || !f.line) f.line = k.Mark().line + 1;
      throw;
    }
  }
  std::vector<std::string_view> missing;
  for (std::string_view required : {"id", "name", "severity", "query"}) {
    if (std::ranges::find(seen, required) == seen.end()) missing.push_back(required);
  }
  if (!missing.empty()) {
    throw RuleFault{std::nullopt, fmt::format("missing required key{} {}", missing.size() > 1 ? "s" : "",
                                              fmt::join(missing, ", "))};
  }
  return rule;
}

RuleError make_error(const std::filesystem::path& source, std::optional<int> line, std::string_view message) {
  // The file's name from readdir, shown escaped and cut (a cloned rule
  // repository can name a file with an escape sequence).
  const std::string file = osl::detail::shown_path(source.native());
  return RuleError{source, line ? fmt::format("{}:{}: {}", file, *line, message) : fmt::format("{}: {}", file, message)};
}

}  // namespace

std::expected<Rule, RuleError> parse_rule(std::string_view yaml, const std::filesystem::path& source) {
  if (yaml.size() > kMaxRuleBytes) {
    return std::unexpected(
        make_error(source, std::nullopt, fmt::format("larger than 1 MiB ({} bytes)", yaml.size())));
  }
  // yaml-cpp's exceptions: load_yaml_document catches the parser's, the
  // catch below whatever node access may still throw.
  auto root = detail::load_yaml_document(yaml, kMaxRuleBytes, "a rule file");
  if (!root) {
    return std::unexpected(
        make_error(source, root.error().line > 0 ? std::optional<int>(root.error().line) : std::nullopt,
                   root.error().message));
  }
  if (root->IsNull())
    return std::unexpected(make_error(source, std::nullopt, "empty file (expected one rule)"));
  try {
    if (sigma::looks_like_sigma(*root)) return sigma::parse_sigma_rule(*root, source);
    Rule rule = parse_map(*root);
    rule.file = source;
    return rule;
  } catch (const RuleFault& f) {
    return std::unexpected(make_error(source, f.line, f.message));
  } catch (const YAML::Exception& e) {
    return std::unexpected(make_error(source,
                                      e.mark.is_null() ? std::nullopt : std::optional<int>(e.mark.line + 1),
                                      fmt::format("invalid YAML: {}", e.msg)));
  } catch (const std::exception& e) {
    return std::unexpected(make_error(source, std::nullopt, fmt::format("cannot parse: {}", e.what())));
  }
}

}  // namespace airssys::daemoneye
