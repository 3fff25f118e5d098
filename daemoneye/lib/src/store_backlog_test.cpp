// StoreBacklog against a real Store whose WAL writes fail through osl's
// fault seam (ENOSPC, as a full disk gives): failed batches are kept and
// written, in order, once the store works again; the bounds drop the
// oldest and count them; retries back off; a newer collection supersedes
// an older one.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <airssys/daemoneye/store_backlog.hpp>
#include <airssys/osl/file_io.hpp>
#include <cerrno>
#include <optional>
#include <set>

#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

namespace io = airssys::osl::io;
using namespace std::chrono_literals;
using test::Peek;
using test::proc;
using test::TempDir;

std::vector<ProcessEvent> batch(std::int64_t first, int n) {
  std::vector<ProcessEvent> out;
  for (int i = 0; i < n; ++i) {
    ProcessEvent e;
    e.kind = EventKind::start;
    e.time = 1764000000 + first + i;
    e.process = proc(first + i, fmt::format("p{}", first + i));
    out.push_back(std::move(e));
  }
  return out;
}

std::set<std::int64_t> stored_pids(const std::filesystem::path& db) {
  std::set<std::int64_t> out;
  Peek peek(db);
  auto st = sqlite::prepare(peek.get(), "SELECT pid FROM process_events");
  while (st && ::sqlite3_step(st->get()) == SQLITE_ROW) out.insert(::sqlite3_column_int64(st->get(), 0));
  return out;
}

std::set<std::int64_t> range(std::int64_t first, int n) {
  std::set<std::int64_t> out;
  for (int i = 0; i < n; ++i) out.insert(first + i);
  return out;
}

struct Fixture {
  TempDir tmp;
  std::filesystem::path db = tmp / "de.db";
  std::unique_ptr<Store> store;
  Fixture() {
    auto s = Store::open({.path = db});
    EXPECT_TRUE(s) << (s ? std::string() : s.error().to_string());
    if (s) store = std::move(*s);
  }
};

// Every WAL write fails with ENOSPC until the injector is reset (the disk frees up).
void fill(std::optional<io::FaultInjection>& f) {
  f.emplace();
  f->add({.call = io::FileCall::write, .path_contains = "-wal", .times = 0, .error = ENOSPC});
}

TEST(StoreBacklog, FailedBatchesAreWrittenInOrderOnceTheDiskHasRoom) {
  Fixture f;
  ASSERT_TRUE(f.store);
  StoreBacklog backlog;
  auto t = StoreBacklog::Clock::now();
  backlog.add_events(batch(100, 5));
  ASSERT_TRUE(backlog.write_events(*f.store, t, false));
  EXPECT_EQ(backlog.counters().store_failures, 0u);

  std::optional<io::FaultInjection> disk;
  fill(disk);
  backlog.add_events(batch(200, 5));
  auto r = backlog.write_events(*f.store, t, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::resource_exhausted) << r.error();
  backlog.add_events(batch(300, 5));
  ASSERT_FALSE(backlog.write_events(*f.store, t + 10s, true));
  auto c = backlog.counters();
  EXPECT_EQ(c.store_failures, 2u);
  EXPECT_EQ(c.batches_pending, 2u);
  EXPECT_EQ(c.events_pending, 10u);
  EXPECT_EQ(c.events_dropped, 0u);
  EXPECT_NE(c.last_error.find("resource_exhausted"), std::string::npos) << c.last_error;

  disk.reset();
  ASSERT_TRUE(backlog.write_events(*f.store, t + 20s, false));
  c = backlog.counters();
  EXPECT_EQ(c.batches_pending, 0u);
  EXPECT_EQ(c.events_pending, 0u);
  EXPECT_TRUE(backlog.empty());
  std::set<std::int64_t> want = range(100, 5);
  want.merge(range(200, 5));
  want.merge(range(300, 5));
  EXPECT_EQ(stored_pids(f.db), want);
}

TEST(StoreBacklog, PastTheBoundsTheOldestBatchesAreDroppedAndCounted) {
  Fixture f;
  ASSERT_TRUE(f.store);
  StoreBacklog backlog({.max_batches = 3});
  const auto t = StoreBacklog::Clock::now();
  std::optional<io::FaultInjection> disk;
  fill(disk);
  for (int b = 0; b < 5; ++b) {
    backlog.add_events(batch(1000 + b * 100, 4));
    (void)backlog.write_events(*f.store, t, true);
  }
  auto c = backlog.counters();
  EXPECT_EQ(c.batches_pending, 3u);
  EXPECT_EQ(c.events_pending, 12u);
  EXPECT_EQ(c.events_dropped, 8u);
  disk.reset();
  ASSERT_TRUE(backlog.write_events(*f.store, t, true));
  std::set<std::int64_t> want = range(1200, 4);
  want.merge(range(1300, 4));
  want.merge(range(1400, 4));
  EXPECT_EQ(stored_pids(f.db), want);

  // The byte bound: room for two batches of four events and a half, not three.
  const std::size_t one = StoreBacklog::estimated_bytes(batch(1, 1)[0]);
  EXPECT_GT(one, sizeof(ProcessEvent));
  StoreBacklog small({.max_bytes = one * 4 * 2 + one * 2});
  for (int b = 0; b < 4; ++b) small.add_events(batch(2000 + b * 100, 4));
  EXPECT_EQ(small.counters().batches_pending, 2u);
  EXPECT_EQ(small.counters().events_dropped, 8u);
  // One batch over the bound by itself is still kept.
  StoreBacklog tiny({.max_bytes = 1});
  tiny.add_events(batch(1, 3));
  EXPECT_EQ(tiny.counters().events_pending, 3u);
  EXPECT_EQ(tiny.drop_all(), 3u);
  EXPECT_EQ(tiny.counters().events_dropped, 3u);
  EXPECT_TRUE(tiny.empty());
}

TEST(StoreBacklog, RetriesBackOffAndASuccessEndsTheBackoff) {
  Fixture f;
  ASSERT_TRUE(f.store);
  StoreBacklog backlog({.retry_initial = 100ms, .retry_max = 350ms});
  const auto t = StoreBacklog::Clock::now();
  EXPECT_TRUE(backlog.due(t));
  std::optional<io::FaultInjection> disk;
  fill(disk);
  backlog.add_events(batch(1, 2));
  ASSERT_FALSE(backlog.write_events(*f.store, t, false));
  EXPECT_FALSE(backlog.due(t + 99ms));
  EXPECT_TRUE(backlog.due(t + 100ms));
  // Not due: nothing is tried, nothing counted.
  ASSERT_TRUE(backlog.write_events(*f.store, t + 50ms, false));
  EXPECT_EQ(backlog.counters().store_failures, 1u);
  ASSERT_FALSE(backlog.write_events(*f.store, t + 100ms, false));  // backoff now 200 ms
  EXPECT_FALSE(backlog.due(t + 299ms));
  EXPECT_TRUE(backlog.due(t + 300ms));
  ASSERT_FALSE(backlog.write_events(*f.store, t + 300ms, false));  // 350 ms, the cap
  EXPECT_FALSE(backlog.due(t + 649ms));
  EXPECT_TRUE(backlog.due(t + 650ms));
  EXPECT_EQ(backlog.counters().store_failures, 3u);
  disk.reset();
  ASSERT_TRUE(backlog.write_events(*f.store, t + 650ms, false));
  EXPECT_TRUE(backlog.due(t + 650ms));
  EXPECT_EQ(stored_pids(f.db), range(1, 2));
}

TEST(StoreBacklog, ANewerCollectionSupersedesAPendingOne) {
  StoreBacklog backlog;
  EXPECT_FALSE(backlog.take_collection());
  backlog.keep_collection({.scan_id = 1, .processes = {proc(10, "a")}});
  EXPECT_EQ(backlog.counters().batches_pending, 1u);
  backlog.keep_collection({.scan_id = 2, .processes = {proc(11, "b")}});
  EXPECT_EQ(backlog.counters().batches_pending, 1u);
  EXPECT_EQ(backlog.counters().snapshots_superseded, 1u);
  auto c = backlog.take_collection();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scan_id, 2u);
  EXPECT_TRUE(backlog.empty());
}

}  // namespace
}  // namespace airssys::daemoneye
