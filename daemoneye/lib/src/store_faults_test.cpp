// The store under I/O failure (issue 13): the Store's database and WAL are
// written through osl's fault seam (sqlite_vfs.hpp), so these tests make a
// chosen write fail with ENOSPC or EIO, come back short, or make an fsync
// fail, on a real SQLite file in a temp dir, and then simulate a power loss
// (everything never synced is cut off) and reopen. The Store must never
// acknowledge a batch it could not make durable, and after the crash every
// acknowledged row is there and PRAGMA integrity_check passes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <airssys/daemoneye/store.hpp>
#include <airssys/osl/file_io.hpp>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
namespace io = airssys::osl::io;
using test::Peek;
using test::proc;
using test::TempDir;

// `n` start events of new pids from `first` on: one batch as the agent stores it.
std::vector<ProcessEvent> batch(std::int64_t first, int n) {
  std::vector<ProcessEvent> out;
  for (int i = 0; i < n; ++i) {
    const std::int64_t pid = first + i;
    ProcessEvent e;
    e.kind = EventKind::start;
    e.time = 1764000000 + pid;
    // A long command line: a batch spans several WAL pages.
    e.process = proc(pid, fmt::format("p{}", pid), "/usr/bin/p", fmt::format("/usr/bin/p {}", std::string(300, 'x')));
    out.push_back(std::move(e));
  }
  return out;
}

Alert alert(int i) {
  Alert a;
  a.rule_id = fmt::format("rule-{}", i);
  a.rule_name = "test rule";
  a.row_json = fmt::format(R"({{"pid":{}}})", i);
  a.host = "h";
  a.time = 1764000000 + i;
  a.dedup_key = a.rule_id;
  return a;
}

std::unique_ptr<Store> open_store(const fs::path& db) {
  auto s = Store::open({.path = db});
  EXPECT_TRUE(s) << (s ? std::string() : s.error().to_string());
  return s ? std::move(*s) : nullptr;
}

// A new store at de.db in a temp dir, its files written through a fault
// injector (made first: the store opens its files through it).
struct FaultyStore {
  TempDir tmp;
  fs::path db = tmp / "de.db";
  std::optional<io::FaultInjection> faults{std::in_place};
  std::unique_ptr<Store> store = open_store(db);
};

// A power loss with `store` still open: nothing the process would still do
// reaches the disk (every later write, sync and truncate fails, so closing
// cannot checkpoint), then everything never synced is cut off, and the
// injector goes (the machine restarts with a working disk).
void crash(std::optional<io::FaultInjection>& faults, std::unique_ptr<Store>& store) {
  for (auto call : {io::FileCall::write, io::FileCall::sync, io::FileCall::truncate})
    faults->add({.call = call, .times = 0, .error = EIO});
  store.reset();
  faults->crash();
  faults.reset();
}

// What a reopened database holds: the pids in process_events and the alert
// rule ids; and that it passes integrity_check.
struct Contents {
  std::set<std::int64_t> event_pids;
  std::set<std::string> alert_rules;
};

Contents reopen_and_read(const fs::path& db) {
  Contents c;
  {
    auto store = open_store(db);  // recovery happens here, as after a reboot
    if (!store) return c;
  }
  Peek peek(db);
  EXPECT_EQ(peek.text("PRAGMA integrity_check"), "ok");
  auto ev = sqlite::prepare(peek.get(), "SELECT pid FROM process_events");
  while (ev && ::sqlite3_step(ev->get()) == SQLITE_ROW) c.event_pids.insert(::sqlite3_column_int64(ev->get(), 0));
  auto al = sqlite::prepare(peek.get(), "SELECT rule_id FROM alerts");
  while (al && ::sqlite3_step(al->get()) == SQLITE_ROW)
    c.alert_rules.insert(reinterpret_cast<const char*>(::sqlite3_column_text(al->get(), 0)));
  return c;
}

void add_pids(std::set<std::int64_t>& into, const std::vector<ProcessEvent>& events) {
  for (const auto& e : events) into.insert(e.process.pid);
}

// `batches` batches of 20 events (pids from `first`, 100 apart), each of
// which must be acknowledged; their pids go to `acknowledged`.
void append_acknowledged(Store& store, std::int64_t first, int batches, std::set<std::int64_t>& acknowledged) {
  for (int b = 0; b < batches; ++b) {
    auto events = batch(first + b * 100, 20);
    auto r = store.append_events(events);
    ASSERT_TRUE(r) << r.error();
    add_pids(acknowledged, events);
  }
}

// crash(), then reopen: every acknowledged pid must be in the database.
Contents crash_and_check(std::optional<io::FaultInjection>& faults, std::unique_ptr<Store>& store,
                         const fs::path& db, const std::set<std::int64_t>& acknowledged) {
  crash(faults, store);
  Contents got = reopen_and_read(db);
  for (auto pid : acknowledged) {
    EXPECT_TRUE(got.event_pids.contains(pid)) << "acknowledged pid " << pid << " lost";
  }
  return got;
}

struct Case {
  const char* name;
  std::vector<io::Fault> faults;
  ErrorCategory category;     // what the failed call returns
  bool fate_unknown = false;  // the bytes were written, only their sync failed
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"WAL write ENOSPC",
       {{.call = io::FileCall::write, .path_contains = "-wal", .error = ENOSPC}},
       ErrorCategory::resource_exhausted},
      {"WAL write EIO", {{.call = io::FileCall::write, .path_contains = "-wal", .error = EIO}}, ErrorCategory::io},
      {"WAL write EIO after some pages",
       {{.call = io::FileCall::write, .path_contains = "-wal", .after = 3, .error = EIO}},
       ErrorCategory::io},
      {"WAL short write, then ENOSPC",
       {{.call = io::FileCall::write, .path_contains = "-wal", .short_write = 100},
        {.call = io::FileCall::write, .path_contains = "-wal", .error = ENOSPC}},
       ErrorCategory::resource_exhausted},
      {"WAL fdatasync EIO",
       {{.call = io::FileCall::sync, .path_contains = "-wal", .error = EIO}},
       ErrorCategory::io,
       true},
  };
  return all;
}

TEST(StoreFaults, ABatchThatWasNotMadeDurableIsNotAcknowledged) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    FaultyStore setup;
    auto& [tmp, db, faults, store] = setup;
    ASSERT_TRUE(store);
    std::set<std::int64_t> acknowledged;
    ASSERT_NO_FATAL_FAILURE(append_acknowledged(*store, 1000, 3, acknowledged));
    const std::size_t processes = store->process_count();
    for (const auto& f : c.faults) faults->add(f);
    const auto lost = batch(5000, 20);
    auto r = store->append_events(lost);
    ASSERT_FALSE(r) << "acknowledged a batch whose write or sync failed";
    EXPECT_EQ(r.error().category, c.category) << r.error();
    EXPECT_EQ(faults->fired(), static_cast<int>(c.faults.size()));
    EXPECT_EQ(store->process_count(), processes) << "the mirror kept rows the database rolled back";
    EXPECT_EQ(store->process(5000), nullptr);

    const Contents got = crash_and_check(faults, store, db, acknowledged);
    if (!c.fate_unknown) {
      EXPECT_FALSE(got.event_pids.contains(5000)) << "a failed batch appeared";
    }
  }
}

// The agent does not reopen its store after a failure: the same Store must
// take the next batch, and that one must survive the crash too.
TEST(StoreFaults, TheStoreGoesOnAfterAFailedBatch) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    FaultyStore setup;
    auto& [tmp, db, faults, store] = setup;
    ASSERT_TRUE(store);
    std::set<std::int64_t> acknowledged;
    auto first = batch(1000, 20);
    ASSERT_TRUE(store->append_events(first));
    add_pids(acknowledged, first);
    for (const auto& f : c.faults) faults->add(f);
    ASSERT_FALSE(store->append_events(batch(5000, 20)));
    ASSERT_NO_FATAL_FAILURE(append_acknowledged(*store, 2000, 3, acknowledged));
    auto alerts = std::vector<Alert>{alert(1), alert(2)};
    ASSERT_TRUE(store->insert_alerts(alerts));
    EXPECT_EQ(store->process_count(), acknowledged.size());

    const Contents got = crash_and_check(faults, store, db, acknowledged);
    EXPECT_EQ(got.alert_rules, (std::set<std::string>{"rule-1", "rule-2"}));
  }
}

// Every kind of write the agent makes reports the failure: snapshots (and
// their mirror stays as it was), alerts, scan records, retention.
TEST(StoreFaults, EveryWriteReportsAFailingDisk) {
  FaultyStore setup;
  auto& [tmp, db, faults, store] = setup;
  ASSERT_TRUE(store);
  std::vector<ProcessRecord> all{proc(10, "a"), proc(11, "b")};
  ASSERT_TRUE(store->apply_snapshot(all));
  ASSERT_TRUE(store->insert_alerts(std::vector<Alert>{alert(1)}));

  faults->add({.call = io::FileCall::write, .path_contains = "-wal", .times = 0, .error = ENOSPC});
  all.push_back(proc(12, "c"));
  auto snap = store->apply_snapshot(all);
  ASSERT_FALSE(snap);
  EXPECT_EQ(snap.error().category, ErrorCategory::resource_exhausted) << snap.error();
  EXPECT_NE(snap.error().message.find("full"), std::string::npos) << snap.error();
  EXPECT_EQ(store->process_count(), 2u);
  EXPECT_EQ(store->process(12), nullptr);
  EXPECT_FALSE(store->insert_alerts(std::vector<Alert>{alert(2)}));
  EXPECT_FALSE(store->record_scan({.scan_id = 7, .time = 1764000000}));
  EXPECT_FALSE(store->append_events(batch(100, 1)));
  EXPECT_FALSE(store->enforce_retention(1764000000 + 30 * 24 * 3600));

  crash(faults, store);
  const Contents got = reopen_and_read(db);
  EXPECT_EQ(got.alert_rules, (std::set<std::string>{"rule-1"}));
  Peek peek(db);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM processes"), 2);
  EXPECT_EQ(peek.integer("SELECT count(*) FROM scans"), 0);
}

// Many batches, a fault every few, checkpoints in between (more than 1000
// WAL pages): at the crash every acknowledged row is there.
TEST(StoreFaults, AcknowledgedBatchesSurviveACrashThroughCheckpoints) {
  FaultyStore setup;
  auto& [tmp, db, faults, store] = setup;
  ASSERT_TRUE(store);
  std::set<std::int64_t> acknowledged;
  int failed = 0;
  const auto db_size_at_open = fs::file_size(db);
  for (int b = 0; b < 80; ++b) {
    if (b % 7 == 3) {
      faults->add({.call = b % 2 == 0 ? io::FileCall::write : io::FileCall::sync,
                  .path_contains = "-wal",
                  .error = b % 3 == 0 ? ENOSPC : EIO});
    }
    auto events = batch(10000 + b * 1000, 40);
    if (auto r = store->append_events(events); r) {
      add_pids(acknowledged, events);
    } else {
      ++failed;
    }
  }
  EXPECT_EQ(failed, faults->fired());
  EXPECT_GT(failed, 0);
  EXPECT_GT(fs::file_size(db), db_size_at_open) << "no checkpoint ran: the test did not cover one";
  crash_and_check(faults, store, db, acknowledged);
}

// The shim itself: a database written through it reads back through the
// default VFS (it is an ordinary SQLite file), and a short write is
// finished rather than reported.
TEST(StoreFaults, AShortWriteIsFinished) {
  FaultyStore setup;
  auto& [tmp, db, faults, store] = setup;
  ASSERT_TRUE(store);
  faults->add({.call = io::FileCall::write, .path_contains = "-wal", .times = 5, .short_write = 10});
  auto events = batch(100, 30);
  auto r = store->append_events(events);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(faults->fired(), 5);
  crash(faults, store);
  const Contents got = reopen_and_read(db);
  EXPECT_EQ(got.event_pids.size(), 30u);
}

}  // namespace
}  // namespace airssys::daemoneye
