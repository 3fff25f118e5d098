#pragma once
// to_json_line (activity.hpp) into a caller's buffer, for a sink that formats
// many records and reuses one string rather than allocating per record.

#include <airssys/osl/activity.hpp>

#include <string>

namespace airssys::osl {

// Appends the record's JSON line (no newline) to `out`.
void append_json_line(std::string& out, const ActivityRecord& r);

}  // namespace airssys::osl
