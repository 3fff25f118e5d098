// The audit file sink under I/O failure (issue 13), driven through the
// osl::io seam on a real file: a failing sink is reported (stats, and
// operations refused once the queue is full), and every operation that ran
// has its records in the file once the disk recovers — none dropped
// silently; a torn line from a short write does not swallow a record; with
// fsync_each_batch, what was flushed survives a simulated crash.
#include "test_support.hpp"

#include <airssys/osl/file_io.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <map>
#include <set>
#include <sstream>

using namespace airssys::osl;
using namespace std::chrono_literals;

namespace {

std::string stat_policy(const test::TempDir& dir) {
  return fmt::format(R"(
version: 1
rules:
  - id: stat
    effect: allow
    principals: ["alice"]
    operations: ["fs.stat"]
    resources: ["{0}/pub/**"]
)", dir.str());
}

struct Lines {
  std::map<std::string, std::set<std::string>> events_by_op;  // op_id → {"start", "end"}
  int unparseable = 0;
};

Lines read_log(const std::filesystem::path& p) {
  Lines out;
  std::istringstream in(test::read_file(p));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("op_id") || !j.contains("event")) {
      ++out.unparseable;
      continue;
    }
    out.events_by_op[j["op_id"].dump()].insert(j["event"].get<std::string>());
  }
  return out;
}

struct StatRun {
  int executed = 0;
  std::optional<Error> refused;
};

StatRun stat_until_refused(System& sys, const test::TempDir& dir, int max) {
  StatRun run;
  for (int i = 0; i < max && !run.refused; ++i) {
    auto r = sys.run("alice", fs::Stat{dir / "pub"});
    if (r) ++run.executed;
    else run.refused = r.error();
  }
  return run;
}

}  // namespace

TEST(AuditFaults, AFullDiskIsReportedAndNoRecordIsDropped) {
  for (const int err : {ENOSPC, EIO}) {
    SCOPED_TRACE(err);
    test::TempDir dir("osl-audit-faults");
    std::filesystem::create_directories(dir / "pub");
    const auto log = dir / "audit.jsonl";
    auto faults = std::make_unique<io::FaultInjection>();
    faults->add({.call = io::FileCall::write, .path_contains = "audit.jsonl", .times = 0, .error = err});
    auto sink = make_file_sink({.path = log});
    ASSERT_TRUE(sink) << sink.error().to_string();
    SystemOptions o;
    o.policy = test::policy_from(stat_policy(dir));
    o.audit.sinks.push_back(std::move(*sink));
    o.audit.queue_capacity = 4;
    o.audit.stall_timeout = 100ms;
    System sys(std::move(o));
    const StatRun run = stat_until_refused(sys, dir, 50);
    ASSERT_TRUE(run.refused) << "a disk that takes no record must stop operations";
    EXPECT_EQ(run.refused->category, ErrorCategory::io);
    EXPECT_NE(run.refused->message.find("audit log stalled"), std::string::npos) << run.refused->message;
    EXPECT_GT(sys.stats().audit_sink_errors, 0U);
    EXPECT_GT(faults->fired(), 0);
    EXPECT_EQ(test::read_file(log), "") << "nothing reached the file while it failed";
    // The disk recovers: every operation that ran is in the file, start and end.
    faults.reset();
    ASSERT_TRUE(sys.flush_audit(30s));
    const Lines lines = read_log(log);
    EXPECT_EQ(lines.unparseable, 0);
    ASSERT_EQ(lines.events_by_op.size(), static_cast<std::size_t>(run.executed));
    for (const auto& [op, events] : lines.events_by_op) EXPECT_EQ(events, (std::set<std::string>{"start", "end"})) << op;
  }
}

TEST(AuditFaults, AShortWriteThenAFailureTearsOneLineAndLosesNoRecord) {
  test::TempDir dir("osl-audit-faults");
  std::filesystem::create_directories(dir / "pub");
  const auto log = dir / "audit.jsonl";
  io::FaultInjection faults;
  // The first batch comes back short after 10 bytes, then the disk fills
  // for three attempts, then recovers.
  faults.add({.call = io::FileCall::write, .path_contains = "audit.jsonl", .short_write = 10});
  faults.add({.call = io::FileCall::write, .path_contains = "audit.jsonl", .times = 3, .error = ENOSPC});
  auto sink = make_file_sink({.path = log});
  ASSERT_TRUE(sink) << sink.error().to_string();
  SystemOptions o;
  o.policy = test::policy_from(stat_policy(dir));
  o.audit.sinks.push_back(std::move(*sink));
  System sys(std::move(o));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sys.run("alice", fs::Stat{dir / "pub"}));
  ASSERT_TRUE(sys.flush_audit(30s));
  EXPECT_EQ(faults.fired(), 4);
  EXPECT_GT(sys.stats().audit_sink_errors, 0U);
  const Lines lines = read_log(log);
  EXPECT_EQ(lines.unparseable, 1) << "the 10-byte fragment, alone on its line";
  ASSERT_EQ(lines.events_by_op.size(), 10U);
  for (const auto& [op, events] : lines.events_by_op) EXPECT_EQ(events, (std::set<std::string>{"start", "end"})) << op;
}

TEST(AuditFaults, AFailedFdatasyncIsRetriedAndFlushedRecordsSurviveACrash) {
  test::TempDir dir("osl-audit-faults");
  std::filesystem::create_directories(dir / "pub");
  const auto log = dir / "audit.jsonl";
  io::FaultInjection faults;
  faults.add({.call = io::FileCall::sync, .path_contains = "audit.jsonl", .times = 2, .error = EIO});
  {
    auto sink = make_file_sink({.path = log, .fsync_each_batch = true});
    ASSERT_TRUE(sink) << sink.error().to_string();
    SystemOptions o;
    o.policy = test::policy_from(stat_policy(dir));
    o.audit.sinks.push_back(std::move(*sink));
    System sys(std::move(o));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(sys.run("alice", fs::Stat{dir / "pub"}));
    ASSERT_TRUE(sys.flush_audit(30s)) << "flush returns only once a sync succeeded";
    EXPECT_EQ(faults.fired(), 2);
    EXPECT_GE(sys.stats().audit_sink_errors, 2U);
  }
  faults.crash();
  // A batch whose fdatasync failed is written again (at least once), so a
  // record may appear twice; none is missing after the crash.
  const Lines lines = read_log(log);
  EXPECT_EQ(lines.unparseable, 0);
  ASSERT_EQ(lines.events_by_op.size(), 5U);
  for (const auto& [op, events] : lines.events_by_op) EXPECT_EQ(events, (std::set<std::string>{"start", "end"})) << op;
}
