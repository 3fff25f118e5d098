#include "syslog_message.hpp"

#include <airssys/daemoneye/component_errors.hpp>

#include <chrono>

namespace airssys::daemoneye::detail {

Result<SyslogAddress> parse_syslog_address(std::string_view text) {
  auto a = osl::syslog::parse_address(text);
  if (!a) return std::unexpected(Error{category_of(a.error()), a.error().errno_value, std::move(a.error().message)});
  return std::move(*a);
}

int syslog_severity(Severity s) noexcept {
  switch (s) {
    case Severity::critical: return osl::syslog::kCritical;
    case Severity::high: return osl::syslog::kError;
    case Severity::medium: return osl::syslog::kWarning;
    case Severity::low: return osl::syslog::kNotice;
  }
  return osl::syslog::kWarning;
}

namespace {

// Unix seconds as the header's microseconds; a time too far out for them
// (an alert's time comes from its data) is shown as "-" (past year 9999).
std::chrono::sys_time<std::chrono::microseconds> time_of(std::int64_t unix_seconds) {
  constexpr std::int64_t kFar = 400'000'000'000;  // beyond year 9999, well within int64 microseconds
  const std::int64_t s = unix_seconds > kFar ? kFar : unix_seconds < -kFar ? -kFar : unix_seconds;
  return std::chrono::sys_time<std::chrono::microseconds>(std::chrono::seconds(s));
}

}  // namespace

std::string format_rfc5424(const Alert& alert, int facility, long procid, std::string_view msg) {
  const std::string pid = std::to_string(procid);
  const osl::syslog::Header header{
      .facility = facility,
      .severity = syslog_severity(alert.severity),
      .time = time_of(alert.time),
      .microseconds = false,
      .hostname = alert.host,
      .app_name = "daemoneye",
      .procid = pid,
      .msgid = alert.rule_id,
  };
  return osl::syslog::format_rfc5424(header, {}, msg);
}

}  // namespace airssys::daemoneye::detail
