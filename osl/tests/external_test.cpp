// System::run(External, action): an action osl does not carry out itself
// (a container engine request) as one audited operation (external.hpp).
// Each test checks what the action saw or did against the records a real
// sink kept.

#include "test_support.hpp"

#include <airssys/osl/activity_trace.hpp>

#include <cerrno>
#include <stdexcept>

using namespace airssys::osl;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPolicy = R"(
version: 1
rules:
  - id: engine-kills
    effect: allow
    principals: ["alice"]
    operations: ["process.kill", "process.signal"]
    resources: ["**"]
)";

struct Fixture {
  std::shared_ptr<test::RecordingSink> sink = std::make_shared<test::RecordingSink>();
  System sys = [this] {
    SystemOptions o;
    o.policy = test::policy_from(kPolicy);
    o.audit.sinks.push_back(sink);  // not write-through: the start record is made durable anyway
    o.audit.stall_timeout = 300ms;
    return System(std::move(o));
  }();

  std::vector<ActivityRecord> records() {
    EXPECT_TRUE(sys.flush_audit(5s));
    return sink->records();
  }
};

External stop_of(std::string name) {
  return External{.kind = OpKind::process_kill, .resources = {std::move(name)}, .detail_json = R"({"request":"POST /stop"})"};
}

TEST(External, AnAllowedActionRunsAfterItsStartRecordIsWrittenAndItsOutcomeEndsIt) {
  Fixture f;
  std::vector<ActivityRecord> seen_by_action;
  auto r = f.sys.run("alice", stop_of("task-7"), [&]() -> std::expected<void, Error> {
    seen_by_action = f.sink->records();  // already written, no flush asked for
    return {};
  });
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(seen_by_action.size(), 1U);
  const ActivityRecord& start = seen_by_action[0];
  EXPECT_EQ(start.event, ActivityEvent::start);
  EXPECT_EQ(start.op, OpKind::process_kill);
  EXPECT_EQ(start.principal, "alice");
  EXPECT_EQ(start.resources, std::vector<std::string>{"task-7"});
  EXPECT_EQ(start.decision, DecisionKind::allow);
  EXPECT_EQ(start.rule, "engine-kills");
  EXPECT_EQ(start.outcome, "started");
  EXPECT_EQ(start.detail_json, R"({"request":"POST /stop"})");
  EXPECT_FALSE(start.trace);

  const auto recs = f.records();
  ASSERT_EQ(recs.size(), 2U);
  EXPECT_EQ(recs[1].event, ActivityEvent::end);
  EXPECT_EQ(recs[1].op_id, start.op_id);
  EXPECT_EQ(recs[1].outcome, "ok");
  EXPECT_FALSE(recs[1].error);
  EXPECT_EQ(recs[1].rule, "engine-kills");
  EXPECT_EQ(f.sys.stats().operations, 1U);
}

TEST(External, AnActionThePolicyDeniesDoesNotRun) {
  Fixture f;
  bool ran = false;
  auto r = f.sys.run("mallory", stop_of("task-7"), [&]() -> std::expected<void, Error> {
    ran = true;
    return {};
  });
  EXPECT_FALSE(ran);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::denied);
  const auto recs = f.records();
  ASSERT_EQ(recs.size(), 1U);
  EXPECT_EQ(recs[0].event, ActivityEvent::denied);
  EXPECT_EQ(recs[0].decision, DecisionKind::deny);
  EXPECT_FALSE(recs[0].rule);  // no rule matched: deny by default
  // An operation kind the policy does not name is denied too.
  ran = false;
  auto other = f.sys.run("alice", External{.kind = OpKind::fs_delete, .resources = {"task-7"}},
                         [&]() -> std::expected<void, Error> {
                           ran = true;
                           return {};
                         });
  EXPECT_FALSE(ran);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().category, ErrorCategory::denied);
}

TEST(External, AStartRecordNoSinkCanWriteMeansTheActionDoesNotRun) {
  Fixture f;
  f.sink->fail_next(1'000'000);
  bool ran = false;
  auto r = f.sys.run("alice", stop_of("task-7"), [&]() -> std::expected<void, Error> {
    ran = true;
    return {};
  });
  EXPECT_FALSE(ran) << "ran although its start record was never written";
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::io);
  EXPECT_NE(r.error().message.find("audit log stalled, operation not executed"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("injected sink failure"), std::string::npos) << r.error().message;
  EXPECT_EQ(f.sys.stats().operations, 0U);
  f.sink->fail_next(0);  // the queued start record drains at shutdown
}

TEST(External, TheActionsErrorIsRecordedInTheEndRecordAndReturned) {
  Fixture f;
  auto r = f.sys.run("alice", stop_of("task-7"), []() -> std::expected<void, Error> {
    return std::unexpected(Error{ErrorCategory::io, ECONNREFUSED, 0, "the engine refused the connection"});
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::io);
  EXPECT_EQ(r.error().errno_value, ECONNREFUSED);
  EXPECT_EQ(r.error().message, "the engine refused the connection");
  const auto recs = f.records();
  ASSERT_EQ(recs.size(), 2U);
  EXPECT_EQ(r.error().op_id, recs[0].op_id);
  EXPECT_EQ(recs[1].outcome, "error");
  ASSERT_TRUE(recs[1].error);
  EXPECT_EQ(recs[1].error->category, ErrorCategory::io);
  EXPECT_EQ(recs[1].error->errno_value, ECONNREFUSED);
  EXPECT_EQ(recs[1].error->message, "the engine refused the connection");
  const std::string line = to_json_line(recs[1]);
  EXPECT_NE(line.find(R"("outcome":"error","error":{"category":"io","errno":111,"message":"the engine refused the connection"})"),
            std::string::npos)
      << line;
  EXPECT_EQ(f.sys.stats().failed, 1U);
}

TEST(External, AnExceptionFromTheActionIsAnInternalErrorWithItsEndRecord) {
  Fixture f;
  auto r = f.sys.run("alice", stop_of("task-7"), []() -> std::expected<void, Error> { throw std::runtime_error("boom"); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::internal);
  EXPECT_NE(r.error().message.find("boom"), std::string::npos);
  const auto recs = f.records();
  ASSERT_EQ(recs.size(), 2U);
  EXPECT_EQ(recs[1].outcome, "error");
}

TEST(External, BothRecordsCarryTheTraceInForce) {
  Fixture f;
  auto tp = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(tp) << tp.error().to_string();
  {
    TraceScope scope(*tp);
    ASSERT_TRUE(f.sys.run("alice", stop_of("task-7"), [] { return std::expected<void, Error>{}; }));
  }
  const auto recs = f.records();
  ASSERT_EQ(recs.size(), 2U);
  for (const auto& rec : recs) {
    ASSERT_TRUE(rec.trace) << to_string(rec.event);
    EXPECT_EQ(*rec.trace, *tp);
  }
  EXPECT_NE(to_json_line(recs[0]).find(R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736")"), std::string::npos);
}

TEST(External, OperationIdsComeFromOneCounterAcrossSystems) {
  Fixture a, b;
  ASSERT_TRUE(a.sys.run("alice", stop_of("task-1"), [] { return std::expected<void, Error>{}; }));
  ASSERT_TRUE(b.sys.run("alice", stop_of("task-2"), [] { return std::expected<void, Error>{}; }));
  ASSERT_TRUE(a.sys.run("alice", stop_of("task-3"), [] { return std::expected<void, Error>{}; }));
  const auto ra = a.records(), rb = b.records();
  ASSERT_EQ(ra.size(), 4U);
  ASSERT_EQ(rb.size(), 2U);
  EXPECT_NE(ra[0].op_id, rb[0].op_id);
  EXPECT_NE(ra[2].op_id, rb[0].op_id);
  EXPECT_LT(ra[0].op_id, rb[0].op_id);
  EXPECT_LT(rb[0].op_id, ra[2].op_id);
}

TEST(External, MalformedRequestsAreRefusedBeforeTheActionRuns) {
  Fixture f;
  struct Case {
    const char* name;
    External op;
    const char* message;
  };
  const Case cases[] = {
      {"no resource", External{.kind = OpKind::process_kill, .resources = {}}, "names no resource"},
      {"empty resource", External{.kind = OpKind::process_kill, .resources = {""}}, "resource is empty"},
      {"NUL", External{.kind = OpKind::process_kill, .resources = {std::string("a\0b", 3)}}, "NUL byte"},
      {"detail not JSON", External{.kind = OpKind::process_kill, .resources = {"t"}, .detail_json = "{\"a\":"},
       "detail is not a JSON object"},
      {"detail an array", External{.kind = OpKind::process_kill, .resources = {"t"}, .detail_json = "[1]"},
       "detail is not a JSON object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    bool ran = false;
    auto r = f.sys.run("alice", c.op, [&]() -> std::expected<void, Error> {
      ran = true;
      return {};
    });
    EXPECT_FALSE(ran);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().category, ErrorCategory::invalid_argument);
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
  }
  auto none = f.sys.run("alice", stop_of("t"), ExternalAction{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().category, ErrorCategory::invalid_argument);
  for (const auto& rec : f.records()) EXPECT_EQ(rec.event, ActivityEvent::denied);
}

TEST(External, ASessionRunsItAsItsPrincipal) {
  Fixture f;
  Session alice(f.sys, "alice");
  ASSERT_TRUE(alice.run(stop_of("task-7"), [] { return std::expected<void, Error>{}; }));
  const auto recs = f.records();
  ASSERT_EQ(recs.size(), 2U);
  EXPECT_EQ(recs[0].principal, "alice");
}

}  // namespace
