// The ledger under I/O failure (issue 13): osl::io's FaultInjection is
// plugged into the ledger's fd seam (IoHooks), so a chosen pwrite fails
// with ENOSPC or EIO or comes back short, an fdatasync fails, and crash()
// drops what was never synced. The ledger must never acknowledge an append
// it could not make durable, and must reopen cleanly afterwards: the
// acknowledged entries intact, verify() clean, appends working again.
#include "io_seam_test_util.hpp"
#include "test_util.hpp"

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>
#include <airssys/osl/file_io.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

using namespace airssys::ledger;
namespace io = airssys::osl::io;
using airssys::ledger::testing::SeamInstalled;
using airssys::ledger::testing::TempDir;

namespace {

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

void append_n(Ledger& l, int from, int count) {
  for (int i = from; i < from + count; ++i) {
    auto r = l.append(bytes("entry " + std::to_string(i)));
    ASSERT_TRUE(r) << r.error().message;
  }
}

// Reopens `dir` and checks it holds entries 0..n-1 with `root` at size n,
// verifies clean, and takes a new append. With `maybe_one_more` (the commit
// record was written but its sync failed: the append's fate is unknown, as
// after any failed fsync) entry n may be there too.
void expect_recovers_to(const std::filesystem::path& dir, std::uint64_t n, const Hash& root, bool maybe_one_more = false) {
  std::uint64_t size = 0;
  {
    auto l = Ledger::open(dir);
    ASSERT_TRUE(l) << l.error().message;
    size = (*l)->size();
    if (maybe_one_more) {
      EXPECT_TRUE(size == n || size == n + 1) << size;
    } else {
      EXPECT_EQ(size, n);
    }
    auto at_n = (*l)->root(n);
    ASSERT_TRUE(at_n) << at_n.error().message;
    EXPECT_EQ(*at_n, root);
    for (std::uint64_t i = 0; i < size; ++i) {
      auto e = (*l)->entry(i);
      ASSERT_TRUE(e) << e.error().message;
      EXPECT_EQ(*e, bytes("entry " + std::to_string(i)));
    }
    auto more = (*l)->append(bytes("entry " + std::to_string(size)));
    ASSERT_TRUE(more) << more.error().message;
    EXPECT_EQ(*more, size);
  }
  auto report = verify(dir);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->intact) << report->problem;
  EXPECT_EQ(report->size, size + 1);
}

struct Case {
  const char* name;
  io::Fault fault;
  bool head_written = false;  // the commit record reached the page cache before the failure
};

}  // namespace

TEST(LedgerFaults, AnAppendThatWasNotMadeDurableIsNotAcknowledged) {
  const Case cases[] = {
      {"entries pwrite ENOSPC", {.call = io::FileCall::write, .path_contains = "entries", .error = ENOSPC}},
      {"entries pwrite EIO", {.call = io::FileCall::write, .path_contains = "entries", .error = EIO}},
      {"tree pwrite ENOSPC", {.call = io::FileCall::write, .path_contains = "tree", .error = ENOSPC}},
      {"offsets fdatasync EIO", {.call = io::FileCall::sync, .path_contains = "offsets", .error = EIO}},
      {"entries fdatasync EIO", {.call = io::FileCall::sync, .path_contains = "entries", .error = EIO}},
      {"head pwrite EIO", {.call = io::FileCall::write, .path_contains = "head", .error = EIO}},
      {"head fdatasync EIO", {.call = io::FileCall::sync, .path_contains = "head", .error = EIO}, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir("ledger-faults");
    const auto ldir = dir / "l";
    Hash acknowledged_root{};
    {
      auto created = Ledger::create(ldir);
      ASSERT_TRUE(created) << created.error().message;
      append_n(**created, 0, 5);
      acknowledged_root = (*created)->root();
    }
    io::FaultInjection faults;
    SeamInstalled seam;
    {
      auto l = Ledger::open(ldir);
      ASSERT_TRUE(l) << l.error().message;
      faults.add(c.fault);
      auto r = (*l)->append(bytes("entry 5"));
      ASSERT_FALSE(r) << "acknowledged an append whose write or sync failed";
      EXPECT_EQ(faults.fired(), 1);
      EXPECT_EQ((*l)->size(), 5U);
      EXPECT_EQ((*l)->root(), acknowledged_root);
    }
    faults.crash();  // power lost: whatever was not synced is gone
    expect_recovers_to(ldir, 5, acknowledged_root, c.head_written);
  }
}

TEST(LedgerFaults, AShortWriteIsFinished) {
  TempDir dir("ledger-faults");
  const auto ldir = dir / "l";
  io::FaultInjection faults;
  SeamInstalled seam;
  Hash root{};
  {
    auto l = Ledger::create(ldir);
    ASSERT_TRUE(l) << l.error().message;
    faults.add({.call = io::FileCall::write, .path_contains = "entries", .times = 4, .short_write = 3});
    append_n(**l, 0, 4);
    EXPECT_EQ(faults.fired(), 4);
    root = (*l)->root();
  }
  faults.crash();
  expect_recovers_to(ldir, 4, root);
}

TEST(LedgerFaults, AcknowledgedAppendsSurviveACrash) {
  TempDir dir("ledger-faults");
  const auto ldir = dir / "l";
  io::FaultInjection faults;
  SeamInstalled seam;
  Hash root{};
  {
    auto l = Ledger::create(ldir);
    ASSERT_TRUE(l) << l.error().message;
    append_n(**l, 0, 10);
    root = (*l)->root();
  }
  faults.crash();
  expect_recovers_to(ldir, 10, root);
}

TEST(LedgerFaults, AfterAFailedAppendTheNextOneWorksWithoutReopening) {
  TempDir dir("ledger-faults");
  const auto ldir = dir / "l";
  io::FaultInjection faults;
  SeamInstalled seam;
  auto l = Ledger::create(ldir);
  ASSERT_TRUE(l) << l.error().message;
  append_n(**l, 0, 3);
  faults.add({.call = io::FileCall::sync, .path_contains = "entries", .error = EIO});
  ASSERT_FALSE((*l)->append(bytes("lost")));
  // The failure was before the commit record: the writer undid it and goes on.
  append_n(**l, 3, 2);
  EXPECT_EQ((*l)->size(), 5U);
  const Hash root = (*l)->root();
  l->reset();
  faults.crash();
  expect_recovers_to(ldir, 5, root);
}

// Recovery cuts a torn tail (bytes a crash left past the last commit) off
// each of the three files. If one cut fails, open fails naming it and
// acknowledges nothing new; the next open, with the disk well again,
// finishes the job: the committed entries intact, the tail gone.
TEST(LedgerFaults, AFailedTruncateDuringRecoveryFailsTheOpenAndTheNextOneRecovers) {
  for (const char* file : {"entries", "offsets", "tree"}) {
    SCOPED_TRACE(file);
    TempDir dir("ledger-faults");
    const auto ldir = dir / "l";
    Hash root{};
    {
      auto l = Ledger::create(ldir);
      ASSERT_TRUE(l) << l.error().message;
      append_n(**l, 0, 5);
      root = (*l)->root();
    }
    const auto committed = std::filesystem::file_size(ldir / "entries");
    airssys::ledger::testing::append_file(ldir / "entries", bytes("\x07\x00\x00\x00partial"));
    airssys::ledger::testing::append_file(ldir / "offsets", bytes("\x01\x02\x03"));
    airssys::ledger::testing::append_file(ldir / "tree", std::vector<std::uint8_t>(40, 0xee));
    {
      io::FaultInjection faults;
      SeamInstalled seam;
      faults.add({.call = io::FileCall::truncate, .path_contains = std::string("/l/") + file, .error = EIO});
      auto l = Ledger::open(ldir);
      ASSERT_FALSE(l) << "opened although the torn tail of " << file << " could not be cut";
      EXPECT_EQ(l.error().errno_value, EIO);
      EXPECT_NE(l.error().message.find("truncate"), std::string::npos) << l.error().message;
      EXPECT_NE(l.error().message.find(file), std::string::npos) << l.error().message;
      EXPECT_EQ(faults.fired(), 1);
    }
    EXPECT_GE(std::filesystem::file_size(ldir / "entries"), committed);  // nothing committed was cut
    expect_recovers_to(ldir, 5, root);
  }
}
