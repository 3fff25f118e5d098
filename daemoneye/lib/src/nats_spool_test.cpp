// NatsSpool against real files in a temp dir: what is appended survives a
// reopen in order, acks and drops are remembered, a torn tail is cut off,
// the size bound drops the oldest, and a write that fails (osl::io fault
// injection: ENOSPC, EIO) is reported and later repaired from memory.
#include "nats_spool.hpp"

#include <airssys/osl/file_io.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_temp_dir.hpp"

namespace airssys::daemoneye::detail {
namespace {

using testing::TempDir;

std::vector<NatsSpool::Entry> entries(int from, int to) {
  std::vector<NatsSpool::Entry> out;
  for (int i = from; i <= to; ++i) out.push_back({"id-" + std::to_string(i), "{\"n\":" + std::to_string(i) + "}"});
  return out;
}

std::unique_ptr<NatsSpool> open_spool(const std::filesystem::path& dir, std::uint64_t max = 1 << 20,
                                      std::vector<std::string>* logs = nullptr) {
  auto s = NatsSpool::open(dir, max, [logs](std::string_view m) {
    if (logs) logs->emplace_back(m);
  });
  EXPECT_TRUE(s) << s.error();
  return s ? std::move(*s) : nullptr;
}

// Acks everything, returning the ids in the order they came out.
std::vector<std::string> drain(NatsSpool& s) {
  std::vector<std::string> ids;
  while (auto m = s.front()) {
    ids.push_back(m->id);
    EXPECT_TRUE(s.ack(m->seq));
  }
  return ids;
}

TEST(NatsSpool, WhatWasAppendedComesBackInOrderAfterAReopenWithoutTheAcked) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  {
    auto s = open_spool(dir);
    ASSERT_TRUE(s->append(entries(1, 5)).written);
    auto m = s->front();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->id, "id-1");
    EXPECT_EQ(m->json, "{\"n\":1}");
    ASSERT_TRUE(s->ack(m->seq));
    ASSERT_TRUE(s->ack(s->front()->seq));
    EXPECT_EQ(s->size(), 3u);
  }
  auto s = open_spool(dir);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-3", "id-4", "id-5"}));
  EXPECT_EQ(s->file_size(), 0u) << "an empty spool is truncated";
  struct stat st{};
  ASSERT_EQ(::stat((dir / "alerts.spool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(NatsSpool, AnAckForAnAlertNoLongerAtTheFrontChangesNothing) {
  TempDir tmp;
  auto s = open_spool(tmp.path() / "spool");
  ASSERT_TRUE(s->append(entries(1, 2)).written);
  const auto first = s->front()->seq;
  ASSERT_TRUE(s->ack(first));
  ASSERT_TRUE(s->ack(first));  // again: already gone
  EXPECT_EQ(s->size(), 1u);
  EXPECT_EQ(s->front()->id, "id-2");
}

TEST(NatsSpool, ATornRecordAtTheEndIsCutOffAndLogged) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  { ASSERT_TRUE(open_spool(dir)->append(entries(1, 2)).written); }
  const auto file = dir / "alerts.spool";
  const std::string whole = testing::read_file(file);
  testing::write_file(file, whole + "m 4 100\nid-3{\"n\"");  // a crash in the middle of an append
  std::vector<std::string> logs;
  auto s = open_spool(dir, 1 << 20, &logs);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-1", "id-2"}));
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("a torn record at the end at byte " + std::to_string(whole.size())), std::string::npos)
      << logs[0];
}

TEST(NatsSpool, ADamagedRecordEndsTheReadablePart) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  ::mkdir(dir.c_str(), 0700);
  testing::write_file(dir / "alerts.spool", "m 4 7\nid-1{\"n\":1}\nx 1\nm 4 7\nid-2{\"n\":2}\n");
  std::vector<std::string> logs;
  auto s = open_spool(dir, 1 << 20, &logs);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-1"}));
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("a damaged record at byte 18"), std::string::npos) << logs[0];
}

TEST(NatsSpool, AnEmptyLineIsADamagedRecord) {
  // Read as damage, not by looking at the first byte of an empty header.
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  ::mkdir(dir.c_str(), 0700);
  testing::write_file(dir / "alerts.spool", "m 4 7\nid-1{\"n\":1}\n\nm 4 7\nid-2{\"n\":2}\n");
  std::vector<std::string> logs;
  auto s = open_spool(dir, 1 << 20, &logs);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-1"}));
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("a damaged record at byte 18"), std::string::npos) << logs[0];
}

TEST(NatsSpool, WhenFullTheOldestAreDroppedAndCounted) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  const std::uint64_t one = std::string("m 4 7\nid-1{\"n\":1}\n").size();
  {
    auto s = open_spool(dir, 3 * one);
    EXPECT_EQ(s->append(entries(1, 3)).dropped, 0u);
    const auto appended = s->append(entries(4, 5));
    EXPECT_TRUE(appended.written);
    EXPECT_EQ(appended.dropped, 2u);
    EXPECT_LE(s->bytes(), 3 * one);
    // An alert larger than the whole spool is dropped itself.
    EXPECT_EQ(s->append({{"big", std::string(4 * one, 'x')}}).dropped, 1u);
  }
  auto s = open_spool(dir, 3 * one);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-3", "id-4", "id-5"}));
}

TEST(NatsSpool, ABatchLargerThanTheSpoolKeepsItsNewestAcrossAReopen) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  const std::uint64_t one = std::string("m 4 7\nid-1{\"n\":1}\n").size();
  {
    auto s = open_spool(dir, 3 * one);
    ASSERT_TRUE(s->append(entries(1, 2)).written);
    const auto appended = s->append(entries(3, 7));  // evicts 1, 2 and then 3, 4 of this batch
    EXPECT_TRUE(appended.written);
    EXPECT_EQ(appended.dropped, 4u);
  }
  std::vector<std::string> logs;
  auto s = open_spool(dir, 3 * one, &logs);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-5", "id-6", "id-7"}));
  EXPECT_TRUE(logs.empty()) << logs.front();
}

TEST(NatsSpool, AFailedWriteIsReportedAndTheAlertIsWrittenWithTheNextOne) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  {
    auto s = open_spool(dir);
    ASSERT_TRUE(s->append(entries(1, 1)).written);
    {
      osl::io::FaultInjection faults;
      faults.add({.call = osl::io::FileCall::write, .path_contains = "alerts.spool", .error = ENOSPC});
      const auto appended = s->append(entries(2, 2));
      ASSERT_FALSE(appended.written);
      EXPECT_EQ(appended.written.error().category, ErrorCategory::resource_exhausted) << appended.written.error();
      EXPECT_NE(appended.written.error().message.find("alerts.spool"), std::string::npos);
      EXPECT_EQ(s->size(), 2u) << "kept in memory";
    }
    // The disk has room again: the next append rewrites the file from memory.
    ASSERT_TRUE(s->append(entries(3, 3)).written);
  }
  auto s = open_spool(dir);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-1", "id-2", "id-3"}));
}

TEST(NatsSpool, AFailedSyncIsReportedAndCutsTheUnsyncedRecordOff) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  auto s = open_spool(dir);
  osl::io::FaultInjection faults;
  faults.add({.call = osl::io::FileCall::sync, .path_contains = "alerts.spool", .error = EIO});
  const auto appended = s->append(entries(1, 1));
  ASSERT_FALSE(appended.written);
  EXPECT_EQ(appended.written.error().category, ErrorCategory::io);
  EXPECT_EQ(faults.fired(), 1);
  EXPECT_EQ(s->size(), 1u);
}

TEST(NatsSpool, AnUnsafeDirectoryIsRefused) {
  TempDir tmp;
  const auto real = tmp.path() / "real";
  ::mkdir(real.c_str(), 0700);
  const auto link = tmp.path() / "link";
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  auto via_link = NatsSpool::open(link, 1 << 20, nullptr);
  ASSERT_FALSE(via_link);
  EXPECT_EQ(via_link.error().category, ErrorCategory::denied) << via_link.error();

  const auto open_dir = tmp.path() / "world";
  ::mkdir(open_dir.c_str(), 0700);
  ::chmod(open_dir.c_str(), 0777);
  auto world = NatsSpool::open(open_dir, 1 << 20, nullptr);
  ASSERT_FALSE(world);
  EXPECT_EQ(world.error().category, ErrorCategory::denied) << world.error();
}

TEST(NatsSpool, ASymlinkInPlaceOfTheFileIsRefused) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  ::mkdir(dir.c_str(), 0700);
  testing::write_file(tmp.path() / "elsewhere", "");
  ASSERT_EQ(::symlink((tmp.path() / "elsewhere").c_str(), (dir / "alerts.spool").c_str()), 0);
  auto s = NatsSpool::open(dir, 1 << 20, nullptr);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().category, ErrorCategory::denied) << s.error();
}

TEST(NatsSpool, OneSpoolDirectoryServesOneSinkAtATime) {
  TempDir tmp;
  auto first = open_spool(tmp.path() / "spool");
  auto second = NatsSpool::open(tmp.path() / "spool", 1 << 20, nullptr);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().category, ErrorCategory::busy) << second.error();
}

TEST(NatsSpool, AcksPastMaxSizeCompactTheFile) {
  TempDir tmp;
  const std::uint64_t one = std::string("m 5 8\nid-10{\"n\":10}\n").size();  // every id here has two digits
  auto s = open_spool(tmp.path() / "spool", 4 * one);
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(s->append(entries(10 + round * 2, 11 + round * 2)).written);
    ASSERT_TRUE(s->ack(s->front()->seq));  // one stays behind each round
  }
  EXPECT_LE(s->file_size(), s->bytes() + 4 * one + 8) << "dead records are compacted away";
  EXPECT_EQ(s->size(), 3u);  // bounded at 4 by dropping the oldest, then one acked
}

TEST(NatsSpool, AFailedCompactionRemovesItsCopyAndIsNotRetriedOnEveryAck) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  const std::uint64_t one = std::string("m 5 8\nid-10{\"n\":10}\n").size();  // every id here has two digits
  auto s = open_spool(dir, 4 * one);
  osl::io::FaultInjection faults;
  // The copy is written in full, then its sync fails: a partial copy on disk.
  faults.add({.call = osl::io::FileCall::sync, .path_contains = "alerts.spool.compact", .times = 0, .error = EIO});
  int failed_acks = 0;
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(s->append(entries(10 + round * 2, 11 + round * 2)).written);
    const auto acked = s->ack(s->front()->seq);
    if (!acked) {
      ++failed_acks;
      EXPECT_NE(acked.error().message.find("alerts.spool.compact"), std::string::npos) << acked.error();
    }
    EXPECT_FALSE(std::filesystem::exists(dir / "alerts.spool.compact")) << "round " << round;
  }
  EXPECT_EQ(failed_acks, 1);
  EXPECT_EQ(faults.fired(), 1) << "no second try within kCompactionRetry";
  EXPECT_EQ(s->size(), 3u) << "the alerts are all still there";
}

TEST(NatsSpool, AMaxSizeAboveTheLimitIsRefused) {
  TempDir tmp;
  auto s = NatsSpool::open(tmp.path() / "spool", kNatsSpoolMaxSize + 1, nullptr);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().category, ErrorCategory::invalid_input) << s.error();
  EXPECT_NE(s.error().message.find("above the limit"), std::string::npos) << s.error();
  EXPECT_TRUE(NatsSpool::open(tmp.path() / "spool", kNatsSpoolMaxSize, nullptr)) << "the limit itself is allowed";
}

TEST(NatsSpool, ANewSpoolFileIsMadeDurableInItsDirectory) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  {
    osl::io::FaultInjection faults;
    faults.add({.call = osl::io::FileCall::sync, .path_contains = dir.string(), .error = EIO});
    auto s = NatsSpool::open(dir, 1 << 20, nullptr);
    ASSERT_FALSE(s) << "the directory's fsync after creating alerts.spool failed";
    EXPECT_EQ(s.error().category, ErrorCategory::io) << s.error();
    EXPECT_EQ(faults.fired(), 1);
  }
  EXPECT_TRUE(open_spool(dir));
}

TEST(NatsSpool, ANewDirectoryIsMadeDurableInItsParent) {
  TempDir tmp;
  osl::io::FaultInjection faults;
  faults.add({.call = osl::io::FileCall::sync, .path_contains = tmp.path().string(), .error = EIO});
  auto s = NatsSpool::open(tmp.path() / "spool", 1 << 20, nullptr);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().category, ErrorCategory::io) << s.error();
  EXPECT_NE(s.error().message.find("sync " + tmp.path().string()), std::string::npos) << s.error();
}

TEST(NatsSpool, ARewriteWhoseDirectorySyncFailsIsReportedAndNotTakenAsDurable) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  {
    auto s = open_spool(dir);
    ASSERT_TRUE(s->append(entries(1, 3)).written);
    ASSERT_TRUE(s->ack(s->front()->seq));  // a dead record: the next open rewrites the file
  }
  std::vector<std::string> logs;
  osl::io::FaultInjection faults;
  // The rewrite's first sync is the temp file's fdatasync; the second the directory's fsync.
  faults.add({.call = osl::io::FileCall::sync, .path_contains = dir.string(), .after = 1, .error = EIO});
  auto s = open_spool(dir, 1 << 20, &logs);
  ASSERT_TRUE(s);
  EXPECT_EQ(faults.fired(), 1);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("sync " + dir.string()), std::string::npos) << logs[0];
  // Until a rewrite's rename is durable, what is appended is not either.
  EXPECT_FALSE(s->append(entries(4, 4)).written);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-2", "id-3", "id-4"}));
}

TEST(NatsSpool, AnAlertsAndAnEventsSpoolShareADirectory) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  auto alerts = open_spool(dir);
  auto events = NatsSpool::open(dir, 1 << 20, nullptr, "events");
  ASSERT_TRUE(events) << events.error();
  ASSERT_TRUE((*events)->append(entries(1, 1)).written);
  EXPECT_EQ((*events)->path(), dir / "events.spool");
  EXPECT_EQ(alerts->size(), 0u);
  auto second = NatsSpool::open(dir, 1 << 20, nullptr, "events");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().category, ErrorCategory::busy) << second.error();
}

TEST(NatsSpool, ACompactionKeepsWhatWasAppendedAndDroppedWhileItWasWritten) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  const std::uint64_t one = std::string("m 5 8\nid-10{\"n\":10}\n").size();  // every id here has two digits
  {
    auto s = open_spool(dir, 4 * one);
    s->defer_compaction(true);
    for (int round = 0; round < 6; ++round) {
      ASSERT_TRUE(s->append(entries(10 + round * 2, 11 + round * 2)).written);
      ASSERT_TRUE(s->ack(s->front()->seq));
    }
    ASSERT_TRUE(s->compaction_due()) << "deferred: ack() left it to the caller";
    const auto before = s->file_size();
    const auto c = s->begin_compaction();
    // Meanwhile (the caller's lock released): new alerts push the oldest out.
    ASSERT_TRUE(s->append(entries(30, 32)).written);
    auto file = s->write_compaction(c);
    ASSERT_TRUE(file) << file.error();
    ASSERT_TRUE(s->finish_compaction(c, std::move(*file)));
    EXPECT_LT(s->file_size(), before);
    EXPECT_FALSE(s->compaction_due());
  }
  auto s = open_spool(dir, 4 * one);
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"id-21", "id-30", "id-31", "id-32"}));
}

TEST(NatsSpool, ACompactionOfAFileReplacedMeanwhileIsGivenUp) {
  TempDir tmp;
  const auto dir = tmp.path() / "spool";
  auto s = open_spool(dir);
  ASSERT_TRUE(s->append(entries(10, 12)).written);
  const auto c = s->begin_compaction();
  auto file = s->write_compaction(c);
  ASSERT_TRUE(file);
  while (auto m = s->front()) ASSERT_TRUE(s->ack(m->seq));  // empty: truncated in place
  ASSERT_TRUE(s->append(entries(13, 13)).written);
  ASSERT_TRUE(s->finish_compaction(c, std::move(*file)));
  EXPECT_FALSE(std::filesystem::exists(dir / "alerts.spool.compact")) << "the stale copy is removed";
  s.reset();
  auto reopened = open_spool(dir);
  EXPECT_EQ(drain(*reopened), (std::vector<std::string>{"id-13"})) << "the acked alerts did not come back";
}

}  // namespace
}  // namespace airssys::daemoneye::detail
