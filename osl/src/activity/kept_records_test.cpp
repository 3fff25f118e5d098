// What the audit queue keeps of its records between batches stays within
// its bounds: at most 4,096 records, none past 4 KiB, 1 MiB in all, and the
// measurement follows records refilled with something larger.

#include "activity/kept_records.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace airssys::osl::detail {
namespace {

ActivityRecord with_detail(std::size_t n) {
  ActivityRecord r;
  r.principal = "alice";
  r.resources = {"/usr/bin/tool"};
  r.outcome = "started";
  r.detail_json = std::string(n, 'a');
  return r;
}

std::size_t held(const std::vector<ActivityRecord>& batch) {
  std::size_t bytes = 0;
  for (const auto& r : batch) bytes += KeptRecords::bytes_of(r);
  return bytes;
}

TEST(KeptRecords, SmallRecordsAreKeptUpToTheCount) {
  std::vector<ActivityRecord> batch(5000, with_detail(60));
  KeptRecords kept;
  kept.trim(batch, batch.size());
  EXPECT_EQ(batch.size(), KeptRecords::kMaxRecords);
  EXPECT_EQ(batch[4095].detail_json.size(), 60u) << "kept records keep their strings";
  EXPECT_EQ(kept.bytes(), held(batch));
  EXPECT_LE(kept.bytes(), KeptRecords::kMaxBytes);
}

TEST(KeptRecords, ABurstOfLargeRecordsLeavesAtMostTheByteBudget) {
  // ~3 KiB of argv each: under the per-record cap, 12 MiB if all were kept.
  std::vector<ActivityRecord> batch(4096, with_detail(3000));
  KeptRecords kept;
  kept.trim(batch, batch.size());
  EXPECT_LT(batch.size(), 4096u);
  EXPECT_GT(batch.size(), 250u) << "the budget is filled, not emptied";
  EXPECT_EQ(kept.bytes(), held(batch));
  EXPECT_LE(kept.bytes(), KeptRecords::kMaxBytes);
}

TEST(KeptRecords, ARecordPastThePerRecordCapLetsGoOfItsStrings) {
  std::vector<ActivityRecord> batch{with_detail(10), with_detail(KeptRecords::kMaxRecordBytes + 1), with_detail(10)};
  KeptRecords kept;
  kept.trim(batch, batch.size());
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[1].detail_json.capacity(), std::string().capacity());
  EXPECT_EQ(batch[2].detail_json.size(), 10u);
  EXPECT_EQ(kept.bytes(), held(batch));
}

TEST(KeptRecords, RefilledRecordsAreMeasuredAgain) {
  // A side keeps 4,096 small records; a later small batch refills its first
  // ones with large records. Only those are measured, and the total still
  // holds: the records at the end go.
  std::vector<ActivityRecord> batch(4096, with_detail(60));
  KeptRecords kept;
  kept.trim(batch, batch.size());
  ASSERT_EQ(batch.size(), 4096u);
  for (std::size_t i = 0; i < 400; ++i) batch[i].detail_json.assign(3000, 'b');
  kept.trim(batch, 400);
  EXPECT_EQ(kept.bytes(), held(batch));
  EXPECT_LE(kept.bytes(), KeptRecords::kMaxBytes);
  EXPECT_LT(batch.size(), 4096u);
  EXPECT_EQ(batch[0].detail_json.size(), 3000u) << "the front of the vector is kept";
}

TEST(KeptRecords, RecordsAddedAfterTheLastTrimAreMeasured) {
  std::vector<ActivityRecord> batch(10, with_detail(60));
  KeptRecords kept;
  kept.trim(batch, batch.size());
  // The producers needed more records than were kept: they appended.
  for (int i = 0; i < 100; ++i) batch.push_back(with_detail(2000));
  kept.trim(batch, batch.size());
  EXPECT_EQ(batch.size(), 110u);
  EXPECT_EQ(kept.bytes(), held(batch));
}

}  // namespace
}  // namespace airssys::osl::detail
