// The fast registry reader must agree with the DOM path on everything it
// accepts, and hand everything else to the DOM path (nullopt).
#include "registry_fast.hpp"
#include "registry_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace airssys::watchdog;
using detail::parse_registry_dom;
using detail::parse_registry_fast;

namespace {

RegistryData sample() {
  RegistryData d;
  d.extra["future_top"] = nlohmann::json{{"a", {1, 2.5, nullptr, true}}}.dump();
  for (int i = 0; i < 3; ++i) {
    TaskRecord t;
    t.id = "t_" + std::to_string(i) + "-x";
    t.argv = {"sh", "-c", "echo \"quoted\" \\ back\tslash\n\x01 ünïcødé 😀 /"};
    t.cwd = "/tmp/dir with space";
    t.env = {"A=1", "B=é"};
    t.created_ms = 1795000000000 + i;
    if (i == 0) {
      t.timeout_ms = 5000;
      t.idle_timeout_ms = 100;
      t.deadline_ms = 1795000005000;
      t.limits.memory_bytes = 64ULL << 20;
      t.limits.cpus = 0.25;
      t.limits.pids = 7;
      t.containment.v1 = {{"memory", "/sys/fs/cgroup/memory/task-watchdog/t-1"}, {"pids", "/sys/fs/cgroup/pids/task-watchdog/t-1"}};
    }
    t.grace_ms = 1000 * i;
    t.state = i == 2 ? TaskState::running : TaskState::exited;
    t.pid = 100 + i;
    t.pid_start_time = 18446744073709551000ULL;
    t.monitor_pid = 99;
    t.foreground = i == 1;
    t.containment.kind = ContainmentKind::cgroup2;
    t.containment.cgroup = "/sys/fs/cgroup/unified/task-watchdog/x";
    t.exit_code = i == 1 ? std::optional<int>(-3) : std::nullopt;
    t.exit_signal = i == 2 ? std::optional<int>(9) : std::nullopt;
    t.error = i == 1 ? "note \"x\"" : "";
    t.leftover_processes = i;
    t.extra["added_later"] = nlohmann::json{{"nested", {{"k", "v"}}}, {"n", -1.5e3}}.dump();
    d.tasks.emplace(t.id, std::move(t));
  }
  return d;
}

}  // namespace

TEST(RegistryFast, AgreesWithTheDomPathOnWhatItWrites) {
  const auto text = serialize_registry(sample());
  auto fast = parse_registry_fast(text);
  ASSERT_TRUE(fast);
  auto dom = parse_registry_dom(text, "x");
  ASSERT_TRUE(dom) << dom.error().message;
  EXPECT_EQ(serialize_registry(*fast), serialize_registry(*dom));
  EXPECT_EQ(serialize_registry(*fast), text);
  // The same, compact and with odd whitespace.
  const auto compact = nlohmann::json::parse(text).dump();
  fast = parse_registry_fast(compact);
  ASSERT_TRUE(fast);
  EXPECT_EQ(serialize_registry(*fast), text);
}

TEST(RegistryFast, EscapesAndNulls) {
  const std::string text = R"( { "tasks" : { "a" : { "id" : "a", "argv" : [ "\u00e9\ud83d\ude00\/\b\f\r" ], "cwd" : null,
      "pid" : null, "foreground" : null, "limits" : null, "containment" : { "kind" : "process-group", "x" : [1] } } },
      "schema_version" : 1 } )";
  auto fast = parse_registry_fast(text);
  ASSERT_TRUE(fast);
  auto dom = parse_registry_dom(text, "x");
  ASSERT_TRUE(dom);
  EXPECT_EQ(serialize_registry(*fast), serialize_registry(*dom));
  EXPECT_EQ(fast->tasks.at("a").argv.at(0), "\xc3\xa9\xf0\x9f\x98\x80/\b\f\r");
}

TEST(RegistryFast, LeavesEverythingElseToTheDomPath) {
  const std::string ok_task = R"("a": {"id": "a", "argv": ["x"]})";
  for (const std::string& text : {
           std::string(R"({"tasks": {)" + ok_task + "}}"),                                   // no schema_version
           std::string(R"({"schema_version": 2, "tasks": {)" + ok_task + "}}"),              // other version
           std::string(R"({"schema_version": 1.0, "tasks": {}})"),                            // float version
           std::string(R"({"schema_version": 1, "tasks": {"a": {"id": "b", "argv": ["x"]}}})"),  // id != key
           std::string(R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": []}}})"),     // empty argv
           std::string(R"({"schema_version": 1, "tasks": {"a b": {"id": "a b", "argv": ["x"]}}})"),  // bad id
           std::string(R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": ["x"], "pid": "1"}}})"),
           std::string(R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": ["x"], "pid": 1.5}}})"),
           std::string(R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": ["x"], "pid_start_time": -1}}})"),
           std::string(R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": ["x"], "exit_code": 99999999999}}})"),
           std::string(R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": ["x"], "limits": {"cpus": 0}}}})"),
           std::string(R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": [1]}}})"),
           std::string(R"({"schema_version": 1, "tasks": []})"),
           std::string(R"({"schema_version": 1, "tasks": {}} x)"),                            // trailing garbage
           std::string(R"({"schema_version": 1, "tasks": {},})"),                             // trailing comma
           std::string("{\"schema_version\": 1, \"tasks\": {}, \"s\": \"\xff\"}"),            // invalid UTF-8
           std::string("{\"schema_version\": 1, \"tasks\": {}, \"s\": \"a\nb\"}"),            // raw newline in a string
           std::string(R"({"schema_version": 1, "tasks": {}, "s": "\ud800"})"),               // lone surrogate
           std::string(R"({"schema_version": 01, "tasks": {}})"),
           std::string(R"([1])"), std::string(""), std::string("{"),
       }) {
    EXPECT_FALSE(parse_registry_fast(text)) << text;
  }
}

TEST(RegistryFast, LeavesARepeatedKnownKeyToTheDomPath) {
  // nlohmann keeps the last of a repeated key whole; reading field by field
  // would merge the two (found by watchdog_registry_fuzz: a second
  // "containment" without "cgroup" kept the first one's). The DOM path's
  // reading is the one that counts, in the fast path, task by task and in
  // what is written back.
  const std::string head = R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": ["x"], )";
  for (const std::string& fields : {
           std::string(R"("containment": {"kind": "cgroup2", "cgroup": "/c"}, "containment": {"kind": "cgroup2"})"),
           std::string(R"("containment": {"cgroup": "/c", "cgroup": null})"),
           std::string(R"("containment": {"kind": "none", "kind": "cgroup2"})"),
           std::string(R"("containment": {"v1": {"memory": "/m"}, "v1": null})"),
           std::string(R"("limits": {"pids": 5}, "limits": {"cpus": 1})"),
           std::string(R"("limits": {"cpus": 1, "cpus": null})"),
           std::string(R"("limits": {"pids": 1, "pids": 2})"),
           std::string(R"("cwd": "/w", "cwd": null)"),
           std::string(R"("env": ["A=1"], "env": null)"),
           std::string(R"("pid": 7, "pid": 8)"),
       }) {
    const std::string text = head + fields + "}}}";
    EXPECT_FALSE(parse_registry_fast(text)) << text;
    EXPECT_FALSE(detail::for_each_task_fast(text, [](const TaskRecord&) {})) << text;
    const auto whole = parse_registry(text, "x");
    ASSERT_TRUE(whole) << text << ": " << whole.error().message;
    const auto dom = parse_registry_dom(text, "x");
    ASSERT_TRUE(dom);
    EXPECT_EQ(serialize_registry(*whole), serialize_registry(*dom)) << text;
  }
  // The last one counts, as nlohmann reads it.
  const auto last = parse_registry(head + R"("containment": {"kind": "cgroup2", "cgroup": "/c"}, "containment": {"kind": "cgroup2"}}}})", "x");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->tasks.at("a").containment.cgroup, "");
  // Repeated unknown keys and repeated v1 controllers were already read as
  // nlohmann reads them (the last one): still the fast path's.
  EXPECT_TRUE(parse_registry_fast(head + R"("f": 1, "f": 2, "containment": {"v1": {"m": "/s/task-watchdog/a-1", "m": "/s/task-watchdog/a-2"}}}}})"));
}

namespace {

// Numbers outside JSON's grammar that strtod (and so from_chars) accepts.
const char* const kNotJsonNumbers[] = {".5", "1.", "007", "00", "-01", "+1", "1e", "1e+", "-", "1.e5", "-.5", "0x10", "1E--2"};

// A registry holding `number` as limits.cpus, in an unknown limits key (skipped
// raw), and in an unknown task key (kept).
std::vector<std::string> registries_with(const std::string& number) {
  const std::string head = R"({"schema_version": 1, "tasks": {"a": {"id": "a", "argv": ["x"], )";
  return {head + R"("limits": {"cpus": )" + number + "}}}}",
          head + R"("limits": {"cpus": 1, "future": )" + number + "}}}}",
          head + R"("containment": {"future": [)" + number + "]}}}}",
          head + R"("future": )" + number + "}}}",
          R"({"schema_version": 1, "tasks": {}, "future": )" + number + "}"};
}

}  // namespace

TEST(RegistryFast, RefusesNumbersOutsideTheJsonGrammar) {
  for (const char* number : kNotJsonNumbers) {
    for (const auto& text : registries_with(number)) {
      EXPECT_FALSE(parse_registry_fast(text)) << text;
      // The whole parse (fast, then DOM) refuses it too, so the registry is
      // never rewritten in a "cleaned" form.
      auto whole = parse_registry(text, "reg.json");
      ASSERT_FALSE(whole) << text;
      EXPECT_EQ(whole.error().category, ErrorCategory::registry_corrupt);
    }
  }
  // Their valid neighbours still take the fast path.
  for (const char* number : {"0.5", "1.0", "7", "1e-3", "1E+2", "2.5e10", "10.25E-1"}) {
    for (const auto& text : registries_with(number)) {
      auto fast = parse_registry_fast(text);
      ASSERT_TRUE(fast) << text;
      auto dom = parse_registry_dom(text, "x");
      ASSERT_TRUE(dom) << dom.error().message;
      EXPECT_EQ(serialize_registry(*fast), serialize_registry(*dom));
    }
  }
}

TEST(RegistryFast, ThousandTasksRoundTrip) {
  RegistryData d;
  for (int i = 0; i < 1000; ++i) {
    TaskRecord t;
    t.id = "task-" + std::to_string(i);
    t.argv = {"make", std::to_string(i)};
    t.created_ms = i;
    d.tasks.emplace(t.id, std::move(t));
  }
  const auto text = serialize_registry(d);
  auto fast = parse_registry_fast(text);
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->tasks.size(), 1000u);
  EXPECT_EQ(serialize_registry(*fast), text);
}

namespace {

std::string task_to_json_text(const TaskRecord& t) { return detail::task_to_json(t).dump(); }

}  // namespace

TEST(RegistryFast, ForEachTaskSeesWhatTheWholeReaderReads) {
  const auto text = serialize_registry(sample());
  const auto whole = parse_registry_fast(text);
  ASSERT_TRUE(whole);
  std::vector<std::string> seen;
  ASSERT_TRUE(detail::for_each_task_fast(text, [&](const TaskRecord& t) {
    const auto it = whole->tasks.find(t.id);
    ASSERT_NE(it, whole->tasks.end()) << t.id;
    EXPECT_EQ(task_to_json_text(t), task_to_json_text(it->second)) << t.id;
    seen.push_back(t.id);
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"t_0-x", "t_1-x", "t_2-x"}));  // file order, one call each
}

TEST(RegistryFast, ForEachTaskGivesUpWhereIdsCouldRepeat) {
  // Keys out of ascending order (hand-edited), a repeated key, a second
  // "tasks": the whole reader's map decides which record counts.
  const auto task = [](const std::string& id) {
    return "\"" + id + "\": {\"id\": \"" + id + "\", \"argv\": [\"true\"], \"state\": \"exited\"}";
  };
  const auto none = [](const TaskRecord&) {};
  for (const std::string& text : {"{\"schema_version\": 1, \"tasks\": {" + task("b") + ", " + task("a") + "}}",
                                  "{\"schema_version\": 1, \"tasks\": {" + task("a") + ", " + task("a") + "}}",
                                  "{\"schema_version\": 1, \"tasks\": {" + task("a") + "}, \"tasks\": {" + task("b") + "}}"}) {
    EXPECT_FALSE(detail::for_each_task_fast(text, none)) << text;
    EXPECT_TRUE(parse_registry(text, "x")) << text;  // still a valid registry
  }
  EXPECT_TRUE(detail::for_each_task_fast("{\"schema_version\": 1, \"tasks\": {" + task("a") + ", " + task("b") + "}}", none));
  EXPECT_FALSE(detail::for_each_task_fast("{\"schema_version\": 2, \"tasks\": {}}", none));
  EXPECT_FALSE(detail::for_each_task_fast("{\"schema_version\": 1, \"tasks\": {\"a\": {\"id\": \"a\", \"argv\": []}}}", none));
}
