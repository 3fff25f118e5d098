#pragma once
// An alert: one result row of one rule.

#include <airssys/daemoneye/rule.hpp>

#include <cstdint>
#include <string>
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

// "<rule id>|<col>=<value>|..." over `key_columns` (default pid, start_time);
// a key column missing from the row contributes "<col>=".
[[nodiscard]] std::string make_dedup_key(const Rule& rule, const std::string& row_json);

// The alert as one JSON object (the file sink's line, the webhook's body,
// the ledger entry): {"time","host","rule_id","rule_name","severity","tags","dedup_key","row"}.
[[nodiscard]] std::string alert_to_json(const Alert& a);

}  // namespace airssys::daemoneye
