#pragma once
// Unix seconds → "2026-12-04T14:00:00Z" (RFC 3339, UTC), the timestamp of the
// human alert line (syslog messages are timed by osl's syslog framing);
// osl's one formatter (airssys/osl/utc_time.hpp), "-" outside years 0..9999.

#include <airssys/osl/utc_time.hpp>

#include <cstdint>
#include <string>

namespace airssys::daemoneye::detail {

[[nodiscard]] inline std::string utc_timestamp(std::int64_t unix_seconds) { return osl::utc_time(unix_seconds); }

}  // namespace airssys::daemoneye::detail
