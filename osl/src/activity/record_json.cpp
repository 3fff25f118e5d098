// JSON-lines encoding of activity records (format: docs/osl.md).
// Hand-written rather than through nlohmann::json: it runs once per record on
// the writer thread and is several times faster this way.

#include <airssys/osl/activity.hpp>

#include <ctime>

#include <fmt/format.h>

#include "activity/json_escape.hpp"

namespace airssys::osl {

std::string_view to_string(ActivityEvent e) noexcept {
  switch (e) {
    case ActivityEvent::start: return "start";
    case ActivityEvent::end: return "end";
    case ActivityEvent::denied: return "denied";
  }
  return "start";
}

std::string_view to_string(DecisionKind d) noexcept {
  switch (d) {
    case DecisionKind::allow: return "allow";
    case DecisionKind::deny: return "deny";
    case DecisionKind::audit_deny: return "audit_deny";
  }
  return "deny";
}

namespace {
void append_rfc3339(std::string& out, std::chrono::system_clock::time_point tp) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  long frac = static_cast<long>(ns % 1'000'000'000);
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
}  // namespace

std::string to_json_line(const ActivityRecord& r) {
  std::string out;
  out.reserve(256);
  out += R"({"ts":")";
  append_rfc3339(out, r.ts);
  fmt::format_to(std::back_inserter(out), R"(","op_id":{},"event":")", r.op_id);
  out += to_string(r.event);
  out += R"(","op":")";
  out += to_string(r.op);
  out += R"(","principal":)";
  detail::append_json_string(out, r.principal);
  out += R"(,"resources":[)";
  for (std::size_t i = 0; i < r.resources.size(); ++i) {
    if (i) out += ',';
    detail::append_json_string(out, r.resources[i]);
  }
  out += R"(],"decision":")";
  out += to_string(r.decision);
  out += R"(","rule":)";
  if (r.rule) {
    detail::append_json_string(out, *r.rule);
  } else {
    out += "null";
  }
  out += R"(,"outcome":)";
  detail::append_json_string(out, r.outcome);
  out += R"(,"error":)";
  if (r.error) {
    out += R"({"category":")";
    out += to_string(r.error->category);
    fmt::format_to(std::back_inserter(out), R"(","errno":{},"message":)", r.error->errno_value);
    detail::append_json_string(out, r.error->message);
    out += '}';
  } else {
    out += "null";
  }
  fmt::format_to(std::back_inserter(out), R"(,"duration_ns":{})", r.duration_ns);
  if (!r.detail_json.empty()) {
    out += R"(,"detail":)";
    out += r.detail_json;
  }
  out += '}';
  return out;
}

}  // namespace airssys::osl
