#pragma once
// RFC 3339 timestamps in UTC, the one formatter for airssys: activity
// records (nanoseconds), syslog messages (microseconds or whole seconds),
// the osl CLI, DaemonEye's alert lines.
//
//   "2026-11-22T04:53:31Z", "2026-11-22T04:53:31.123456Z", "…31.123456789Z"
//
// The date-and-seconds part is cached per thread: gmtime_r takes glibc's
// time-zone lock, and a thread formats the same second many times over (a
// burst of records). Years outside 0000..9999, which the format cannot show,
// give "-" (syslog's NILVALUE) instead. Thread-safe; no allocation beyond
// what `out` needs.

#include <chrono>
#include <cstdint>
#include <string>

namespace airssys::osl {

// Appends the time `unix_seconds` + `nanos` (0..999'999'999) with
// `fraction_digits` (0..9; 0 = no '.') fraction digits, cut, not rounded.
void append_utc_time(std::string& out, std::int64_t unix_seconds, std::uint32_t nanos, int fraction_digits);

// The same from a time point; fractions of a second before 1970 count forward
// (-0.25 s is 1969-12-31T23:59:59.75Z).
void append_utc_time(std::string& out, std::chrono::sys_time<std::chrono::nanoseconds> t, int fraction_digits);
void append_utc_time(std::string& out, std::chrono::sys_time<std::chrono::microseconds> t, int fraction_digits);

// Whole seconds: "2026-12-04T14:00:00Z", or "-".
[[nodiscard]] std::string utc_time(std::int64_t unix_seconds);

}  // namespace airssys::osl
