// JSON-lines encoding of activity records (format: docs/osl.md).
// Hand-written rather than through nlohmann::json: it runs once per record on
// the writer thread and is several times faster this way.

#include <airssys/osl/activity.hpp>
#include <airssys/osl/utc_time.hpp>

#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "activity/json_escape.hpp"
#include "activity/record_json.hpp"

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

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

void append_json_line(std::string& out, const ActivityRecord& r) {
  out += R"({"ts":")";
  append_utc_time(out, r.ts, 9);  // "2026-11-22T04:53:31.123456789Z"
  out += R"(","op_id":)";
  append_int(out, r.op_id);
  out += R"(,"event":")";
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
    out += R"(","errno":)";
    append_int(out, r.error->errno_value);
    out += R"(,"message":)";
    detail::append_json_string(out, r.error->message);
    out += '}';
  } else {
    out += "null";
  }
  out += R"(,"duration_ns":)";
  append_int(out, r.duration_ns);
  if (r.trace) {
    out += R"(,"trace_id":")";
    out += r.trace->trace_id();
    out += R"(","parent_id":")";
    out += r.trace->parent_id();
    out += R"(","trace_flags":")";
    out += r.trace->flags();
    out += '"';
  }
  if (!r.detail_json.empty()) {
    out += R"(,"detail":)";
    out += r.detail_json;
  }
  out += '}';
}

std::string to_json_line(const ActivityRecord& r) {
  std::string out;
  out.reserve(256);
  append_json_line(out, r);
  return out;
}

}  // namespace airssys::osl
