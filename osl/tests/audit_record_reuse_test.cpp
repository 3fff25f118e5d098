// The audit log keeps its records from batch to batch and fills them again
// (no allocation per record). A field one operation set must never show in
// the record of another: here operations of every shape follow one another,
// each flushed on its own so that each batch refills the records of the
// batch before, and every record is compared field by field with what that
// operation alone should have produced.

#include <airssys/osl/system.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

struct Expect {
  OpKind op;
  std::string principal;
  std::vector<std::string> resources;  // empty: not checked (a spawn's program path)
  std::size_t resource_count;
  DecisionKind decision;
  std::optional<std::string> rule;
  std::vector<std::string> outcomes;          // in event order: "started" then "ok"/"error", or "denied"
  std::optional<ErrorCategory> error;         // of the end or denied record
  bool detail = false;                        // the start record carries detail_json
  bool traced = false;
};

void check(const std::vector<ActivityRecord>& records, std::uint64_t first_id, const Expect& e,
           const std::string& what) {
  std::vector<const ActivityRecord*> mine;
  for (const auto& r : records) {
    if (r.op_id == first_id) mine.push_back(&r);
  }
  ASSERT_EQ(mine.size(), e.outcomes.size()) << what;
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const ActivityRecord& r = *mine[i];
    const std::string ctx = what + ", record " + std::to_string(i) + ": " + to_json_line(r);
    const bool last = i + 1 == mine.size();
    EXPECT_EQ(r.op, e.op) << ctx;
    EXPECT_EQ(r.principal, e.principal) << ctx;
    EXPECT_EQ(r.resources.size(), e.resource_count) << ctx;
    if (!e.resources.empty()) {
      EXPECT_EQ(r.resources, e.resources) << ctx;
    }
    EXPECT_EQ(r.decision, e.decision) << ctx;
    EXPECT_EQ(r.rule, e.rule) << ctx;
    EXPECT_EQ(r.outcome, e.outcomes[i]) << ctx;
    const bool start = r.event == ActivityEvent::start;
    EXPECT_EQ(start, e.outcomes[i] == "started") << ctx;
    if (last && e.error) {
      ASSERT_TRUE(r.error.has_value()) << ctx;
      EXPECT_EQ(r.error->category, *e.error) << ctx;
      EXPECT_EQ(r.error->op_id, r.op_id) << ctx;
    } else {
      EXPECT_FALSE(r.error.has_value()) << ctx;
    }
    if (r.event != ActivityEvent::end) {
      EXPECT_EQ(r.duration_ns, 0) << ctx;
    }
    EXPECT_EQ(!r.detail_json.empty(), start && e.detail) << ctx;
    EXPECT_EQ(r.trace.has_value(), e.traced) << ctx;
  }
  if (mine.size() == 2) {
    EXPECT_EQ(mine[0]->event, ActivityEvent::start) << what;
    EXPECT_EQ(mine[1]->event, ActivityEvent::end) << what;
    EXPECT_LE(mine[0]->ts, mine[1]->ts) << what;
  }
}

TEST(AuditRecordReuse, NoFieldCarriesOverFromAnotherOperation) {
  test::TempDir tmp("osl-reuse");
  const std::string dir = std::filesystem::canonical(tmp.path()).string();
  // A long name: its string lives on the heap, and a shorter one follows.
  const std::string long_name = dir + "/" + std::string(120, 'l');
  const std::string file = dir + "/f";
  for (const auto& p : {long_name, file}) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  auto sink = std::make_shared<test::RecordingSink>();
  auto sys = test::system_with(fmt::format(R"(
version: 1
rules:
  - id: no-secret
    effect: deny
    principals: ["alice"]
    operations: ["fs.*"]
    resources: ["{0}/secret"]
  - id: alice-work-tree-and-programs
    effect: allow
    principals: ["alice"]
    operations: ["fs.*", "process.spawn"]
    resources: ["{0}/**", "/usr/bin/**", "/bin/**"]
)",
                                           dir),
                               sink);
  const auto trace = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(trace);
  const std::string allow_rule = "alice-work-tree-and-programs";

  struct Step {
    std::string what;
    std::function<void()> run;
    Expect expect;
  };
  std::vector<std::pair<std::uint64_t, Step>> done;
  std::uint64_t seen = 0;  // the highest op id recorded before the step
  // The op id of the step just run: the first new one of its kind (a spawn
  // may be followed by records of its own, e.g. the wait).
  auto step_id = [&](OpKind op) {
    std::uint64_t id = 0;
    std::uint64_t highest = seen;
    for (const auto& r : sink->records()) {
      highest = std::max(highest, r.op_id);
      if (r.op_id > seen && r.op == op && (id == 0 || r.op_id < id)) id = r.op_id;
    }
    seen = highest;
    return id;
  };

  std::vector<Step> steps;
  steps.push_back({"spawn /bin/true (start has detail)",
                   [&] { ASSERT_TRUE(test::run_to_end(*sys, "alice", process::Spawn{{"/bin/true"}, {}})); },
                   {OpKind::process_spawn, "alice", {}, 1, DecisionKind::allow, allow_rule, {"started", "ok"}}});
  steps.back().expect.detail = true;
  steps.push_back({"read a directory (end has an error)", [&] { ASSERT_FALSE(sys->run("alice", fs::Read{dir})); },
                   {OpKind::fs_read, "alice", {dir}, 1, DecisionKind::allow, allow_rule, {"started", "error"},
                    ErrorCategory::invalid_argument}});
  steps.push_back({"bob is denied, no rule", [&] { ASSERT_FALSE(sys->run("bob", fs::Stat{file})); },
                   {OpKind::fs_stat, "bob", {file}, 1, DecisionKind::deny, std::nullopt, {"denied"},
                    ErrorCategory::denied}});
  steps.push_back({"stat under a trace", [&] {
                     TraceScope scope(*trace);
                     ASSERT_TRUE(sys->run("alice", fs::Stat{long_name}));
                   },
                   {OpKind::fs_stat, "alice", {long_name}, 1, DecisionKind::allow, allow_rule, {"started", "ok"}}});
  steps.back().expect.traced = true;
  steps.push_back({"rename (two resources)",
                   [&] { ASSERT_TRUE(sys->run("alice", fs::Rename{file, file + "2"})); },
                   {OpKind::fs_rename, "alice", {file, file + "2"}, 2, DecisionKind::allow, allow_rule,
                    {"started", "ok"}}});
  steps.push_back({"stat without a trace", [&] { ASSERT_TRUE(sys->run("alice", fs::Stat{file + "2"})); },
                   {OpKind::fs_stat, "alice", {file + "2"}, 1, DecisionKind::allow, allow_rule, {"started", "ok"}}});
  steps.push_back({"denied by a deny rule", [&] { ASSERT_FALSE(sys->run("alice", fs::Read{dir + "/secret"})); },
                   {OpKind::fs_read, "alice", {dir + "/secret"}, 1, DecisionKind::deny, "no-secret", {"denied"},
                    ErrorCategory::denied}});
  steps.push_back({"read the long name", [&] { ASSERT_TRUE(sys->run("alice", fs::Read{long_name})); },
                   {OpKind::fs_read, "alice", {long_name}, 1, DecisionKind::allow, allow_rule, {"started", "ok"}}});
  steps.push_back({"stat a missing file (end has an error)",
                   [&] { ASSERT_FALSE(sys->run("alice", fs::Stat{dir + "/missing"})); },
                   {OpKind::fs_stat, "alice", {dir + "/missing"}, 1, DecisionKind::allow, allow_rule,
                    {"started", "error"}, ErrorCategory::not_found}});
  steps.push_back({"stat again", [&] { ASSERT_TRUE(sys->run("alice", fs::Stat{file + "2"})); },
                   {OpKind::fs_stat, "alice", {file + "2"}, 1, DecisionKind::allow, allow_rule, {"started", "ok"}}});

  // Twice over, so that every shape of record refills every other.
  for (int round = 0; round < 2; ++round) {
    // Put the renamed file back (unrecorded), so the round runs as the first.
    if (round > 0) std::filesystem::rename(file + "2", file);
    for (const Step& s : steps) {
      ASSERT_NO_FATAL_FAILURE(s.run());
      ASSERT_TRUE(sys->flush_audit());
      const std::uint64_t id = step_id(s.expect.op);
      ASSERT_NE(id, 0u) << s.what;
      done.emplace_back(id, s);
    }
  }
  const auto records = sink->records();
  for (const auto& [id, s] : done) ASSERT_NO_FATAL_FAILURE(check(records, id, s.expect, s.what));
}

}  // namespace
}  // namespace airssys::osl
