// Sigma translation (sigma.hpp): a Sigma rule document → a Rule whose
// query is one SELECT over process_events.

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>

#include <algorithm>
#include <cctype>
#include <set>

#include "rule_name.hpp"
#include "sigma.hpp"
#include "yaml_document.hpp"

namespace airssys::daemoneye::sigma {

namespace {

constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxTags = 64;
constexpr std::size_t kMaxConditions = 64;
// Sigma's conditions are a line; this keeps a hostile one's tokens small.
constexpr std::size_t kMaxConditionBytes = 64 * 1024;
// tags and falsepositives are kept with the rule (and tags copied into
// every alert): a list of aliases to one large value must not multiply it.
constexpr std::size_t kMaxListBytes = 64 * 1024;
// Sigma's own rules have about 15 top-level keys, and unknown ones are
// accepted (custom attributes): 60,000 of them took over a minute (dev
// build) to check for duplicates before this bound.
constexpr std::size_t kMaxTopLevelKeys = 256;

// What a scan looks at: the process creations — exec events, and start
// events of polling (a process first seen with its image); a kernel
// source's start is a fork whose record is the parent's image and argv,
// which would raise the parent's alert again under every child's pid —
// whose id is in the rule's scan window (after, upto], bound by run_rules
// (sigma_window.hpp): each event is read by one scan. The range is on the
// rowid, and the rows come in id order without a sort, so a result cut
// off at max_rows resumes after its last event_id. Unbound (a person
// running the printed query), the window is the whole table.
constexpr std::string_view kQueryHead =
    "SELECT time, event, pid, parent, name, path, cmdline, cwd, uid, username, auid, sha256,\n"
    "       parent_path, parent_cmdline, start_time, id AS event_id\n"
    "FROM process_events\n"
    "WHERE (event = 'exec' OR (event = 'start' AND source = 'poll'))\n"
    "  AND id > coalesce(:after, 0) AND id <= coalesce(:upto, 9223372036854775807)\n"
    "  AND ";
constexpr std::string_view kQueryTail = "\nORDER BY id";

std::string scalar(const YAML::Node& n, std::string_view key) {
  if (!n.IsScalar() || n.Scalar().empty())
    fault(n, fmt::format("{} must be a non-empty string (got {})", key, detail::describe(n)));
  return n.Scalar();
}

std::vector<std::string> strings(const YAML::Node& n, std::string_view key) {
  if (n.IsNull()) return {};
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) fault(n, fmt::format("{} must be a list of strings (got {})", key, detail::describe(n)));
  std::vector<std::string> out;
  std::size_t bytes = 0;
  for (const auto& item : n) {
    if (!item.IsScalar()) fault(item, fmt::format("{} entries must be strings (got {})", key, detail::describe(item)));
    bytes += item.Scalar().size();
    if (bytes > kMaxListBytes) exhausted(item, fmt::format("{}: more than {} bytes in all", key, kMaxListBytes));
    out.push_back(item.Scalar());
  }
  return out;
}

bool is_id_char(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-'; }

std::string checked_id(std::string id, const YAML::Node& at) {
  if (id.empty() || id.size() > kMaxIdBytes) fault(at, fmt::format("id must be 1 to {} characters", kMaxIdBytes));
  if (!std::ranges::all_of(id, [](unsigned char c) { return is_id_char(c); }))
    fault(at, fmt::format("id '{}' may contain only letters, digits, '_', '.' and '-'", osl::detail::shown_text(id)));
  return id;
}

// The title is the rule's name in every alert (rule_name.hpp).
std::string checked_title(std::string title, const YAML::Node& at) {
  const std::size_t chars = detail::name_chars(title);
  if (chars > detail::kMaxRuleNameChars) {
    fault(at, fmt::format("title: {} characters; Sigma allows at most {} (it is the name in every alert)", chars,
                          detail::kMaxRuleNameChars));
  }
  return title;
}

// Sigma's five levels onto DaemonEye's four severities.
Severity severity_of(const YAML::Node& n) {
  std::string level = scalar(n, "level");
  std::ranges::transform(level, level.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (level == "informational" || level == "low") return Severity::low;
  if (level == "medium") return Severity::medium;
  if (level == "high") return Severity::high;
  if (level == "critical") return Severity::critical;
  fault(n, fmt::format("level '{}' is not one of informational, low, medium, high, critical", osl::detail::shown_text(n.Scalar())));
}

void check_logsource(const YAML::Node& ls) {
  if (!ls.IsMap()) fault(ls, fmt::format("logsource must be a mapping (got {})", detail::describe(ls)));
  std::string product, category;
  for (const auto& kv : ls) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    if (key == "product") product = scalar(kv.second, "logsource.product");
    else if (key == "category") category = scalar(kv.second, "logsource.category");
    else if (key == "definition") continue;
    else if (key == "service")
      fault(kv.first, "logsource.service is not supported: only {product: linux, category: process_creation} rules run here");
    else
      fault(kv.first, fmt::format("logsource: unknown key '{}' (known: product, category, definition)", osl::detail::shown_text(key)));
  }
  if (product != "linux" || category != "process_creation") {
    fault(ls, fmt::format("logsource {{product: {}, category: {}}} is not supported: only {{product: linux, category: "
                          "process_creation}} rules run here (over process_events)",
                          product.empty() ? "(none)" : osl::detail::shown_text(product), category.empty() ? "(none)" : osl::detail::shown_text(category)));
  }
}

// One search identifier's value: a map (AND of its fields), a list of maps
// (OR of them), or a list of keywords (OR, each searched for in cmdline).
Expr translate_search(const std::string& name, const YAML::Node& v, Budget& leaves) {
  // The search's name as messages show it (from the rule file: escaped, cut).
  const std::string shown = osl::detail::shown_text(name);
  if (v.IsMap()) {
    if (v.size() == 0) fault(v, fmt::format("detection.{}: an empty search", shown));
    std::vector<Expr> fields;
    for (const auto& kv : v) fields.push_back(translate_field(kv.first, kv.second, leaves));
    return all_of(std::move(fields));
  }
  if (v.IsSequence()) {
    if (v.size() == 0) fault(v, fmt::format("detection.{}: an empty list", shown));
    const bool maps = v[0].IsMap();
    std::vector<Expr> alternatives;
    for (const auto& item : v) {
      if (item.IsMap() != maps)
        fault(item, fmt::format("detection.{}: a list holds either field maps or keywords, not both", shown));
      alternatives.push_back(maps ? translate_search(name, item, leaves) : translate_keyword(item, leaves));
    }
    return any_of(std::move(alternatives));
  }
  if (v.IsScalar()) return translate_keyword(v, leaves);
  fault(v, fmt::format("detection.{}: a search must be a mapping of fields or a list (got {})", shown,
                       detail::describe(v)));
}

std::string translate_detection(const YAML::Node& det, std::size_t head_bytes) {
  if (!det.IsMap()) fault(det, fmt::format("detection must be a mapping (got {})", detail::describe(det)));
  std::map<std::string, Expr> searches;
  Budget leaves;
  YAML::Node condition;
  bool has_condition = false;
  for (const auto& kv : det) {
    if (!kv.first.IsScalar()) fault(kv.first, "detection's keys must be names");
    const std::string& name = kv.first.Scalar();
    if (name == "condition") {
      condition = kv.second;
      has_condition = true;
    } else if (name == "timeframe") {
      fault(kv.first, "detection.timeframe is not supported: a rule matches single events, not counts over time");
    } else {
      if (searches.contains(name)) fault(kv.first, fmt::format("detection: duplicate search '{}'", osl::detail::shown_text(name)));
      searches.emplace(name, translate_search(name, kv.second, leaves));
    }
  }
  if (!has_condition) fault(det, "detection has no condition");
  std::vector<std::string> conditions;
  if (condition.IsSequence()) {
    if (condition.size() == 0 || condition.size() > kMaxConditions)
      fault(condition, fmt::format("detection.condition: 1 to {} conditions", kMaxConditions));
    for (const auto& c : condition) conditions.push_back(scalar(c, "detection.condition"));
  } else {
    conditions.push_back(scalar(condition, "detection.condition"));
  }
  for (const auto& c : conditions)
    if (c.size() > kMaxConditionBytes)
      exhausted(condition, fmt::format("detection.condition: longer than {} bytes", kMaxConditionBytes));
  std::vector<Expr> any;
  Budget used;
  for (const auto& c : conditions) any.push_back(translate_condition(c, searches, condition, used));
  // The leaves are bounded above; what rendering adds (parentheses, AND/OR,
  // NOT coalesce) is checked on the result, which is at most a few times
  // kMaxQueryBytes.
  std::string sql = render(any_of(std::move(any)));
  if (sql.size() > kMaxQueryBytes - head_bytes)
    exhausted(condition, fmt::format("the rule's query would be longer than {} bytes", kMaxQueryBytes));
  return sql;
}

}  // namespace

bool looks_like_sigma(const YAML::Node& root) {
  return root.IsMap() && root["detection"] && root["logsource"];
}

std::expected<Rule, RuleError> parse_sigma_rule(const YAML::Node& root, const std::filesystem::path& source) {
  try {
    Rule rule;
    rule.file = source;
    rule.sigma.emplace();
    rule.severity = Severity::medium;  // Sigma's level is optional
    YAML::Node detection;
    std::set<std::string, std::less<>> seen;
    for (const auto& kv : root) {
      const YAML::Node& k = kv.first;
      const YAML::Node& v = kv.second;
      if (!k.IsScalar()) fault(k, "keys must be plain words");
      const std::string key = k.Scalar();
      if (seen.size() == kMaxTopLevelKeys)
        exhausted(k, fmt::format("more than {} top-level keys (a Sigma rule has about 15)", kMaxTopLevelKeys));
      if (!seen.insert(key).second) fault(k, fmt::format("duplicate key '{}'", osl::detail::shown_text(key)));
      try {
        if (key == "title") rule.name = checked_title(scalar(v, "title"), v);
        else if (key == "id") rule.id = checked_id(scalar(v, "id"), v);
        else if (key == "description") rule.description = v.IsNull() ? std::string() : scalar(v, "description");
        else if (key == "level") {
          rule.severity = severity_of(v);
          rule.sigma->level = v.Scalar();
        } else if (key == "status") rule.sigma->status = scalar(v, "status");
        else if (key == "tags") {
          rule.tags = strings(v, "tags");
          if (rule.tags.size() > kMaxTags) fault(v, fmt::format("at most {} tags", kMaxTags));
        } else if (key == "falsepositives") rule.sigma->falsepositives = strings(v, "falsepositives");
        else if (key == "enabled") {
          bool b = false;
          if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) fault(v, "enabled must be true or false");
          rule.enabled = b;
        } else if (key == "logsource") check_logsource(v);
        else if (key == "detection") detection = v;
        else if (key == "correlation")
          fault(k, "correlation rules are not supported: a rule matches single events");
        else if (key == "action")
          fault(k, "rule collections (action: global/repeat) are not supported: one rule per file");
        // Anything else (author, date, references, fields, custom attributes
        // Sigma allows) changes nothing here.
      } catch (Fault& f) {
        if (v.IsNull() || !f.line) f.line = k.Mark().line + 1;
        throw;
      }
    }
    if (rule.name.empty()) fault(std::nullopt, "missing required key title");
    if (rule.id.empty()) {
      // Sigma's id is optional: the file's name stands in.
      rule.id = source.stem().string();
      if (rule.id.empty() || rule.id.size() > kMaxIdBytes ||
          !std::ranges::all_of(rule.id, [](unsigned char c) { return is_id_char(c); }))
        fault(std::nullopt, "missing id (and the file name is not a valid id)");
    }
    const std::string where = translate_detection(detection, kQueryHead.size() + kQueryTail.size() + 2);
    rule.query = std::string(kQueryHead) + "(" + where + ")" + std::string(kQueryTail);
    rule.query_line = detail::line_of(detection, 0);
    return rule;
  } catch (const Fault& f) {
    // The file's name is shown escaped and cut, as every echoed value.
    const std::string file = osl::detail::shown_path(source.native());
    const std::string msg = f.line ? fmt::format("{}:{}: {}", file, *f.line, f.message) : fmt::format("{}: {}", file, f.message);
    return std::unexpected(RuleError{source, msg, f.category});
  } catch (const YAML::Exception& e) {
    return std::unexpected(
        RuleError{source, fmt::format("{}: invalid YAML: {}", osl::detail::shown_path(source.native()), e.msg)});
  }
}

}  // namespace airssys::daemoneye::sigma
