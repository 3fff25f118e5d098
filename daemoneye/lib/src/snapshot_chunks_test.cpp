// make_snapshot_chunks: every chunk encodes within the limit, even for
// hostile records, and the chunks carry the whole collection in order.

#include <airssys/daemoneye/snapshot_chunks.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

namespace airssys::daemoneye {
namespace {

ProcessRecord typical(std::int64_t pid) {
  ProcessRecord r;
  r.pid = pid;
  r.parent = 1;
  r.name = "worker";
  r.path = "/usr/bin/worker";
  r.cmdline = "/usr/bin/worker --config /etc/worker.yaml --threads 4";
  r.cwd = "/var/lib/worker";
  r.root = "/";
  r.username = "worker";
  r.state = "S";
  r.cgroup_path = "/system.slice/worker.service";
  r.sha256 = std::string(64, 'a');
  r.start_ticks = static_cast<std::uint64_t>(pid) * 10;
  return r;
}

// The worst bytes for the encoder: control characters, quotes, invalid UTF-8.
std::string hostile(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  const std::string alphabet = std::string("\x01\x1f\"\\\xff\xc3\x80\n\t", 9) + "a\xe2\x82\xac";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[gen() % alphabet.size()]);
  return s;
}

void expect_well_formed(const std::vector<SnapshotChunk>& chunks, const std::vector<ProcessRecord>& input,
                        const SnapshotHeader& h, std::size_t max_bytes) {
  ASSERT_FALSE(chunks.empty());
  std::size_t next = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    EXPECT_EQ(c.seq, i);
    EXPECT_EQ(c.last, i + 1 == chunks.size());
    EXPECT_EQ(c.scan_id, h.scan_id);
    EXPECT_EQ(c.time, h.time);
    EXPECT_EQ(c.unreadable, h.unreadable);
    EXPECT_EQ(c.collect_us, h.collect_us);
    EXPECT_EQ(c.total, input.size());
    const std::string wire = encode(c);
    EXPECT_LE(wire.size(), max_bytes) << "chunk " << i << " of " << chunks.size();
    auto back = decode_snapshot(wire);
    ASSERT_TRUE(back) << back.error();
    ASSERT_EQ(back->processes.size(), c.processes.size());
    for (const auto& r : c.processes) {
      ASSERT_LT(next, input.size());
      EXPECT_EQ(r.pid, input[next].pid);
      ++next;
    }
  }
  EXPECT_EQ(next, input.size());
}

TEST(SnapshotChunks, EmptyCollectionIsOneLastChunk) {
  const SnapshotHeader h{.scan_id = 3, .time = 99, .unreadable = 0, .collect_us = 5};
  auto chunks = make_snapshot_chunks({}, h);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_TRUE(chunks[0].last);
  EXPECT_EQ(chunks[0].total, 0u);
  EXPECT_TRUE(chunks[0].processes.empty());
}

TEST(SnapshotChunks, ThousandsOfTypicalRecords) {
  std::vector<ProcessRecord> in;
  for (int i = 1; i <= 3000; ++i) in.push_back(typical(i));
  const SnapshotHeader h{.scan_id = 7, .time = 1700000000, .unreadable = 12, .collect_us = 45678};
  auto chunks = make_snapshot_chunks(in, h);
  EXPECT_GT(chunks.size(), 1u);
  expect_well_formed(chunks, in, h, kSnapshotChunkBytes);
  // Not absurdly pessimistic: typical chunks are at least half full.
  EXPECT_GT(encode(chunks[0]).size(), kSnapshotChunkBytes / 2);
}

TEST(SnapshotChunks, HostileRecordsStayWithinTheLimit) {
  std::vector<ProcessRecord> in;
  for (int i = 1; i <= 12; ++i) {
    ProcessRecord r = typical(i);
    r.cmdline = hostile(100 * 1024, static_cast<unsigned>(i));  // beyond the cap
    r.path = hostile(8000, static_cast<unsigned>(i) + 100);
    r.cwd = hostile(5000, static_cast<unsigned>(i) + 200);
    r.cgroup_path = hostile(9000, static_cast<unsigned>(i) + 300);
    r.name = hostile(64, static_cast<unsigned>(i) + 400);
    r.pid = std::numeric_limits<std::int64_t>::min() + i;
    r.cpu_percent = 1.0 / 3.0;
    in.push_back(r);
  }
  const SnapshotHeader h{.scan_id = std::numeric_limits<std::uint64_t>::max(), .time = -1, .unreadable = 1, .collect_us = 1};
  auto chunks = make_snapshot_chunks(in, h);
  expect_well_formed(chunks, in, h, kSnapshotChunkBytes);
  for (const auto& c : chunks) {
    for (const auto& r : c.processes) {
      EXPECT_LE(r.cmdline.size(), kWireCmdlineMax);
      EXPECT_LE(r.path.size(), kWireFieldMax);
      EXPECT_LE(r.cgroup_path.size(), kWireFieldMax);
    }
  }
  // A small limit: one record per chunk, each still encodes within the bound.
  auto small = make_snapshot_chunks(in, h, 1);
  EXPECT_EQ(small.size(), in.size());
  for (const auto& c : small) {
    ASSERT_EQ(c.processes.size(), 1u);
    SnapshotChunk empty = c;
    empty.processes.clear();
    EXPECT_LE(encode(c).size(), encode(empty).size() + encoded_size_bound(c.processes[0]));
  }
}

TEST(SnapshotChunks, TruncateUtf8NeverSplitsACharacter) {
  std::string s = "ab\xe2\x82\xac";  // "ab€"
  std::string t = s;
  truncate_utf8(t, 4);
  EXPECT_EQ(t, "ab");
  t = s;
  truncate_utf8(t, 3);
  EXPECT_EQ(t, "ab");
  t = s;
  truncate_utf8(t, 5);
  EXPECT_EQ(t, s);
  t = "abc";
  truncate_utf8(t, 2);
  EXPECT_EQ(t, "ab");
  t = std::string(10, '\x80');  // not UTF-8 at all: still cut, at most 3 bytes early
  truncate_utf8(t, 8);
  EXPECT_GE(t.size(), 5u);
  EXPECT_LE(t.size(), 8u);
}

}  // namespace
}  // namespace airssys::daemoneye
