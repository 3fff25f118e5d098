// The osl activity sink: records land in the ledger one entry per record,
// through a real osl::System, and the ledger verifies.

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/osl_sink.hpp>
#include <airssys/ledger/verify.hpp>
#include <airssys/osl/system.hpp>

#include "../src/test_util.hpp"

#include <gtest/gtest.h>

namespace airssys::ledger {
namespace {

using testing::TempDir;

osl::ActivityRecord record(std::uint64_t op_id, osl::ActivityEvent ev) {
  osl::ActivityRecord r;
  r.ts = std::chrono::system_clock::now();
  r.op_id = op_id;
  r.event = ev;
  r.op = osl::OpKind::fs_read;
  r.principal = "alice";
  r.resources = {"/etc/hostname"};
  r.decision = osl::DecisionKind::allow;
  r.outcome = ev == osl::ActivityEvent::start ? "started" : "ok";
  return r;
}

TEST(OslSink, OneEntryPerRecordOneCommitPerBatch) {
  TempDir tmp;
  auto sink = make_osl_sink({.dir = tmp / "audit"}).value();
  EXPECT_EQ(sink->name(), "ledger:" + (tmp / "audit").string());
  std::vector<osl::ActivityRecord> batch = {record(1, osl::ActivityEvent::start), record(1, osl::ActivityEvent::end),
                                            record(2, osl::ActivityEvent::start)};
  ASSERT_TRUE(sink->write(batch));
  ASSERT_TRUE(sink->write(std::span(batch).first(1)));  // a retried batch: duplicates are fine
  ASSERT_TRUE(sink->write({}));
  // The sink holds the writer lock; readers still see every committed record.
  auto l = Ledger::open(tmp / "audit", {.read_only = true}).value();
  ASSERT_EQ(l->size(), 4u);
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto e = l->entry(i).value();
    EXPECT_EQ(std::string(e.begin(), e.end()), osl::to_json_line(batch[i]));
  }
  EXPECT_EQ(Ledger::open(tmp / "audit").error().category, ErrorCategory::busy);
  sink.reset();
  EXPECT_TRUE(verify(tmp / "audit").value().intact);
}

TEST(OslSink, ExistingLedgerIsAppendedTo) {
  TempDir tmp;
  { (void)Ledger::create(tmp / "audit").value()->append(testing::bytes("before")).value(); }
  auto sink = make_osl_sink({.dir = tmp / "audit", .create_if_missing = false}).value();
  ASSERT_TRUE(sink->write(std::vector{record(7, osl::ActivityEvent::start)}));
  sink.reset();
  EXPECT_EQ(Ledger::open(tmp / "audit", {.read_only = true}).value()->size(), 2u);
  EXPECT_FALSE(make_osl_sink({.dir = tmp / "none", .create_if_missing = false}));
}

TEST(OslSink, WiredIntoAnOslSystem) {
  TempDir tmp;
  {
    osl::SystemOptions options;  // the empty policy denies everything: each run is one `denied` record
    options.audit.sinks.push_back(make_osl_sink({.dir = tmp / "audit"}).value());
    osl::System system(std::move(options));
    for (int i = 0; i < 5; ++i) {
      auto r = system.run("mallory", osl::fs::Read{.path = tmp / ("secret" + std::to_string(i))});
      EXPECT_FALSE(r);
    }
    ASSERT_TRUE(system.flush_audit());
    EXPECT_EQ(system.stats().audit_sink_errors, 0u);
  }
  auto l = Ledger::open(tmp / "audit", {.read_only = true}).value();
  ASSERT_EQ(l->size(), 5u);
  for (std::uint64_t i = 0; i < 5; ++i) {
    auto e = l->entry(i).value();
    const std::string line(e.begin(), e.end());
    EXPECT_NE(line.find("\"mallory\""), std::string::npos) << line;
    EXPECT_NE(line.find("secret" + std::to_string(i)), std::string::npos) << line;
  }
  auto report = verify(tmp / "audit").value();
  EXPECT_TRUE(report.intact) << report.problem;
  // And a proof for one audit record verifies offline against the root.
  auto proof = l->inclusion_proof(3, 5).value();
  EXPECT_TRUE(verify_inclusion(l->leaf_hash(3).value(), 3, 5, proof, l->root()));
}

}  // namespace
}  // namespace airssys::ledger
