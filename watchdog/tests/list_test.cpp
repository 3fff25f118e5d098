// task-watchdog list: a plain `list` is answered before the program's
// start-up (tools/list_early.cpp); every other command line goes through
// CLI11 and cmd_list. These tests hold the two paths to the same bytes on
// stdout and stderr and the same exit status. `--audit-ledger` makes the
// early path step aside, so the same `list` with it is the full path.

#include "harness.hpp"

using namespace wdtest;

namespace {

struct Both {
  Result early, full;
};

// `list ARGS` as the early path and as the full path run it.
Both list_both(const fs::path& dir, const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> early{"list"};
  early.insert(early.end(), args.begin(), args.end());
  std::vector<std::string> full{"--audit-ledger", (dir / "ledger").string()};
  full.insert(full.end(), early.begin(), early.end());
  return {run(dir, early, env), run(dir, full, env)};
}

void expect_same(const Both& b) {
  EXPECT_EQ(b.early.rc, b.full.rc);
  EXPECT_EQ(b.early.out, b.full.out);
  EXPECT_EQ(b.early.err, b.full.err);
}

}  // namespace

TEST(List, EarlyAndFullPathPrintTheSameTableAndJson) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "registry.json";
  // Ended tasks only: a live task's "in 1m29s" would tick between the two runs.
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "ok", "--timeout", "90s", "--", "true"}).rc, 0);
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "three", "--", "/bin/sh", "-c", "exit 3"}).rc, 3);
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "sig", "--", "/bin/sh", "-c", "kill -TERM $$"}).rc,
            128 + SIGTERM);
  for (const auto& args : std::vector<std::vector<std::string>>{{"--registry", reg.string()},
                                                                {"--json", "--registry", reg.string()},
                                                                {"--registry=" + reg.string(), "--json"}}) {
    const auto b = list_both(d.path, args);
    expect_same(b);
    EXPECT_EQ(b.early.rc, 0) << b.early.err;
  }
  const auto table = list_both(d.path, {"--registry", reg.string()}).early.out;
  EXPECT_EQ(table.rfind("ID                       STATE           PID DEADLINE     COMMAND\n", 0), 0u) << table;
  EXPECT_NE(table.find("\nok "), std::string::npos) << table;
  EXPECT_NE(table.find(" exited "), std::string::npos) << table;
  EXPECT_NE(table.find("/bin/sh -c exit 3\n"), std::string::npos) << table;
  const auto json = nlohmann::json::parse(list_both(d.path, {"--json", "--registry", reg.string()}).early.out);
  ASSERT_EQ(json.size(), 3u);
  EXPECT_EQ(json[0]["id"], "ok");  // oldest first
  EXPECT_EQ(json[1]["exit_code"], 3);
}

TEST(List, RegistryFromTheEnvironmentOnTheEarlyPath) {
  // The early path runs before libc sets `environ`; it must still see
  // $TASK_WATCHDOG_REGISTRY.
  TempDir d;
  const auto reg = d.path / "env" / "registry.json";
  const std::vector<std::string> env{"TASK_WATCHDOG_REGISTRY=" + reg.string()};
  ASSERT_EQ(run(d.path, {"start", "--wait", "--id", "from-env", "--", "true"}, env).rc, 0);
  const auto b = list_both(d.path, {}, env);
  expect_same(b);
  EXPECT_NE(b.early.out.find("\nfrom-env "), std::string::npos) << b.early.out << b.early.err;
}

TEST(List, ErrorsAreTheSameOnBothPaths) {
  TempDir d;
  const auto reg = d.path / "registry.json";
  { std::ofstream(reg) << R"({"schema_version": 1, "tasks": {"x": {"id": "x", "argv": "oops"}}})"; }
  auto b = list_both(d.path, {"--registry", reg.string()});
  expect_same(b);
  EXPECT_EQ(b.early.rc, 4);
  EXPECT_NE(b.early.err.find(reg.string()), std::string::npos) << b.early.err;
  EXPECT_TRUE(b.early.out.empty());

  const auto link = d.path / "link.json";
  fs::create_symlink(reg, link);
  b = list_both(d.path, {"--registry", link.string()});
  expect_same(b);
  EXPECT_EQ(b.early.rc, 1);
  EXPECT_NE(b.early.err.find("symbolic link"), std::string::npos) << b.early.err;

  // A missing registry is an empty one: the header only.
  b = list_both(d.path, {"--registry", (d.path / "none.json").string()});
  expect_same(b);
  EXPECT_EQ(b.early.rc, 0);
  EXPECT_EQ(b.early.out, "ID                       STATE           PID DEADLINE     COMMAND\n");
}

TEST(List, CommandLinesTheEarlyPathLeavesToCli11) {
  // Each of these is CLI11's to answer (usage error 2, or help 0); the early
  // path must not print a list for any of them.
  TempDir d;
  const auto reg = (d.path / "r.json").string();
  for (const auto& args : std::vector<std::vector<std::string>>{{"--json", "list", "--registry", reg},
                                                                {"list", "--registry", reg, "--registry", reg},
                                                                {"list", "extra", "--registry", reg},
                                                                {"list", "--registry"},
                                                                {"list", "--nope"}}) {
    const auto r = run(d.path, args);
    EXPECT_EQ(r.rc, 2) << args[0] << " " << args[1] << ": " << r.out << r.err;
    EXPECT_EQ(r.out.find("STATE"), std::string::npos) << r.out;
  }
  const auto help = run(d.path, {"list", "--help"});
  EXPECT_EQ(help.rc, 0);
  EXPECT_NE(help.out.find("--json"), std::string::npos) << help.out;
}

TEST(List, AListThatCannotBeWrittenIsAFailure) {
  // The early path buffers the whole list and flushes it once: a failed
  // write must end in an error and exit 1, not in silence and 0.
  TempDir d;
  const auto reg = d.path / "registry.json";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "t" + std::to_string(i), "--", "true"}).rc, 0);
  }
  auto child = spawn({"list", "--registry", reg.string()}, "/dev/full", d.path / "err");
  EXPECT_EQ(wait_child(child), 1);
  EXPECT_NE(slurp(d.path / "err").find("task-watchdog: writing the task list: No space left on device"), std::string::npos)
      << slurp(d.path / "err");
}

TEST(List, ALongListThatCannotBeWrittenIsAFailure) {
  // Past the early path's 64 KiB buffer the list is written while it is
  // printed, and fmt reports the failed write by throwing: still exit 1 with
  // the reason, not an abort.
  TempDir d;
  const auto reg = d.path / "registry.json";
  ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", "t", "--", "true"}).rc, 0);
  auto root = nlohmann::json::parse(slurp(reg));
  const auto one = root["tasks"]["t"];
  for (int i = 0; i < 1500; ++i) {
    auto copy = one;
    const std::string id = "task-with-a-longer-name-" + std::to_string(i);
    if (copy.contains("id")) copy["id"] = id;
    root["tasks"][id] = copy;
  }
  {
    std::ofstream out(reg, std::ios::trunc);
    out << root.dump();
  }
  const auto listed = run(d.path, {"list", "--registry", reg.string()});
  ASSERT_EQ(listed.rc, 0) << listed.err;
  ASSERT_GT(listed.out.size(), std::size_t{1} << 16);
  auto child = spawn({"list", "--registry", reg.string()}, "/dev/full", d.path / "err");
  EXPECT_EQ(wait_child(child), 1);
  EXPECT_NE(slurp(d.path / "err").find("task-watchdog: writing the task list: "), std::string::npos)
      << slurp(d.path / "err");
}

TEST(List, TaskByTaskTheListIsTheWholeRegistrys) {
  // `list` reads one task at a time (tools/list_command.cpp) and falls back
  // to the whole registry where ids are not in ascending order. Both give
  // the records as the registry holds them, oldest first, ties by id.
  TempDir d;
  const auto reg = d.path / "registry.json";
  for (const char* id : {"c", "a", "b"}) {
    ASSERT_EQ(run(d.path, {"start", "--wait", "--registry", reg.string(), "--id", id, "--", "true"}).rc, 0);
  }
  auto root = nlohmann::ordered_json::parse(slurp(reg));
  root["tasks"]["a"]["created_ms"] = root["tasks"]["b"]["created_ms"];  // a tie, broken by id
  {
    std::ofstream out(reg, std::ios::trunc);
    out << root.dump(1);
  }
  nlohmann::json expected = nlohmann::json::array();
  for (const char* id : {"c", "a", "b"}) expected.push_back(nlohmann::json::parse(root["tasks"][id].dump()));
  const auto listed = list_both(d.path, {"--json", "--registry", reg.string()});
  expect_same(listed);
  EXPECT_EQ(listed.early.out, expected.dump() + "\n");
  const auto table = list_both(d.path, {"--registry", reg.string()});
  expect_same(table);
  EXPECT_NE(table.early.out.find("\nb "), std::string::npos) << table.early.out;
  EXPECT_LT(table.early.out.find("\nc "), table.early.out.find("\na ")) << table.early.out;
  EXPECT_LT(table.early.out.find("\na "), table.early.out.find("\nb ")) << table.early.out;

  // The same tasks with their keys in descending order: the same output.
  nlohmann::ordered_json reversed = root;
  reversed["tasks"] = nlohmann::ordered_json::object();
  for (const char* id : {"c", "b", "a"}) reversed["tasks"][id] = root["tasks"][id];
  {
    std::ofstream out(reg, std::ios::trunc);
    out << reversed.dump(1);
  }
  const auto listed_again = list_both(d.path, {"--json", "--registry", reg.string()});
  expect_same(listed_again);
  EXPECT_EQ(listed_again.early.out, listed.early.out);
  EXPECT_EQ(list_both(d.path, {"--registry", reg.string()}).early.out, table.early.out);
}
