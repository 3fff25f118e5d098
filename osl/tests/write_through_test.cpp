// make_write_through: an operation runs only once its start record is
// written, not merely queued (issue 12: "if the start record cannot be made
// durable, nothing runs"). Driven through the osl::io fault seam on a real
// file sink.

#include "test_support.hpp"

#include <airssys/osl/file_io.hpp>

#include <cerrno>

using namespace airssys::osl;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  test::TempDir dir{"osl-write-through"};
  std::filesystem::path log = dir / "audit.jsonl";
  std::filesystem::path pub = dir / "pub";

  System make(bool write_through) {
    std::filesystem::create_directories(pub);
    auto sink = make_file_sink({.path = log});
    EXPECT_TRUE(sink) << sink.error().to_string();
    SystemOptions o;
    o.policy = test::policy_from(fmt::format(R"(
version: 1
rules:
  - id: stat
    effect: allow
    principals: ["alice"]
    operations: ["fs.stat"]
    resources: ["{0}/**"]
)", dir.str()));
    std::shared_ptr<ActivitySink> s = std::move(*sink);
    o.audit.sinks.push_back(write_through ? make_write_through(s) : s);
    o.audit.stall_timeout = 200ms;
    return System(std::move(o));
  }
};

TEST(WriteThrough, AStartRecordThatCannotBeWrittenRunsNothing) {
  Fixture s;
  System sys = s.make(true);
  {
    io::FaultInjection faults;
    faults.add({.call = io::FileCall::write, .path_contains = "audit.jsonl", .times = 0, .error = ENOSPC});
    auto r = sys.run("alice", fs::Stat{s.pub});
    ASSERT_FALSE(r) << "ran although its start record was never written";
    EXPECT_EQ(r.error().category, ErrorCategory::io);
    EXPECT_NE(r.error().message.find("audit log stalled, operation not executed"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("No space left on device"), std::string::npos) << r.error().message;
    EXPECT_EQ(sys.stats().operations, 0U);
    EXPECT_EQ(test::read_file(s.log), "");
  }
  // The disk recovers: the next operation's start record is in the file
  // when run() returns, without a flush.
  auto r = sys.run("alice", fs::Stat{s.pub});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_NE(test::read_file(s.log).find("\"op_id\":2,\"event\":\"start\""), std::string::npos) << test::read_file(s.log);
  EXPECT_EQ(sys.stats().operations, 1U);
}

// The contrast that makes the test above mean something: without
// write-through the same failing disk does not stop the first operation
// (its start record is only queued).
TEST(WriteThrough, WithoutItTheFirstOperationRunsOnAQueuedStartRecord) {
  Fixture s;
  System sys = s.make(false);
  io::FaultInjection faults;
  faults.add({.call = io::FileCall::write, .path_contains = "audit.jsonl", .times = 0, .error = ENOSPC});
  EXPECT_TRUE(sys.run("alice", fs::Stat{s.pub}));
  EXPECT_EQ(sys.stats().operations, 1U);
}

}  // namespace
