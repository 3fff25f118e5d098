#pragma once
// Unix seconds → "2026-12-04T14:00:00Z" (RFC 3339, UTC), the timestamp of the
// human alert line (syslog messages are timed by osl's syslog framing).

#include <time.h>

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace airssys::daemoneye::detail {

[[nodiscard]] inline std::string utc_timestamp(std::int64_t unix_seconds) {
  const auto t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  if (::gmtime_r(&t, &tm) == nullptr || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) return "-";
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

}  // namespace airssys::daemoneye::detail
