#pragma once
// An alert: one result row of one rule.

#include <airssys/daemoneye/rule.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

struct Alert {
  std::string rule_id;
  std::string rule_name;
  Severity severity = Severity::medium;
  std::vector<std::string> tags;
  std::string row_json;   // the result row, a JSON object
  std::string host;       // gethostname()
  std::int64_t time = 0;  // Unix seconds
  std::string dedup_key;  // rule id + the key columns' values (make_dedup_key)
};

// "<rule id>|<col>=<value>|..." over `key_columns` (default pid, start_time;
// for a Sigma rule, whose rows are process events, pid, start_time, event_id);
// a key column missing from the row (or null, or a row that is not a JSON
// object) contributes "<col>=". String values appear as they are, with '\'
// and '|' escaped by a '\' so that no value can forge another key; numbers
// and booleans in their JSON spelling.
[[nodiscard]] std::string make_dedup_key(const Rule& rule, const std::string& row_json);

// The alert as one JSON object (the file sink's line, the webhook's body,
// the ledger entry): {"time","host","rule_id","rule_name","severity","tags","dedup_key","row"},
// in that order, on one line. "row" is the row object itself (a row_json
// that is not valid JSON is embedded as a string). Invalid UTF-8 is replaced
// by U+FFFD.
[[nodiscard]] std::string alert_to_json(const Alert& a);

// The alert an alert_to_json object holds (a ledger entry read back: the
// agent rebuilds a store row from it, alert_ledger_sync.hpp). row_json is
// "row" written as alert_to_json's compact form, or the string itself when
// "row" is a string. nullopt for anything else: another record in the same
// ledger (a live query's audit entry has a "type"), a field missing or of
// the wrong type, an unknown severity, bytes that are not JSON.
[[nodiscard]] std::optional<Alert> alert_from_json(std::string_view entry);

// One line for people (the stdout sink's human format), without a newline:
//   2026-12-04T14:00:00Z HIGH exe-deleted Executable deleted while running pid=123 name=x path=/tmp/x
// The row's columns follow in order as col=value; a value with anything but
// printable ASCII other than space, '"', '=' and '\' is written as a JSON
// string ("a b", "\u001b[31m"), so a process name cannot inject terminal
// escapes or forge a column.
[[nodiscard]] std::string alert_to_human(const Alert& a);

}  // namespace airssys::daemoneye
