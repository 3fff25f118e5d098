// The registry is never left torn (issue 13): each step of update() —
// write, fsync, rename, directory fsync — is made to fail through the
// osl::io seam, and the old registry must stay intact and readable, with no
// temporary file left behind; a short write is finished, not truncated; and
// a simulated crash after an acknowledged update loses nothing.
#include <airssys/osl/file_io.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>
#include <airssys/watchdog/registry.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace airssys::watchdog;
namespace io = airssys::osl::io;
namespace fs = std::filesystem;
using airssys::testing::TempDir;

namespace {

using airssys::testing::read_file;

Registry::Change add(const std::string& id) {
  return [id](RegistryData& data) -> std::expected<void, Error> {
    TaskRecord t;
    t.id = id;
    t.argv = {"true", std::string(3000, 'x')};  // several KB, so a short write leaves a visible tail
    data.tasks.emplace(id, std::move(t));
    return {};
  };
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
  return out;
}

struct Step {
  const char* name;
  io::Fault fault;
  const char* message;  // what update()'s error names
};

}  // namespace

TEST(RegistryFaults, AFailureAtEachStepLeavesTheOldRegistryIntact) {
  const Step steps[] = {
      {"write ENOSPC", {.call = io::FileCall::write, .path_contains = ".tmp.", .error = ENOSPC}, "No space left on device"},
      {"write EIO", {.call = io::FileCall::write, .path_contains = ".tmp.", .error = EIO}, "Input/output error"},
      {"short write, then ENOSPC",
       {.call = io::FileCall::write, .path_contains = ".tmp.", .short_write = 100},
       "No space left on device"},
      {"fsync EIO", {.call = io::FileCall::sync, .path_contains = ".tmp.", .error = EIO}, "fsync"},
      {"rename EIO", {.call = io::FileCall::rename, .path_contains = ".tmp.", .error = EIO}, "renaming"},
  };
  for (const auto& step : steps) {
    SCOPED_TRACE(step.name);
    TempDir d("wd-faults");
    Registry r(d / "reg.json");
    ASSERT_TRUE(r.update(add("a")));
    const std::string before = read_file(r.path());
    io::FaultInjection faults;
    faults.add(step.fault);
    if (step.fault.short_write) {
      faults.add({.call = io::FileCall::write, .path_contains = ".tmp.", .error = ENOSPC});
    }
    auto up = r.update(add("b"));
    ASSERT_FALSE(up) << "an update that was not made durable must not be acknowledged";
    EXPECT_NE(up.error().message.find(step.message), std::string::npos) << up.error().message;
    EXPECT_GE(faults.fired(), 1);
    faults.crash();
    EXPECT_EQ(read_file(r.path()), before);
    auto data = r.load();
    ASSERT_TRUE(data) << data.error().message;
    EXPECT_EQ(data->tasks.size(), 1U);
    EXPECT_TRUE(temp_files(d.path()).empty());
  }
}

TEST(RegistryFaults, AFailedDirectoryFsyncIsReportedAndLeavesAReadableRegistry) {
  TempDir d("wd-faults");
  Registry r(d / "reg.json");
  ASSERT_TRUE(r.update(add("a")));
  io::FaultInjection faults;
  // The second sync of an update is the directory's (the first, the temp file's).
  faults.add({.call = io::FileCall::sync, .after = 1, .error = EIO});
  auto up = r.update(add("b"));
  ASSERT_FALSE(up) << "the rename may not survive a crash: not acknowledged";
  EXPECT_NE(up.error().message.find("fsync directory"), std::string::npos) << up.error().message;
  auto data = r.load();
  ASSERT_TRUE(data) << data.error().message;  // old or new, never torn
  EXPECT_TRUE(data->tasks.contains("a"));
  EXPECT_TRUE(temp_files(d.path()).empty());
}

TEST(RegistryFaults, AShortWriteIsFinishedNotTruncated) {
  TempDir d("wd-faults");
  Registry r(d / "reg.json");
  io::FaultInjection faults;
  faults.add({.call = io::FileCall::write, .times = 3, .short_write = 7});
  ASSERT_TRUE(r.update(add("a")));
  EXPECT_EQ(faults.fired(), 3);
  auto data = r.load();
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(data->tasks.at("a").argv.at(1).size(), 3000U);
}

TEST(RegistryFaults, ACrashAfterAnAcknowledgedUpdateLosesNothing) {
  TempDir d("wd-faults");
  Registry r(d / "reg.json");
  io::FaultInjection faults;
  ASSERT_TRUE(r.update(add("a")));
  ASSERT_TRUE(r.update(add("b")));
  const std::string acknowledged = read_file(r.path());
  faults.crash();
  EXPECT_EQ(read_file(r.path()), acknowledged);
  auto data = r.load();
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(data->tasks.size(), 2U);
}

TEST(RegistryFaults, TheSeamLosesUnsyncedDataOnACrash) {
  // The injector itself: what was written but not synced is gone after
  // crash(), so the tests above would notice a missing fsync.
  TempDir d("wd-faults");
  const fs::path p = d / "plain";
  { std::ofstream(p) << "synced."; }
  io::FaultInjection faults;
  airssys::osl::UniqueFd fd(::open(p.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  ASSERT_TRUE(fd);
  ASSERT_EQ(io::write(fd.get(), "more", 4), 4);
  ASSERT_EQ(io::fdatasync(fd.get()), 0);
  ASSERT_EQ(io::write(fd.get(), "lost", 4), 4);
  EXPECT_EQ(read_file(p), "synced.morelost");
  faults.crash();
  EXPECT_EQ(read_file(p), "synced.more");
}
