#include <airssys/osl/activity.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "activity/json_escape.hpp"

namespace airssys::osl {
namespace {

std::string esc(std::string_view s) {
  std::string out;
  detail::append_json_string(out, s);
  return out;
}

TEST(JsonEscape, EscapesWhatJsonRequires) {
  EXPECT_EQ(esc("plain /path"), "\"plain /path\"");
  EXPECT_EQ(esc("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(esc("\n\t\r"), "\"\\n\\t\\r\"");
  EXPECT_EQ(esc(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(esc("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(JsonEscape, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(esc("a\xff" "b"), "\"a\\ufffdb\"");
  EXPECT_EQ(esc("\xc3"), "\"\\ufffd\"");                  // truncated sequence
  EXPECT_EQ(esc("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // UTF-16 surrogate
  EXPECT_EQ(esc("\xc0\xaf"), "\"\\ufffd\\ufffd\"");      // overlong '/'
  for (int b = 0; b < 256; ++b) {
    const std::string s(1, static_cast<char>(b));
    EXPECT_FALSE(nlohmann::json::parse(esc(s), nullptr, false).is_discarded()) << b;
  }
}

TEST(RecordJson, TimestampsAreRfc3339NanosecondsUtc) {
  ActivityRecord r;
  r.op = OpKind::fs_read;
  r.ts = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789LL));
  auto a = nlohmann::json::parse(to_json_line(r));
  EXPECT_EQ(a["ts"], "2023-11-14T22:13:20.123456789Z");
  r.ts = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'001'000'000'007LL));
  auto b = nlohmann::json::parse(to_json_line(r));
  EXPECT_EQ(b["ts"], "2023-11-14T22:13:21.000000007Z") << "the cached seconds must roll over";
  r.ts = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'000'000'000LL));
  EXPECT_EQ(nlohmann::json::parse(to_json_line(r))["ts"], "2023-11-14T22:13:20.000000000Z");
}

TEST(RecordJson, CarriesEveryField) {
  ActivityRecord r;
  r.op_id = 7;
  r.event = ActivityEvent::end;
  r.op = OpKind::net_connect;
  r.principal = "alice";
  r.resources = {"127.0.0.1:80", "x\"y"};
  r.decision = DecisionKind::audit_deny;
  r.rule = "r1";
  r.outcome = "error";
  r.error = Error{ErrorCategory::timeout, 110, 7, "slow"};
  r.duration_ns = -1;
  r.detail_json = R"({"pid":3})";
  auto j = nlohmann::json::parse(to_json_line(r));
  EXPECT_EQ(j["op_id"], 7);
  EXPECT_EQ(j["event"], "end");
  EXPECT_EQ(j["op"], "net.connect");
  EXPECT_EQ(j["principal"], "alice");
  EXPECT_EQ(j["resources"][1], "x\"y");
  EXPECT_EQ(j["decision"], "audit_deny");
  EXPECT_EQ(j["rule"], "r1");
  EXPECT_EQ(j["outcome"], "error");
  EXPECT_EQ(j["error"]["category"], "timeout");
  EXPECT_EQ(j["error"]["errno"], 110);
  EXPECT_EQ(j["error"]["message"], "slow");
  EXPECT_EQ(j["duration_ns"], -1);
  EXPECT_EQ(j["detail"]["pid"], 3);
  r.rule.reset();
  r.error.reset();
  auto k = nlohmann::json::parse(to_json_line(r));
  EXPECT_TRUE(k["rule"].is_null());
  EXPECT_TRUE(k["error"].is_null());
}

TEST(RecordJson, TraceFieldsOnlyWhenATraceWasInForce) {
  ActivityRecord r;
  r.op = OpKind::fs_stat;
  const std::string without = to_json_line(r);
  EXPECT_EQ(without.find("trace"), std::string::npos) << without;
  r.trace = *TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto j = nlohmann::json::parse(to_json_line(r));
  EXPECT_EQ(j["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(j["parent_id"], "00f067aa0ba902b7");
  EXPECT_EQ(j["trace_flags"], "01");
}

}  // namespace
}  // namespace airssys::osl
