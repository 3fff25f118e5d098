// Bad input an outside probe found in task-watchdog's registry (issue 13):
// each case ends in a clear error, bounded time and memory, no crash, and
// the registry is never rewritten larger than what it holds.
#include "registry_fast.hpp"
#include "registry_limits.hpp"

#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/units.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace airssys::watchdog;
namespace fs = std::filesystem;

namespace {

using airssys::testing::TempDir;

using airssys::testing::read_file;

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary | std::ios::trunc) << text; }

std::string one_task(const std::string& fields) {
  return R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"])" + fields + "}}}";
}

std::expected<void, Error> no_change(RegistryData&) { return {}; }

std::expected<void, Error> add_b(RegistryData& data) {
  TaskRecord t;
  t.id = "b";
  t.argv = {"true"};
  data.tasks.emplace("b", std::move(t));
  return {};
}

// A file both readers refuse with exit 4, a message naming `problem`, and
// that update() leaves byte for byte as it was.
void expect_refused(const std::string& text, const std::string& problem) {
  TempDir d("wd-input");
  Registry r(d.path() / "reg.json");
  write(r.path(), text);
  EXPECT_FALSE(detail::parse_registry_fast(text)) << "the fast path must hand it to the DOM path";
  auto data = r.load();
  ASSERT_FALSE(data) << text.substr(0, 200);
  EXPECT_EQ(data.error().category, ErrorCategory::registry_corrupt) << data.error().message;
  EXPECT_NE(data.error().message.find(r.path().string()), std::string::npos) << data.error().message;
  EXPECT_NE(data.error().message.find(problem), std::string::npos) << data.error().message;
  EXPECT_FALSE(r.update(no_change));
  EXPECT_EQ(read_file(r.path()), text) << "a refused registry must never be rewritten";
}

}  // namespace

TEST(RegistryInput, AnOverflowingNumberInAnUnknownKeyIsRefusedNotAnAbort) {
  expect_refused(R"({"schema_version": 1, "tasks": {}, "future": 1e999})", "number overflow");
  expect_refused(one_task(R"(, "future": [1, -1e999])"), "number overflow");
}

TEST(RegistryInput, DeepNestingIsRefusedWithoutOverflowingTheStack) {
  const std::size_t n = 100'000;
  expect_refused(R"({"schema_version": 1, "tasks": {}, "deep": )" + std::string(n, '[') + std::string(n, ']') + "}",
                 "nested 100001 deep");
  // Just past the bound, inside a task record.
  const int inner = detail::kMaxRegistryDepth - 3 + 1;
  expect_refused(one_task(R"(, "deep": )" + std::string(static_cast<std::size_t>(inner), '[') +
                          std::string(static_cast<std::size_t>(inner), ']')),
                 "a registry nests at most 32");
}

TEST(RegistryInput, NestedUnknownDataIsKeptAndNeverReindented) {
  // Nested as deep as allowed, inside a task and at the top level; rewrites
  // keep it on one line, so the file does not grow (it used to be
  // re-indented: 24 KB became 16 MB after one start).
  const int top_levels = detail::kMaxRegistryDepth - 1;
  const int task_levels = detail::kMaxRegistryDepth - 3;
  std::string top_deep, task_deep;
  for (int i = 0; i < top_levels; ++i) top_deep += "[1,";
  top_deep += "2";
  for (int i = 0; i < top_levels; ++i) top_deep += "]";
  for (int i = 0; i < task_levels; ++i) task_deep += R"({"k":)";
  task_deep += "null";
  for (int i = 0; i < task_levels; ++i) task_deep += "}";
  const std::string text = R"({"deep": )" + top_deep + R"(, "schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a"], "future": )" +
                           task_deep + R"(, "state": "running"}}})";
  ASSERT_EQ(detail::nesting_depth(text), detail::kMaxRegistryDepth);
  TempDir d("wd-input");
  Registry r(d.path() / "reg.json");
  write(r.path(), text);
  ASSERT_TRUE(r.update(no_change));
  const std::string once = read_file(r.path());
  EXPECT_NE(once.find(R"( "deep": )" + top_deep + ",\n"), std::string::npos) << once;
  EXPECT_NE(once.find(R"("future": )" + task_deep + ",\n"), std::string::npos) << once;
  ASSERT_TRUE(r.update(no_change));
  EXPECT_EQ(read_file(r.path()), once) << "a rewrite must not change what it does not touch";
  ASSERT_TRUE(r.update(add_b));
  const std::string with_b = read_file(r.path());
  EXPECT_LT(with_b.size(), once.size() + 1000) << "one small task added";
  auto data = r.load();
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(data->extra.at("deep"), top_deep);
  EXPECT_EQ(data->tasks.at("x").extra.at("future"), task_deep);
  // Both readers agree on the rewritten file.
  auto fast = detail::parse_registry_fast(with_b);
  ASSERT_TRUE(fast);
  EXPECT_EQ(serialize_registry(*fast), with_b);
}

TEST(RegistryInput, ASymlinkAtTheRegistryPathIsRefusedAndItsTargetKept) {
  TempDir d("wd-input");
  Registry real(d.path() / "real.json");
  ASSERT_TRUE(real.update(add_b));
  const std::string before = read_file(real.path());
  fs::create_symlink(real.path(), d.path() / "link.json");
  Registry link(d.path() / "link.json");
  auto loaded = link.load();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message,
            "refusing registry " + link.path().string() + ": it is a symbolic link (give the path of the file itself)");
  auto up = link.update(no_change);
  ASSERT_FALSE(up);
  EXPECT_NE(up.error().message.find("symbolic link"), std::string::npos) << up.error().message;
  EXPECT_TRUE(fs::is_symlink(link.path())) << "the link must not be replaced by a copy";
  EXPECT_EQ(read_file(real.path()), before);
  // A FIFO there is refused too, without hanging the open.
  ASSERT_EQ(::mkfifo((d.path() / "fifo.json").c_str(), 0600), 0);
  auto fifo = Registry(d.path() / "fifo.json").load();
  ASSERT_FALSE(fifo);
  EXPECT_NE(fifo.error().message.find("not a regular file"), std::string::npos) << fifo.error().message;
  // `--registry DIR` (the directory it lives in) says what to give instead.
  auto dir = Registry(d.path()).load();
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().message, "refusing registry " + d.path().string() + ": it is a directory (give the registry file, e.g. " +
                                     (d.path() / "registry.json").string() + ")");
}

TEST(RegistryInput, AnIdThatReadsAsAnOptionIsRefused) {
  EXPECT_FALSE(valid_task_id("-x"));
  EXPECT_FALSE(valid_task_id("--help"));
  EXPECT_TRUE(valid_task_id("x-"));
  EXPECT_TRUE(valid_task_id("_x"));
  expect_refused(R"({"schema_version": 1, "tasks": {"-x": {"id": "-x", "argv": ["a"]}}})", "task id '-x' does not match");
}

TEST(RegistryInput, AHugeDurationIsTooLargeNotAMissingUnit) {
  for (const char* text : {"99999999999999999999s", "99999999999999999999", "18446744073709551616ms"}) {
    auto d = parse_duration(text);
    ASSERT_FALSE(d) << text;
    EXPECT_EQ(d.error().message, std::string("'") + text + "' is too large (at most 36500d)");
  }
}

// A hand-edited registry's ids, states, kinds and cgroup paths come back as
// error messages show values (osl detail/shown_text.hpp): a 100 KB value is
// cut with its length, a control byte is escaped.
TEST(RegistryInput, LongOrControlValuesAreShownCutAndEscaped) {
  const std::string big(100'000, 'S');
  const auto bounded = [](const std::string& text, const std::string& problem) {
    expect_refused(text, problem);
    TempDir d("wd-input");
    Registry r(d.path() / "reg.json");
    write(r.path(), text);
    auto data = r.load();
    ASSERT_FALSE(data);
    EXPECT_LT(data.error().message.size(), 1000u) << "a 100 KB value is not echoed whole";
  };
  bounded(one_task(R"(, "state": ")" + big + R"(")"), "task 'x' has state '" + big.substr(0, 64) + "… (100000 bytes)' (must be one of");
  bounded(one_task(R"(, "containment": {"kind": ")" + big + R"("})"), "(not '" + big.substr(0, 64) + "… (100000 bytes)')");
  const std::string id(100'000, 'i');
  bounded(R"({"schema_version": 1, "tasks": {")" + id + R"(": {"id": ")" + id + R"(", "argv": ["a"]}}})",
          "task id '" + id.substr(0, 64) + "… (100000 bytes)' does not match");
  bounded(R"({"schema_version": 1, "tasks": {")" + id + R"(": {"id": "y", "argv": ["a"]}}})",
          "task '" + id.substr(0, 64) + "… (100000 bytes)' has id 'y' (must equal its key)");
  const std::string dir = "/sys/fs/cgroup/" + big;
  bounded(one_task(R"(, "containment": {"kind": "cgroup2", "cgroup": ")" + dir + R"("})"),
          "has containment cgroup '" + dir.substr(0, 256) + "… (100015 bytes)', which is not a task-watchdog cgroup");
  expect_refused(one_task(R"(, "state": "run\u0000ning\u001b[2J")"), "has state 'run\\x00ning\\x1b[2J'");
}

TEST(RegistryInput, ImpossibleFieldValuesAreRefused) {
  expect_refused(one_task(R"(, "pid": 0)"), "task 'x' has pid 0 (must be positive)");
  expect_refused(one_task(R"(, "pid": -5)"), "has pid -5");
  expect_refused(one_task(R"(, "monitor_pid": -1)"), "has monitor_pid -1");
  expect_refused(one_task(R"(, "state": "zombie")"), "has state 'zombie'");
  expect_refused(one_task(R"(, "state": "")"), "has state ''");
  expect_refused(one_task(R"(, "state": "Running")"), "task 'x' has state 'Running' (must be one of starting, running, exited, timed_out, killed, failed)");
  expect_refused(one_task(R"(, "containment": {"kind": "cgroup1"})"),
                 "task 'x' containment field 'kind' must be one of cgroup2, process-group, container or empty (not 'cgroup1')");
  expect_refused(one_task(R"(, "timeout_ms": 0)"), "has timeout_ms 0");
  expect_refused(one_task(R"(, "idle_timeout_ms": -1)"), "has idle_timeout_ms -1");
  expect_refused(one_task(R"(, "grace_ms": -1)"), "has grace_ms -1");
  expect_refused(R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": ["a", "b\u0000c"]}}})", "NUL byte in argv[1]");
  expect_refused(one_task(R"(, "env": ["A=\u0000"])"), "NUL byte in env[0]");
  expect_refused(one_task(R"(, "cwd": "/tmp\u0000x")"), "NUL byte in cwd");
  expect_refused(one_task(R"(, "stdout_log": "/l\u0000")"), "NUL byte in stdout_log");
  // Outside probe, session 11: a pid of 2^32 + N was read as pid N (kill
  // signalled N), and times near -2^63 made list and status overflow.
  expect_refused(one_task(R"(, "pid": 4294967297)"), "task 'x' has pid 4294967297 (a pid is at most 2147483647)");
  expect_refused(one_task(R"(, "monitor_pid": 2147483648)"), "has monitor_pid 2147483648 (a pid is at most 2147483647)");
  expect_refused(one_task(R"(, "state": "running", "created_ms": -9223372036854775808, "deadline_ms": -9223372036854775808)"),
                 "task 'x' has created_ms -9223372036854775808 (Unix milliseconds, from 0 to 253402300799999)");
  expect_refused(one_task(R"(, "deadline_ms": 9223372036854775807)"), "has deadline_ms 9223372036854775807 (Unix milliseconds");
  expect_refused(one_task(R"(, "ended_ms": -1)"), "has ended_ms -1 (Unix milliseconds");
  expect_refused(one_task(R"(, "timeout_ms": 9223372036854775807)"), "has timeout_ms 9223372036854775807 (at most 3153600000000, 36500 days)");
  expect_refused(one_task(R"(, "idle_timeout_ms": 3153600000001)"), "has idle_timeout_ms 3153600000001 (at most");
  expect_refused(one_task(R"(, "grace_ms": 9223372036854775807)"), "has grace_ms 9223372036854775807 (at most");
  // The largest values start would write are read.
  TempDir d("wd-input");
  Registry r(d.path() / "reg.json");
  write(r.path(), one_task(R"(, "pid": 2147483647, "timeout_ms": 3153600000000, "created_ms": 253402300799999)"));
  auto data = r.load();
  ASSERT_TRUE(data) << data.error().message;
}

// kill, run and cleanup signal every process a recorded cgroup lists: a
// record edited by hand to name a service's cgroup had `kill` end that
// service (found by an outside probe, session 11: a sleep in a cgroup of
// its own was killed through a forged record). Only a cgroup task-watchdog
// makes is accepted: .../task-watchdog/NAME, absolute, without '.' or '..'.
TEST(RegistryInput, ACgroupThatIsNoTaskWatchdogCgroupIsRefused) {
  const auto cgroup = [](const std::string& dir) {
    return one_task(R"(, "containment": {"kind": "cgroup2", "cgroup": ")" + dir + R"("})");
  };
  for (const char* dir : {"/sys/fs/cgroup/unified/system.slice", "/sys/fs/cgroup/unified/system.slice/cron.service",
                          "/sys/fs/cgroup/unified/task-watchdog", "/sys/fs/cgroup/unified/task-watchdog/x-1/..",
                          "/sys/fs/cgroup/unified/task-watchdog/../system.slice", "/sys/fs/cgroup/unified/task-watchdog/./x-1",
                          "/sys/fs/cgroup/unified/task-watchdog//x-1", "/sys/fs/cgroup/unified/task-watchdog/x-1/",
                          "task-watchdog/x-1", "/", "/task-watchdog/.."}) {
    expect_refused(cgroup(dir), std::string("task 'x' has containment cgroup '") + dir + "', which is not a task-watchdog cgroup");
  }
  expect_refused(one_task(R"(, "containment": {"v1": {"memory": "/sys/fs/cgroup/memory/user.slice"}})"),
                 "task 'x' has containment v1 memory '/sys/fs/cgroup/memory/user.slice', which is not a task-watchdog cgroup");
  // What start and register record is read as before.
  TempDir d("wd-input");
  Registry r(d.path() / "reg.json");
  write(r.path(), one_task(R"(, "containment": {"kind": "cgroup2", "cgroup": "/sys/fs/cgroup/unified/user.slice/task-watchdog/x-4241", )"
                           R"("v1": {"memory": "/sys/fs/cgroup/memory/task-watchdog/x-4241"}})"));
  auto data = r.load();
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(data->tasks.at("x").containment.cgroup, "/sys/fs/cgroup/unified/user.slice/task-watchdog/x-4241");
  // update() does not write one either.
  auto up = r.update([](RegistryData& all) -> std::expected<void, Error> {
    all.tasks.at("x").containment.cgroup = "/sys/fs/cgroup/unified/system.slice";
    return {};
  });
  ASSERT_FALSE(up);
  EXPECT_NE(up.error().message.find("which is not a task-watchdog cgroup"), std::string::npos) << up.error().message;
}

TEST(RegistryInput, UpdateNeverWritesARecordTheNextReadWouldRefuse) {
  TempDir d("wd-input");
  Registry r(d.path() / "reg.json");
  ASSERT_TRUE(r.update(add_b));
  const std::string before = read_file(r.path());
  const std::pair<const char*, std::function<void(TaskRecord&)>> cases[] = {
      {"has timeout_ms 0", [](TaskRecord& t) { t.timeout_ms = 0; }},
      {"has pid 0", [](TaskRecord& t) { t.pid = 0; }},
      {"has state 99", [](TaskRecord& t) { t.state = static_cast<TaskState>(99); }},
      {"has containment kind 7", [](TaskRecord& t) { t.containment.kind = static_cast<ContainmentKind>(7); }},
      {"NUL byte in argv[0]", [](TaskRecord& t) { t.argv[0] = std::string("a\0b", 3); }},
  };
  for (const auto& [problem, spoil] : cases) {
    auto up = r.update([&](RegistryData& data) -> std::expected<void, Error> {
      spoil(data.tasks.at("b"));
      return {};
    });
    ASSERT_FALSE(up) << problem;
    EXPECT_EQ(up.error().category, ErrorCategory::usage);
    EXPECT_NE(up.error().message.find(problem), std::string::npos) << up.error().message;
    EXPECT_EQ(read_file(r.path()), before);
  }
  auto up = r.update([](RegistryData& data) -> std::expected<void, Error> {
    TaskRecord t;
    t.id = "-x";
    t.argv = {"a"};
    data.tasks.emplace(t.id, t);
    return {};
  });
  ASSERT_FALSE(up);
  EXPECT_EQ(read_file(r.path()), before);
}

TEST(RegistryInput, AnOversizedRegistryIsRefusedBeforeItIsRead) {
  TempDir d("wd-input");
  Registry r(d.path() / "reg.json");
  {
    std::ofstream out(r.path(), std::ios::binary);
    out << R"({"schema_version": 1, "tasks": {}})";
  }
  // Sparse: no 64 MiB written to the disk.
  fs::resize_file(r.path(), detail::kMaxRegistryBytes + 1);
  auto data = r.load();
  ASSERT_FALSE(data);
  EXPECT_EQ(data.error().category, ErrorCategory::registry_corrupt);
  EXPECT_NE(data.error().message.find("more than a registry may hold"), std::string::npos) << data.error().message;
}
