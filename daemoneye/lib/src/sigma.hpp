#pragma once
// Sigma rules → one SQL query over process_events (docs/daemoneye.md
// "Sigma rules"). Private to the library; callers see a Sigma rule only as
// a Rule from parse_rule / load_rules, whose `query` is the translation.
//
// The translation is in four steps, one file each:
//   sigma_fields.cpp     Sigma field names → process_events columns
//   sigma_values.cpp     one `Field|modifier: value(s)` → an SQL expression
//   sigma_condition.cpp  `condition:` over the search identifiers
//   sigma_rule.cpp       the rule's metadata, logsource, and the query
// Every value reaches SQL through sql_literal (quotes doubled; NUL bytes
// are refused at load), never pasted; column names come only from the
// field table.
//
// Inside these files a problem is thrown as a Fault and caught once, in
// parse_sigma_rule, where it becomes a RuleError "FILE:LINE: message".

#include <yaml-cpp/yaml.h>

#include <airssys/daemoneye/rule.hpp>
#include <cstddef>
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::sigma {

struct Fault {
  std::optional<int> line;  // 1-based
  std::string message;
  ErrorCategory category = ErrorCategory::invalid_input;
};
[[noreturn]] void fault(const YAML::Node& at, std::string message);
[[noreturn]] void fault(std::optional<int> line, std::string message);
// A rule that would cost more than a bound below: resource_exhausted.
[[noreturn]] void exhausted(const YAML::Node& at, std::string message);

// A boolean SQL expression. Leaves are finished SQL; `all`/`any` are
// rendered as balanced groups so a long list stays under SQLite's
// expression depth limit (256).
struct Expr {
  enum class Kind { leaf, all, any, negate } kind = Kind::leaf;
  std::string sql;
  // A leaf whose SQL depends on whether it sits under an odd number of
  // NOTs (regexp's verdict at a PCRE2 limit): this text there, `sql` elsewhere.
  std::string sql_negated;
  std::vector<Expr> kids;
};
[[nodiscard]] Expr leaf(std::string sql);
// regexp(pattern, column) whose undecidable rows (a PCRE2 limit reached)
// always make the rule report the row: a match where the leaf counts
// positively, no match under NOT, so a process cannot silence a rule by
// making either a selection's or a filter's regex expensive.
[[nodiscard]] Expr regex_leaf(const std::string& pattern_literal, std::string_view column);
[[nodiscard]] Expr all_of(std::vector<Expr> kids);
[[nodiscard]] Expr any_of(std::vector<Expr> kids);
[[nodiscard]] Expr negate(Expr e);
// NOT treats an unknown (NULL) operand as false, as Sigma treats a missing
// field: `not filter` holds for an event whose field is NULL.
[[nodiscard]] std::string render(const Expr& e, bool negated = false);

// 'text' with every quote doubled. Throws a Fault (at `where`) for a NUL
// byte, which SQLite's tokenizer would take as the end of the query.
[[nodiscard]] std::string sql_literal(std::string_view text, const YAML::Node& where);

struct Field {
  std::string_view sigma;   // as written in rules (matched exactly)
  std::string_view column;  // process_events column
  bool text = true;         // false: INTEGER column
};
[[nodiscard]] const Field* find_field(std::string_view name);
[[nodiscard]] std::string known_fields();  // "Image, CommandLine, ..." for messages
[[nodiscard]] const std::vector<Field>& fields();

// What one rule's translation may cost. Counted while the tree is built,
// before any copy or rendering, so a small file cannot make a large query:
// YAML aliases let a 1 MiB file name one 900 KB value thousands of times
// (lists × windash × base64offset, conditions naming a search repeatedly).
//  - kMaxLeaves comparisons, in the searches and again in what the
//    conditions copy;
//  - kMaxQueryBytes of leaf SQL, likewise (sum of leaf bytes × uses), and
//    of the whole rendered query: the QueryEngine's own limit on a
//    statement, so a rule is refused here with the reason (resource_exhausted,
//    FILE:LINE) rather than by the engine;
//  - kMaxRegexes regexp() calls in the query: each keeps its compiled
//    pattern and up to detail::kHeapLimitKib of PCRE2 match heap while
//    the rule runs, memory SQLite's heap limit does not see.
inline constexpr std::size_t kMaxLeaves = 4096;
inline constexpr std::size_t kMaxQueryBytes = 1'000'000;
inline constexpr std::size_t kMaxRegexes = 32;

struct Budget {
  std::size_t leaves = 0;
  std::size_t bytes = 0;  // leaf SQL
  std::size_t regexes = 0;
};
// Counts one more leaf (`bytes` of SQL, a regexp() when `regex`), refusing
// at `at` past a bound; `what` names what was being counted in the message.
void charge(Budget& b, std::size_t bytes, bool regex, const YAML::Node& at, std::string_view what);
// The bytes a leaf adds when rendered (the longer of its two texts).
[[nodiscard]] std::size_t leaf_bytes(const Expr& leaf);

// One `Field|mods: value` entry of a search map. `key` is the map key node.
[[nodiscard]] Expr translate_field(const YAML::Node& key, const YAML::Node& value, Budget& built);
// A keyword (a value of a list-only search): a case-insensitive substring of cmdline.
[[nodiscard]] Expr translate_keyword(const YAML::Node& value, Budget& built);

// `condition:` (one string) over the named searches. `at` is the node for
// line numbers; `used` counts what the conditions copy (the bounds above
// apply over all of a rule's conditions together).
[[nodiscard]] Expr translate_condition(std::string_view condition, const std::map<std::string, Expr>& searches,
                                       const YAML::Node& at, Budget& used);

// Compiles a Sigma `re` pattern as the regexp() SQL function will; the
// compiler's message on failure (empty on success).
[[nodiscard]] std::string regex_error(std::string_view pattern);

// True when the document has Sigma's shape (a mapping with `detection:`
// and `logsource:`), which no native rule has.
[[nodiscard]] bool looks_like_sigma(const YAML::Node& root);
[[nodiscard]] std::expected<Rule, RuleError> parse_sigma_rule(const YAML::Node& root,
                                                              const std::filesystem::path& source);

}  // namespace airssys::daemoneye::sigma
