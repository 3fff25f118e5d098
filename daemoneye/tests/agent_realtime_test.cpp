// The real agent with procmond's eBPF source: a payload run from /tmp that
// lives about a millisecond — gone long before any collection — is stored in
// process_events with its argv and raises the bundled exec-from-tmp alert.

#include "harness.hpp"
#include "store_query.hpp"

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>

namespace detest {
namespace {

TEST(AgentRealtime, AOneMillisecondPayloadFromTmpIsStoredAndAlerted) {
  if (::geteuid() != 0) GTEST_SKIP() << "eBPF needs root";
  ASSERT_FALSE(agent_bin().empty()) << "DAEMONEYE_AGENT_BIN is not set: run this test through ctest";
  const char* src = std::getenv("AIRSSYS_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  TempDir dir;  // under /tmp: where exec-from-tmp looks
  const fs::path rules = dir.path() / "rules", var = dir.path() / "var", log = dir.path() / "agent.log";
  fs::create_directories(rules);
  fs::copy_file(fs::path(src) / "daemoneye/rules/exec-from-tmp.yaml", rules / "exec-from-tmp.yaml");
  const fs::path config = dir.path() / "config.yaml";
  write_file(config, fmt::format(R"(database: {{ path: {0}/daemoneye.db }}
scan: {{ interval: 500ms }}
rules: {{ dir: {1} }}
procmond: {{ events: ebpf }}
alerts:
  sinks:
    - {{ type: file, path: {0}/alerts.jsonl, format: json }}
)",
                                 var.string(), rules.string()));
  Child agent({agent_bin(), "--config", config.string()}, log, log);
  ASSERT_GT(agent.pid(), 0);
  const fs::path db = var / "daemoneye.db";
  ASSERT_TRUE(eventually([&] {
    const auto n = query_text(db, "SELECT count(*) FROM scans");
    return !n.empty() && n != "0";
  })) << slurp(log);
  ASSERT_NE(slurp(log).find("event source: ebpf"), std::string::npos) << slurp(log);

  // A copy of /bin/true under /tmp, run once: it exits at once.
  const std::string marker = fmt::format("payload-{}", ::getpid());
  const fs::path payload = dir.path() / marker;
  fs::copy_file("/bin/true", payload);
  fs::permissions(payload, fs::perms::owner_all);
  std::string a0 = payload.string(), a1 = "--beacon", a2 = "10.0.0.1";
  char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ), 0);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

  const std::string where = fmt::format("FROM process_events WHERE pid = {} AND event = 'exec'", pid);
  ASSERT_TRUE(eventually([&] { return query_text(db, "SELECT count(*) " + where) == "1"; }, 60s)) << slurp(log);
  EXPECT_EQ(query_text(db, "SELECT source " + where), "ebpf");
  EXPECT_EQ(query_text(db, "SELECT cmdline " + where), payload.string() + " --beacon 10.0.0.1");
  EXPECT_EQ(query_text(db, "SELECT path " + where), payload.string());
  EXPECT_FALSE(query_text(db, "SELECT time_ns " + where).empty());
  EXPECT_EQ(query_text(db, fmt::format("SELECT exit_code FROM process_events WHERE pid = {} AND event = 'stop'", pid)),
            "0");

  // The next scan's rules see it, though it never lived through a scan.
  std::optional<nlohmann::json> alert;
  ASSERT_TRUE(eventually([&] {
    std::istringstream in(slurp(var / "alerts.jsonl"));
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("rule_id", "") == "exec-from-tmp" && j["row"].value("pid", -1) == pid) {
        alert = j;
        return true;
      }
    }
    return false;
  }, 60s)) << slurp(log);
  EXPECT_EQ((*alert)["row"]["path"], payload.string());
  // Raised once, though the rule finds it in process_events at every scan
  // for two minutes (dedup by pid and start time): let three more scans run.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(query_text(db, fmt::format("SELECT count(*) FROM alerts WHERE rule_id = 'exec-from-tmp' AND "
                                       "json_extract(\"row\", '$.pid') = {}",
                                       pid)),
            "1");

  agent.signal(SIGTERM);
  const auto rc = agent.wait(60s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0) << slurp(log);
}

}  // namespace
}  // namespace detest
