// make_snapshot_chunks: every chunk encodes within the limit, even for
// hostile records, and the chunks carry the whole collection in order.

#include <airssys/daemoneye/snapshot_chunks.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include <airssys/daemoneye/scan_assembler.hpp>

#include "socket_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::unix_socket_row;

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

TEST(SnapshotChunks, AMapsPathCutForTheWireKeepsItsDeletedSuffix) {
  MemoryMapRow deleted{.pid = 1, .inode = 5, .path = "/home/u/" + std::string(2 * kWireFieldMax, 'd') + "/x.so (deleted)"};
  cap_for_wire(deleted);
  EXPECT_EQ(deleted.path.size(), kWireFieldMax);
  EXPECT_TRUE(deleted.path.ends_with("dd (deleted)")) << deleted.path.substr(deleted.path.size() - 20);
  MemoryMapRow live{.pid = 1, .inode = 5, .path = "/home/u/" + std::string(2 * kWireFieldMax, 'd') + "/x.so"};
  cap_for_wire(live);
  EXPECT_EQ(live.path, "/home/u/" + std::string(kWireFieldMax - 8, 'd'));
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

// The socket rows follow the processes, split across chunks under the same
// bound (hostile paths included), every row once and in order, each chunk
// decoding back to its rows.
TEST(SnapshotChunks, SocketRowsAreSplitAcrossChunksWithinTheLimit) {
  std::vector<ProcessRecord> procs;
  for (int i = 1; i <= 50; ++i) procs.push_back(typical(i));
  std::vector<osl::proc::OpenSocket> socks;
  for (int i = 0; i < 3000; ++i) socks.push_back(unix_socket_row(1 + i % 50, i, "@" + hostile(100, i)));
  socks.push_back(unix_socket_row(7, 1 << 20, std::string(4 * kWireFieldMax, 'p')));  // capped on the way
  const SnapshotHeader h{.scan_id = 1, .time = 2, .unreadable = 0, .collect_us = 3};
  constexpr std::size_t kMax = 64 * 1024;
  auto chunks = make_snapshot_chunks(procs, h, kMax, socks);
  ASSERT_GT(chunks.size(), 2u);
  expect_well_formed(chunks, procs, h, kMax);
  std::vector<osl::proc::OpenSocket> back;
  for (const auto& c : chunks) {
    auto decoded = decode_snapshot(encode(c));
    ASSERT_TRUE(decoded) << decoded.error();
    ASSERT_EQ(decoded->sockets.size(), c.sockets.size());
    back.insert(back.end(), c.sockets.begin(), c.sockets.end());
  }
  ASSERT_EQ(back.size(), socks.size());
  for (std::size_t i = 0; i < socks.size(); ++i) {
    EXPECT_EQ(back[i].fd, socks[i].fd) << i;
    EXPECT_EQ(back[i].pid, socks[i].pid) << i;
  }
  EXPECT_LE(back.back().entry.path.size(), kWireFieldMax);
  EXPECT_EQ(back[5].entry.path, socks[5].entry.path);
}

// The host's accounts follow the sockets under the same bound, hostile text
// included; every chunk says has_users / has_groups, and the assembler gives
// the tables back whole. Without accounts nothing is said, and the
// collection leaves the tables alone (nullopt); read but empty is not that.
TEST(SnapshotChunks, AccountRowsAreSplitAcrossChunksAndAssembledWhole) {
  std::vector<ProcessRecord> procs;
  for (int i = 1; i <= 50; ++i) procs.push_back(typical(i));
  std::vector<UserAccount> users;
  for (int i = 0; i < 2000; ++i)
    users.push_back({.uid = 4294967295 - i, .gid = i, .username = "u" + std::to_string(i), .description = hostile(60, i),
                     .directory = "/home/" + hostile(20, i + 1), .shell = "/bin/sh"});
  users.push_back({.uid = 1, .gid = 1, .username = std::string(4 * kWireFieldMax, 'n')});  // capped on the way
  std::vector<GroupAccount> groups;
  for (int i = 0; i < 2000; ++i) groups.push_back({.gid = i, .groupname = hostile(40, i)});
  const SnapshotHeader h{.scan_id = 1, .time = 2, .unreadable = 0, .collect_us = 3};
  constexpr std::size_t kMax = 64 * 1024;
  auto chunks = make_snapshot_chunks(procs, h, kMax, {unix_socket_row(1, 3, "/run/x")},
                                     SnapshotAccounts{.users = users, .groups = groups});
  ASSERT_GT(chunks.size(), 4u);
  expect_well_formed(chunks, procs, h, kMax);
  ScanAssembler assembler;
  std::optional<Collection> whole;
  for (const auto& c : chunks) {
    EXPECT_TRUE(c.has_users && c.has_groups);
    auto decoded = decode_snapshot(encode(c));
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(decoded->users.size(), c.users.size());
    whole = assembler.add(std::move(*decoded));
  }
  ASSERT_TRUE(whole);
  ASSERT_TRUE(whole->users && whole->groups);
  ASSERT_EQ(whole->users->size(), users.size());
  EXPECT_EQ((*whole->users)[7].username, "u7");  // (hostile text comes back with U+FFFD for invalid UTF-8)
  EXPECT_EQ((*whole->users)[7].uid, 4294967288);
  EXPECT_EQ(whole->users->back().username.size(), kWireFieldMax);
  ASSERT_EQ(whole->groups->size(), groups.size());
  EXPECT_EQ((*whole->groups)[1999].gid, 1999);

  auto without = make_snapshot_chunks(procs, h, kMax);
  ASSERT_EQ(without.size(), 1u);
  EXPECT_EQ(encode(without[0]).find("has_users"), std::string::npos);
  auto none = ScanAssembler().add(*decode_snapshot(encode(without[0])));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->users);
  EXPECT_FALSE(none->groups);
  auto empty = make_snapshot_chunks(procs, h, kMax, {}, SnapshotAccounts{.users = std::vector<UserAccount>{}});
  auto read_empty = ScanAssembler().add(*decode_snapshot(encode(empty[0])));
  ASSERT_TRUE(read_empty);
  ASSERT_TRUE(read_empty->users);
  EXPECT_TRUE(read_empty->users->empty());
  EXPECT_FALSE(read_empty->groups);
}

// decode_snapshot names what is wrong in a socket row; a chunk without
// "sockets" (an older procmond) has none.
TEST(SnapshotChunks, DecodeNamesBadSocketFields) {
  const std::string head = R"({"scan_id":1,"seq":0,"last":true,"time":1,"total":0,"unreadable":0,"collect_us":0,)"
                           R"("processes":[])";
  auto none = decode_snapshot(head + "}");
  ASSERT_TRUE(none) << none.error();
  EXPECT_TRUE(none->sockets.empty());

  SnapshotChunk one;
  one.sockets.push_back(unix_socket_row(9, 3, "/run/x"));
  auto good = decode_snapshot(encode(one));
  ASSERT_TRUE(good) << good.error();
  ASSERT_EQ(good->sockets.size(), 1u);
  EXPECT_EQ(good->sockets[0], one.sockets[0]);

  EXPECT_FALSE(decode_snapshot(head + R"(,"sockets":{}})"));
  const auto not_object = decode_snapshot(head + R"(,"sockets":[1]})");
  ASSERT_FALSE(not_object);
  EXPECT_EQ(not_object.error().message, "snapshot.sockets[0]: not an object");
  const auto missing = decode_snapshot(head + R"(,"sockets":[{"pid":1}]})");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("snapshot.sockets[0]"), std::string::npos) << missing.error().message;
  const auto wrong_type = decode_snapshot(
      head + R"(,"sockets":[{"pid":1,"fd":"x","socket":1,"family":1,"protocol":0,"local_address":"",)"
             R"("remote_address":"","local_port":0,"remote_port":0,"path":"","state":"","net_namespace":1}]})");
  ASSERT_FALSE(wrong_type);
  EXPECT_NE(wrong_type.error().message.find("snapshot.sockets[0].fd"), std::string::npos)
      << wrong_type.error().message;
}

}  // namespace
}  // namespace airssys::daemoneye
