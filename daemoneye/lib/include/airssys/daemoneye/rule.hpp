#pragma once
// Detection rules: YAML files in a rules directory (format in
// docs/daemoneye.md "Rules"). One rule per file:
//
//   id: exe-deleted
//   name: Executable deleted while running
//   severity: high          # low | medium | high | critical
//   enabled: true
//   tags: [attack.defense-evasion, attack.t1070]
//   key: [pid, start_time]  # optional: dedup key columns (default pid + start_time)
//   query: SELECT pid, name, path FROM processes WHERE on_disk = 0
//
// A rule whose YAML is invalid, that lacks a required key, has an unknown
// key, or whose SQL the QueryEngine refuses is rejected with the file name
// and the reason; the other rules load.
//
// A file with Sigma's shape (`logsource:` and `detection:`) is a Sigma rule
// (docs/daemoneye.md "Sigma rules"): Linux process_creation rules are
// translated to one query over process_events and then run as any other
// rule; what cannot be translated exactly is rejected with the reason.

#include <airssys/daemoneye/error.hpp>

#include <chrono>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

class QueryEngine;

enum class Severity : std::uint8_t { low, medium, high, critical };
[[nodiscard]] std::string_view to_string(Severity s) noexcept;

struct Rule {
  std::string id;  // [A-Za-z0-9_.-]+, unique within the directory
  std::string name;
  std::string description;
  Severity severity = Severity::medium;
  bool enabled = true;
  std::vector<std::string> tags;
  std::string query;
  std::vector<std::string> key_columns;  // empty: pid + start_time
  std::filesystem::path file;            // where it was loaded from
  int query_line = 0;                    // 1-based line of the query's value in `file`; 0 unknown

  // Set for a rule translated from Sigma (its `query` is the translation;
  // `query_line` the line of its `detection:`): what Sigma says that has
  // no place above, kept for operators.
  struct SigmaInfo {
    std::string level;  // as written (informational maps to Severity::low)
    std::string status;
    std::vector<std::string> falsepositives;
  };
  std::optional<SigmaInfo> sigma;

  // What the loader noticed that does not reject the rule but may not be
  // what its author meant ("FILE:LINE: …"; load_rules / load_rule_file with
  // an engine). The agent logs them, `daemoneye-cli rules check` prints them.
  std::vector<std::string> warnings;
};

// "FILE:LINE: message" when a line is known, else "FILE: message".
struct RuleError {
  std::filesystem::path file;
  std::string message;
  // invalid_input (malformed YAML, a bad field, a refused query, a duplicate
  // id), denied (owner or mode unsafe, a symlink), not_found, io, ...
  ErrorCategory category = ErrorCategory::invalid_input;
  // The errno of a refusal by the kernel (ENOENT, EACCES, ELOOP, EIO, ...);
  // 0 for DaemonEye's own checks and for the content of a file.
  int errno_value = 0;
};

struct RuleSet {
  std::vector<Rule> rules;        // sorted by id
  std::vector<RuleError> errors;  // one per rejected file
  // One note per entry of the directory that is not read, hidden ones
  // (".name") excepted: "DIR/sigma: ignored, a directory (...)". A rule
  // put in a subdirectory or saved as .yaml.txt would otherwise never run
  // without a word.
  std::vector<std::string> ignored;
};

// Parses one rule. `source` names it in errors. Does not check the SQL.
[[nodiscard]] std::expected<Rule, RuleError> parse_rule(std::string_view yaml, const std::filesystem::path& source);

// Loads every *.yaml / *.yml file directly in `dir` (not following symlinked
// directories; files larger than 1 MiB are refused). With `engine`, each
// rule's SQL is checked (QueryEngine::check) and refused rules become errors.
// Duplicate ids: the second file is an error.
// The rules are trusted code: a directory writable by its group or by
// everyone (sticky or not) or owned by someone other than us or root loads
// nothing (one error naming it); such a file is an error naming the file.
[[nodiscard]] RuleSet load_rules(const std::filesystem::path& dir, const QueryEngine* engine = nullptr);

// One rule file, with the checks load_rules gives each file in a directory
// (not a symbolic link, a regular file, owned by us or root and writable by
// no one else, at most 1 MiB, parsed, and with `engine` its SQL and `key:`
// columns checked). A name load_rules would skip (hidden, not *.yaml/*.yml)
// is an error saying so. The directory's checks and duplicate ids are
// load_rules' concern. For `daemoneye-cli rules check FILE`.
[[nodiscard]] std::expected<Rule, RuleError> load_rule_file(const std::filesystem::path& file,
                                                            const QueryEngine* engine = nullptr);

}  // namespace airssys::daemoneye
