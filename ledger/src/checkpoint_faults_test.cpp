// The checkpoint log under I/O failure (issue 13): write_checkpoint's
// append goes through the ledger's fd seam, here plugged into osl::io's
// FaultInjection. A checkpoint whose write or sync failed is reported and
// never returned; the log is left without a torn line (also before any
// crash), a crash keeps every acknowledged checkpoint, and the next
// checkpoint is written normally.
#include "io_seam_test_util.hpp"
#include "test_util.hpp"

#include <airssys/ledger/checkpoint.hpp>
#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>
#include <airssys/osl/file_io.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

namespace airssys::ledger {
namespace {

namespace io = airssys::osl::io;
using testing::SeamInstalled;
using testing::TempDir;

// A ledger with `checkpoints` acknowledged checkpoints (one entry each).
struct Fixture {
  TempDir tmp{"ledger-cp-faults"};
  std::filesystem::path dir = tmp / "l";
  SigningKey key = SigningKey::generate().value();
  std::unique_ptr<Ledger> ledger = Ledger::create(dir).value();
  std::vector<SignedTreeHead> acknowledged;

  explicit Fixture(int checkpoints) {
    for (int i = 0; i < checkpoints; ++i) add();
  }
  void add() {
    (void)ledger->append(testing::bytes("e" + std::to_string(acknowledged.size()))).value();
    auto sth = write_checkpoint(*ledger, key);
    ASSERT_TRUE(sth) << sth.error().message;
    acknowledged.push_back(*sth);
  }
  std::uintmax_t log_size() const { return std::filesystem::file_size(dir / "checkpoints"); }

  // The log holds exactly the acknowledged checkpoints, verify() is clean,
  // and a new checkpoint is taken and read back.
  void expect_clean() {
    auto all = read_checkpoints(dir);
    ASSERT_TRUE(all) << all.error().message;
    ASSERT_EQ(all->size(), acknowledged.size());
    for (std::size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].to_json(), acknowledged[i].to_json());
    auto report = verify(dir);
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->intact) << report->problem;
    add();
    auto again = read_checkpoints(dir);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->size(), acknowledged.size());
  }
};

TEST(CheckpointFaults, AFailedAppendIsReportedAndLeavesNoTornLine) {
  struct Case {
    const char* name;
    std::vector<io::Fault> faults;
  };
  const Case cases[] = {
      {"write ENOSPC", {{.call = io::FileCall::write, .path_contains = "checkpoints", .error = ENOSPC}}},
      {"write EIO", {{.call = io::FileCall::write, .path_contains = "checkpoints", .error = EIO}}},
      {"short write, then ENOSPC",
       {{.call = io::FileCall::write, .path_contains = "checkpoints", .short_write = 40},
        {.call = io::FileCall::write, .path_contains = "checkpoints", .error = ENOSPC}}},
      {"fdatasync EIO", {{.call = io::FileCall::sync, .path_contains = "checkpoints", .error = EIO}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Fixture f(2);
    const auto before = f.log_size();
    io::FaultInjection faults;
    SeamInstalled seam;
    for (const auto& fault : c.faults) faults.add(fault);
    (void)f.ledger->append(testing::bytes("unchecked")).value();
    auto sth = write_checkpoint(*f.ledger, f.key);
    ASSERT_FALSE(sth) << "acknowledged a checkpoint whose write or sync failed";
    EXPECT_EQ(sth.error().category, ErrorCategory::io) << sth.error().message;
    EXPECT_EQ(faults.fired(), static_cast<int>(c.faults.size()));
    // Cut off again at once: readers never see the failed line.
    EXPECT_EQ(f.log_size(), before);
    auto all = read_checkpoints(f.dir);
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(all->size(), 2u);
    faults.crash();
    f.expect_clean();
  }
}

TEST(CheckpointFaults, AShortWriteIsFinished) {
  Fixture f(1);
  io::FaultInjection faults;
  SeamInstalled seam;
  faults.add({.call = io::FileCall::write, .path_contains = "checkpoints", .times = 3, .short_write = 7});
  f.add();
  EXPECT_EQ(faults.fired(), 3);
  faults.crash();
  f.expect_clean();
}

TEST(CheckpointFaults, AcknowledgedCheckpointsSurviveACrash) {
  io::FaultInjection faults;
  SeamInstalled seam;
  Fixture f(3);
  faults.crash();
  f.expect_clean();
}

// A real power loss can leave part of an unacknowledged line (its bytes
// were never synced). Readers report it (it cannot be told from a changed
// byte); the next checkpoint removes it and the log is clean again.
TEST(CheckpointFaults, ALineACrashCutShortIsRemovedByTheNextCheckpoint) {
  Fixture f(2);
  const auto intact = f.log_size();
  const std::string partial = f.acknowledged.back().to_json().substr(0, 50);
  testing::append_file(f.dir / "checkpoints", testing::bytes(partial));
  auto torn = read_checkpoints(f.dir);
  ASSERT_FALSE(torn);
  EXPECT_EQ(torn.error().category, ErrorCategory::corrupt);
  EXPECT_NE(torn.error().message.find("line 3 is incomplete"), std::string::npos) << torn.error().message;
  f.add();
  EXPECT_EQ(f.log_size(), intact + f.acknowledged.back().to_json().size() + 1);
  f.expect_clean();
}

}  // namespace
}  // namespace airssys::ledger
