// fs.write and fs.rename under I/O failure (issue 13), through the osl::io
// seam on real files: an atomic replace that fails at its write, fsync or
// rename leaves the old file byte for byte and no temporary file, and
// reports the errno; a plain write whose fsync fails is not reported as
// done; a short write is finished.
#include "test_support.hpp"

#include <airssys/osl/file_io.hpp>

#include <cerrno>

using namespace airssys::osl;

namespace {

std::string policy(const test::TempDir& dir) {
  return fmt::format(R"(
version: 1
rules:
  - id: work
    effect: allow
    principals: ["alice"]
    operations: ["fs.*"]
    resources: ["{0}/work/**"]
)", dir.str());
}

std::size_t entries(const std::filesystem::path& dir) {
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

}  // namespace

TEST(FsFaults, AnAtomicReplaceThatFailsLeavesTheOldFile) {
  const std::pair<const char*, io::Fault> cases[] = {
      {"write ENOSPC", {.call = io::FileCall::write, .path_contains = "airssys-", .error = ENOSPC}},
      {"short write then EIO", {.call = io::FileCall::write, .path_contains = "airssys-", .short_write = 5}},
      {"fsync EIO", {.call = io::FileCall::sync, .path_contains = "airssys-", .error = EIO}},
      {"rename EIO", {.call = io::FileCall::rename, .path_contains = "airssys-", .error = EIO}},
  };
  for (const auto& [name, fault] : cases) {
    SCOPED_TRACE(name);
    test::TempDir dir("osl-fs-faults");
    std::filesystem::create_directories(dir / "work");
    test::write_file(dir / "work/config", "old contents");
    System sys({.policy = test::policy_from(policy(dir))});
    io::FaultInjection faults;
    faults.add(fault);
    if (fault.short_write) faults.add({.call = io::FileCall::write, .path_contains = "airssys-", .error = EIO});
    auto r = sys.run("alice", fs::Write{.path = dir / "work/config", .data = std::string(4096, 'n'), .atomic = true});
    ASSERT_FALSE(r) << "a replace that did not reach the disk must not be reported as done";
    faults.crash();
    EXPECT_EQ(test::read_file(dir / "work/config"), "old contents");
    EXPECT_EQ(entries(dir / "work"), 1U) << "no temporary file left behind";
  }
}

TEST(FsFaults, APlainWriteWhoseFsyncFailsIsNotDone) {
  test::TempDir dir("osl-fs-faults");
  std::filesystem::create_directories(dir / "work");
  System sys({.policy = test::policy_from(policy(dir))});
  io::FaultInjection faults;
  faults.add({.call = io::FileCall::sync, .path_contains = "work/log", .error = EIO});
  auto r = sys.run("alice", fs::Write{.path = dir / "work/log", .data = "x", .fsync = true});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("fsync"), std::string::npos) << r.error().to_string();
  // The same write with a short write on the way is finished.
  faults.add({.call = io::FileCall::write, .path_contains = "work/log2", .times = 2, .short_write = 1});
  auto ok = sys.run("alice", fs::Write{.path = dir / "work/log2", .data = "abcdef", .fsync = true});
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(test::read_file(dir / "work/log2"), "abcdef");
  faults.crash();
  EXPECT_EQ(test::read_file(dir / "work/log2"), "abcdef") << "synced before it was reported done";
}

TEST(FsFaults, AFailedRenameMovesNothing) {
  test::TempDir dir("osl-fs-faults");
  std::filesystem::create_directories(dir / "work");
  test::write_file(dir / "work/a", "a");
  System sys({.policy = test::policy_from(policy(dir))});
  io::FaultInjection faults;
  faults.add({.call = io::FileCall::rename, .error = EIO});
  auto r = sys.run("alice", fs::Rename{.from = dir / "work/a", .to = dir / "work/b"});
  ASSERT_FALSE(r);
  EXPECT_EQ(faults.fired(), 1);
  EXPECT_EQ(test::read_file(dir / "work/a"), "a");
  EXPECT_FALSE(std::filesystem::exists(dir / "work/b"));
}
