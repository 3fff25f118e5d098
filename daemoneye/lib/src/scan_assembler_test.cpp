#include <airssys/daemoneye/scan_assembler.hpp>

#include <gtest/gtest.h>

namespace airssys::daemoneye {
namespace {

SnapshotChunk chunk(std::uint64_t scan, std::uint32_t seq, bool last, std::vector<std::int64_t> pids) {
  SnapshotChunk c;
  c.scan_id = scan;
  c.seq = seq;
  c.last = last;
  for (auto p : pids) {
    ProcessRecord r;
    r.pid = p;
    c.processes.push_back(r);
  }
  return c;
}

std::vector<std::int64_t> pids(const Collection& c) {
  std::vector<std::int64_t> out;
  for (const auto& r : c.processes) out.push_back(r.pid);
  return out;
}

TEST(ScanAssembler, JoinsChunksInOrder) {
  ScanAssembler a;
  EXPECT_FALSE(a.add(chunk(1, 0, false, {1, 2})));
  EXPECT_FALSE(a.add(chunk(1, 1, false, {3})));
  auto c = a.add(chunk(1, 2, true, {4}));
  ASSERT_TRUE(c);
  EXPECT_EQ(pids(*c), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(a.incomplete(), 0u);
  auto single = a.add(chunk(2, 0, true, {9}));
  ASSERT_TRUE(single);
  EXPECT_EQ(pids(*single), (std::vector<std::int64_t>{9}));
}

TEST(ScanAssembler, AGapDiscardsTheCollection) {
  ScanAssembler a;
  EXPECT_FALSE(a.add(chunk(1, 0, false, {1})));
  EXPECT_FALSE(a.add(chunk(1, 2, true, {3})));  // seq 1 lost
  EXPECT_EQ(a.incomplete(), 2u);                 // the broken one, and the orphan tail
  auto c = a.add(chunk(2, 0, true, {5}));
  ASSERT_TRUE(c);
  EXPECT_EQ(pids(*c), (std::vector<std::int64_t>{5}));
}

TEST(ScanAssembler, ARestartedProcmondStartsOver) {
  ScanAssembler a;
  EXPECT_FALSE(a.add(chunk(7, 0, false, {1})));
  // procmond died mid-collection; the new one counts from scan 1 again.
  auto c = a.add(chunk(1, 0, true, {2}));
  ASSERT_TRUE(c);
  EXPECT_EQ(pids(*c), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(a.incomplete(), 1u);
}

TEST(ScanAssembler, AHugeTotalOnTheWireIsOnlyAHint) {
  ScanAssembler a;
  SnapshotChunk c = chunk(1, 0, true, {1});
  c.total = 0xFFFFFFFFu;
  auto done = a.add(std::move(c));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->processes.size(), 1u);
}

}  // namespace
}  // namespace airssys::daemoneye
