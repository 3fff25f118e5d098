#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>
#include <airssys/watchdog/registry.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

using namespace airssys::watchdog;
namespace fs = std::filesystem;

namespace {

using airssys::testing::TempDir;

using airssys::testing::read_file;

TaskRecord task(const std::string& id) {
  TaskRecord t;
  t.id = id;
  t.argv = {"true"};
  return t;
}

}  // namespace

TEST(Registry, MissingFileIsEmpty) {
  TempDir d;
  Registry r(d.path() / "reg.json");
  auto data = r.load();
  ASSERT_TRUE(data);
  EXPECT_TRUE(data->tasks.empty());
}

TEST(Registry, WritesAtomicallyWithMode0600AndKeepsUnknownKeys) {
  TempDir d;
  Registry r(d.path() / "sub" / "reg.json");
  ASSERT_TRUE(r.update([](RegistryData& data) -> std::expected<void, Error> {
    auto t = task("a");
    t.extra["future_field"] = "42";
    data.tasks.emplace("a", t);
    data.extra["note"] = R"("kept")";
    return {};
  }));
  struct stat st {};
  ASSERT_EQ(::stat(r.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  auto data = r.load();
  ASSERT_TRUE(data) << data.error().message;
  ASSERT_EQ(data->tasks.size(), 1U);
  EXPECT_EQ(data->tasks.at("a").extra.at("future_field"), "42");
  EXPECT_EQ(data->extra.at("note"), R"("kept")");
  EXPECT_NE(read_file(r.path()).find("\"schema_version\": 1"), std::string::npos);
  for (const auto& e : fs::directory_iterator(r.dir())) EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos);
}

TEST(Registry, FailedChangeWritesNothing) {
  TempDir d;
  Registry r(d.path() / "reg.json");
  auto res = r.update([](RegistryData& data) -> std::expected<void, Error> {
    data.tasks.emplace("a", task("a"));
    return std::unexpected(Error{ErrorCategory::already_exists, "no"});
  });
  ASSERT_FALSE(res);
  EXPECT_FALSE(fs::exists(r.path()));
}

TEST(Registry, CorruptFilesAreRefusedNamingFileAndProblem) {
  TempDir d;
  const std::pair<const char*, const char*> cases[] = {
      {"{bad", "not valid JSON"},
      {"", "not valid JSON"},
      {"[]", "top level"},
      {R"({"tasks": {}})", "schema_version"},
      {R"({"schema_version": 99, "tasks": {}})", "not supported"},
      {R"({"schema_version": 1, "tasks": []})", "'tasks'"},
      {R"({"schema_version": 1, "tasks": {"x": 5}})", "task 'x'"},
      {R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "pid": "12"}}})", "'pid'"},
      {R"({"schema_version": 1, "tasks": {"x": {"id": "y", "argv": ["a"]}}})", "must equal its key"},
      {R"({"schema_version": 1, "tasks": {"a b": {"id": "a b", "argv": ["a"]}}})", "does not match"},
      // Out of range for the field's type: refused, not truncated.
      {R"({"schema_version": 4294967297, "tasks": {}})", "schema_version 4294967297 is not supported"},
      {R"({"schema_version": -4294967295, "tasks": {}})", "schema_version -4294967295 is not supported"},
      {R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "exit_code": 4294967297}}})", "'exit_code' must be an integer from"},
      {R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "exit_signal": -2147483649}}})", "'exit_signal'"},
      {R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "pid": 9223372036854775808}}})", "'pid'"},
      {R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "pid_start_time": -1}}})", "'pid_start_time'"},
      {R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "limits": {"pids": -5}}}})", "limits field 'pids'"},
      // Not JSON numbers (strtod would take them).
      {R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "limits": {"cpus": .5}}}})", "not valid JSON"},
      {R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "limits": {"cpus": 1.}}}})", "not valid JSON"},
  };
  for (const auto& [text, problem] : cases) {
    Registry r(d.path() / "reg.json");
    { std::ofstream(r.path(), std::ios::trunc) << text; }
    auto data = r.load();
    ASSERT_FALSE(data) << text;
    EXPECT_EQ(data.error().category, ErrorCategory::registry_corrupt);
    EXPECT_NE(data.error().message.find(r.path().string()), std::string::npos) << data.error().message;
    EXPECT_NE(data.error().message.find(problem), std::string::npos) << data.error().message;
    auto up = r.update([](RegistryData&) -> std::expected<void, Error> { return {}; });
    ASSERT_FALSE(up);
    EXPECT_EQ(read_file(r.path()), text) << "a corrupt registry must never be rewritten";
  }
}

TEST(Registry, ConcurrentUpdatesLoseNothing) {
  TempDir d;
  const fs::path path = d.path() / "reg.json";
  constexpr int kThreads = 8;
  constexpr int kEach = 15;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Registry r(path);  // its own lock fd: flock serialises even within one process
      for (int k = 0; k < kEach; ++k) {
        const std::string id = "t" + std::to_string(i) + "_" + std::to_string(k);
        ASSERT_TRUE(r.update([&](RegistryData& data) -> std::expected<void, Error> {
          data.tasks.emplace(id, task(id));
          return {};
        }));
      }
    });
  }
  for (auto& t : threads) t.join();
  auto data = Registry(path).load();
  ASSERT_TRUE(data);
  EXPECT_EQ(data->tasks.size(), static_cast<std::size_t>(kThreads * kEach));
}

namespace {

std::expected<void, Error> add_a(RegistryData& data) {
  data.tasks.emplace("a", task("a"));
  return {};
}

}  // namespace

TEST(Registry, CreatesMissingDirectoriesMode0700) {
  TempDir d;
  Registry r(d.path() / "a" / "b" / "reg.json");
  ASSERT_TRUE(r.update(add_a));
  for (const auto& dir : {d.path() / "a", d.path() / "a" / "b"}) {
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0) << dir;
    EXPECT_EQ(st.st_mode & 0777, 0700U) << dir;
  }
}

TEST(Registry, RefusesASymlinkPlantedAtTheLockPath) {
  TempDir d;
  const fs::path target = d.path() / "precious";
  { std::ofstream(target) << "keep me"; }
  ::chmod(target.c_str(), 0644);
  Registry r(d.path() / "reg.json");
  fs::create_symlink(target, d.path() / "reg.json.lock");
  auto res = r.update(add_a);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message.find("symbolic link"), std::string::npos) << res.error().message;
  EXPECT_NE(res.error().message.find("reg.json.lock"), std::string::npos) << res.error().message;
  EXPECT_EQ(read_file(target), "keep me");
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644U);
  EXPECT_FALSE(fs::exists(r.path()));
  // A symlink to a missing file is refused too (O_CREAT would make the target).
  fs::remove(d.path() / "reg.json.lock");
  fs::create_symlink(d.path() / "made-through-link", d.path() / "reg.json.lock");
  ASSERT_FALSE(r.update(add_a));
  EXPECT_FALSE(fs::exists(d.path() / "made-through-link"));
  // So is a FIFO (and it does not hang the open).
  fs::remove(d.path() / "reg.json.lock");
  ASSERT_EQ(::mkfifo((d.path() / "reg.json.lock").c_str(), 0600), 0);
  res = r.update(add_a);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message.find("not a regular file"), std::string::npos) << res.error().message;
}

TEST(Registry, TheTempFileCannotBeAimedAtAnotherFile) {
  TempDir d;
  const fs::path target = d.path() / "precious";
  { std::ofstream(target) << "keep me"; }
  ::chmod(target.c_str(), 0644);
  Registry r(d.path() / "reg.json");
  // The name the temp file used to have: predictable from our pid.
  const fs::path planted = d.path() / ("reg.json.tmp." + std::to_string(::getpid()));
  fs::create_symlink(target, planted);
  ASSERT_TRUE(r.update(add_a));
  EXPECT_EQ(read_file(target), "keep me");
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644U);
  ASSERT_EQ(::lstat(r.path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the registry must be a regular file, not the planted link";
  EXPECT_TRUE(fs::is_symlink(planted)) << "somebody else's file is left alone";
  auto data = r.load();
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(data->tasks.size(), 1U);
}
