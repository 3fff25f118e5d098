#pragma once
// Rule exceptions: an operator's "this match of that rule is known and
// fine", written down with a reason (format in docs/daemoneye.md "Rule
// exceptions"). A YAML file, or every *.yaml / *.yml file directly in a
// directory, named by rules.exceptions:
//
//   exceptions:
//     - id: sandbox-memfd-backend        # unique, [A-Za-z0-9_.-]+
//       rule: exec-from-tmp              # one rule id, no wildcard
//       reason: the VM's own tool backend, sealed memfd run by root from pid 1
//       match:                           # every condition must hold
//         path: { glob: "/memfd:sealed-*" }   # fnmatch(3); FNM_PATHNAME for path-like columns
//         parent: 1                            # a scalar: exactly equal
//         uid: 0                               # what pins it: the kernel's, not the caller's
//       expires: 2027-03-31              # optional: a date (00:00 UTC) or 2027-03-31T12:00:00Z
//       owner: platform-team             # optional, free text
//       ticket: SEC-1234                 # optional, free text
//
// An exception is checked against the row of its rule's result (the
// alert's "row"): a scalar condition holds when the column's value is equal
// (a number compared as a number, text byte for byte); {glob: P} when
// fnmatch(P, text, flags) matches: flags FNM_PATHNAME for a path-like column
// (path, cwd, exe, path_given, any name ending in "path"; `*` and `?` do not
// cross '/', so /tmp/build-* is not /tmp/build-x/../../payload), else 0
// (`*` crosses '/'); a leading '.' is not special, '\' escapes. A column the
// row lacks, or NULL, never holds. A NUL byte in a value or pattern is
// refused at load (fnmatch would stop at it: "*\0..." would be "*").
//
// Weak exceptions: the name, command line, working directory and path of a
// process are the caller's to choose (any /tmp file name, any memfd name;
// an orphan is reparented to pid 1, so `parent` is not either). An entry
// with no exact condition on a column the kernel gives (uid, euid, gid,
// egid, start_time, loginuid/auid), or with a glob that is only '*', is
// loaded with a warning and marked weak (status.json "weak": any process of
// any user can shape its row to match it).
//
// Loading is checked as rules are: the files pass path_trust.hpp's owner
// and mode rule (whoever can write them can silence a rule), unknown fields,
// a missing or empty reason, a duplicate id, a bad date, an empty match and
// a match column the rule's query does not return are errors naming the
// file, line, entry and field; an exception whose rule is not loaded is a
// warning (rules can be removed) and loads.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace airssys::daemoneye {

class QueryEngine;

struct ExceptionCondition {
  std::string column;
  bool glob = false;  // {glob: P}; else equality with `value`
  std::string value;  // the pattern, or the scalar as written
  friend bool operator==(const ExceptionCondition&, const ExceptionCondition&) = default;
};

struct RuleException {
  std::string id;
  std::string rule;
  std::string reason;
  std::vector<ExceptionCondition> match;
  std::optional<std::int64_t> expires;  // Unix seconds; from then on it no longer applies
  std::string owner, ticket;
  std::filesystem::path file;
  int line = 0;  // 1-based line of the entry in `file`
  std::string weak;  // why any process could match it (see "Weak exceptions" above); empty: pinned
  friend bool operator==(const RuleException&, const RuleException&) = default;
};

// A refusal or a warning.
struct ExceptionError {
  std::string message;  // "FILE:LINE: exception 'ID': field: reason", or "FILE: reason"
  std::string rule;     // the entry's rule when it was read; empty for a file-level error
  std::string id;       // the entry's id when it was read; empty for a file-level error
  std::filesystem::path file;  // the file; for a refusal of rules.exceptions as a whole, that path
};

struct ExceptionSet {
  std::vector<RuleException> exceptions;  // in file order, files sorted by name
  std::vector<ExceptionError> errors;     // entries or files not loaded
  std::vector<ExceptionError> warnings;   // loaded, but worth a look (an unknown rule, already expired)
};

// Parses one exception file's text (no file access, no column check).
// `source` names it in messages; `now` decides the "already expired" warning.
[[nodiscard]] ExceptionSet parse_exceptions(std::string_view yaml, const std::filesystem::path& source,
                                            std::int64_t now);

// Loads `path` (a file, or a directory of *.yaml/*.yml files; empty: none;
// missing: none, with a warning saying so)
// under path_trust.hpp's rule, then checks each entry against `rules`: its
// rule's query is compiled by `engine` to know its result's columns (a match
// on another column is an error). Entries whose rule is not in `rules` load
// with a warning and no column check. A path refused as a whole is one
// error with an empty rule.
[[nodiscard]] ExceptionSet load_exceptions(const std::filesystem::path& path, std::span<const Rule> rules,
                                           const QueryEngine& engine, std::int64_t now);

// The exceptions in force after a reload that loaded `fresh` while `old`
// were in force: every entry `fresh` loaded; and, of `old`, only those the
// new load could not judge — an entry refused by id (its old version
// stays until it is fixed), or an entry of a file refused as a whole
// (unreadable, not trusted, invalid YAML) or under a rules.exceptions path
// refused as a whole. An entry gone from a file that loaded is dropped; a
// missing rules.exceptions is no exceptions (load_exceptions warns). The
// ids of the old entries kept go to `kept`.
[[nodiscard]] std::vector<RuleException> merge_on_reload(const std::vector<RuleException>& old,
                                                         const ExceptionSet& fresh, std::vector<std::string>& kept);

// Whether `e` applies at `now` (not expired).
[[nodiscard]] bool in_force(const RuleException& e, std::int64_t now) noexcept;

// Whether every condition of `e` holds for the row (a JSON object, the
// alert's row_json). Expiry is not looked at.
[[nodiscard]] bool matches(const RuleException& e, const std::string& row_json);

// The first exception in force at `now` for `alert`'s rule whose match
// holds for its row; null when none.
[[nodiscard]] const RuleException* exception_for(std::span<const RuleException> exceptions, const Alert& alert,
                                                 std::int64_t now);

// The same question asked of a query's row as it is read, before any alert
// is made of it (the agent's scans: run_rules' row filter). A RowMatcher
// holds the exceptions of one rule in force, each condition's column
// resolved once against the result's `keys` (the row's column names as its
// alert's row_json names them: row_keys, a repeated name gets _2, _3, ...);
// match() gives the answer exception_for gives for the alert of that row,
// without writing the row as JSON and parsing it again (which made each
// row of a rule with an exception cost ~10 µs more: docs/BENCHMARKS.md,
// DaemonEye session 17). It points into `exceptions`, which must outlive it
// unchanged.
[[nodiscard]] std::vector<std::string> row_keys(std::span<const std::string> columns);

class RowMatcher {
 public:
  RowMatcher(std::span<const RuleException> exceptions, std::string_view rule_id, std::span<const std::string> keys,
             std::int64_t now);
  // The first exception whose every condition holds for `values`; null when none.
  [[nodiscard]] const RuleException* match(std::span<const Value> values) const;

 private:
  struct Condition {
    const ExceptionCondition* condition;
    std::size_t index;        // of the column in the row
    std::string_view prefix;  // a glob's literal start (into condition->value)
  };
  struct Entry {
    const RuleException* exception;
    std::vector<Condition> conditions;
  };
  std::vector<Entry> entries_;
};

// Why `e` could be matched by a row any process can shape (see "Weak
// exceptions" above), or empty when a kernel-given column pins it.
[[nodiscard]] std::string weakness(const RuleException& e);

// Whether a glob on `column` is matched with FNM_PATHNAME.
[[nodiscard]] bool path_like_column(std::string_view column) noexcept;

// "2027-03-31" (00:00:00 UTC that day), "2027-03-31T12:00:00Z",
// "2027-03-31T12:00:00+02:00" → Unix seconds; nullopt for anything else.
[[nodiscard]] std::optional<std::int64_t> parse_expiry(std::string_view text);

}  // namespace airssys::daemoneye
