#pragma once
// Test helpers for the alert pipeline and its sinks: alerts to submit, and
// waiting (bounded) for something another thread does.

#include <airssys/daemoneye/alert.hpp>
#include <airssys/testing/eventually.hpp>

#include <string>

namespace airssys::daemoneye::testing {

inline Alert make_alert(const std::string& rule_id, int pid, Severity severity = Severity::high, std::int64_t time = 1796392800) {
  Alert a;
  a.rule_id = rule_id;
  a.rule_name = "Rule " + rule_id;
  a.severity = severity;
  a.tags = {"attack.t1070"};
  a.row_json = "{\"pid\":" + std::to_string(pid) + ",\"name\":\"proc" + std::to_string(pid) + "\",\"start_time\":1764000000}";
  a.host = "host-1";
  a.time = time;
  a.dedup_key = rule_id + "|pid=" + std::to_string(pid) + "|start_time=1764000000";
  return a;
}

using ::airssys::testing::eventually;

}  // namespace airssys::daemoneye::testing
