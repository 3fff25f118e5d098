// daemoneye-agent end to end: the real agent (with its real procmond) on a
// temporary config; a planted process that a test rule matches must reach
// the JSON-lines sink, the database and the audit ledger, and the ledger
// must verify. Hostile rules are refused at load while the agent keeps
// running; a procmond killed with SIGKILL is restarted; a SIGKILLed agent
// starts again on the same state.

#include "harness.hpp"
#include "store_query.hpp"

#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <fmt/format.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace detest {
namespace {

struct AgentFixture : AgentDir {
  std::string marker = fmt::format("de-marker-{}-{}", ::getpid(), ::testing::UnitTest::GetInstance()->random_seed());

  AgentFixture() {
    write_config();  // the minimal config, with a short interval
    add_rule("test-marker", fmt::format("SELECT pid, name, path, cmdline, start_time FROM processes WHERE path LIKE '%{}%'", marker));
  }

  void add_rule(const std::string& id, const std::string& query, const std::string& file = "") {
    write_file(rules / (file.empty() ? id + ".yaml" : file),
               fmt::format("id: {}\nname: Test rule {}\nseverity: high\ntags: [test]\nquery: \"{}\"\n", id, id, query));
  }

  // A copy of /bin/sleep whose path carries the marker. `padding` extra "0"
  // arguments (sleep adds them up) make its cmdline, and so its alert, longer.
  std::unique_ptr<Child> plant(const std::string& suffix = "", int padding = 0) {
    fs::path exe = dir.path() / (marker + suffix);
    fs::copy_file("/bin/sleep", exe, fs::copy_options::overwrite_existing);
    fs::permissions(exe, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    std::vector<std::string> argv{exe.string(), "600"};
    for (int i = 0; i < padding; ++i) argv.emplace_back("0");
    return std::make_unique<Child>(std::move(argv));
  }

  // Waits until the agent has stored its first scan, so a process started
  // after it is new to procmond (the first collection sends no start events).
  bool first_scan_stored() const;

  std::optional<nlohmann::json> alert_for(pid_t pid) const {
    for (auto& a : alert_lines())
      if (a.value("rule_id", "") == "test-marker" && a["row"].value("pid", -1) == pid) return a;
    return std::nullopt;
  }
};

bool AgentFixture::first_scan_stored() const {
  return eventually([&] { return count_rows(var / "daemoneye.db", "SELECT count(*) FROM scans") >= 1; });
}

TEST(Agent, PlantedProcessRaisesAnAlertInTheFileSinkTheDatabaseAndTheLedger) {
  AgentFixture f;
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  ASSERT_TRUE(f.first_scan_stored()) << slurp(f.log);
  auto planted = f.plant();
  ASSERT_TRUE(eventually([&] { return f.alert_for(planted->pid()).has_value(); }))
      << "no alert for pid " << planted->pid() << "\nagent log:\n" << slurp(f.log);

  auto alert = *f.alert_for(planted->pid());
  EXPECT_EQ(alert["rule_name"], "Test rule test-marker");
  EXPECT_EQ(alert["severity"], "high");
  EXPECT_EQ(alert["tags"], nlohmann::json::array({"test"}));
  EXPECT_EQ(alert["row"]["path"], (f.dir.path() / f.marker).string());
  EXPECT_FALSE(alert["host"].get<std::string>().empty());
  EXPECT_EQ(alert["dedup_key"].get<std::string>().rfind("test-marker", 0), 0u);
  struct stat st{};
  ASSERT_EQ(::stat(f.alerts.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // The same process is not raised again (dedup) while it keeps matching.
  std::this_thread::sleep_for(1500ms);
  int same = 0;
  for (auto& a : f.alert_lines())
    if (a["row"].value("pid", -1) == planted->pid()) ++same;
  EXPECT_EQ(same, 1);

  agent->signal(SIGTERM);
  auto rc = agent->wait();
  ASSERT_TRUE(rc.has_value()) << slurp(f.log);
  EXPECT_EQ(*rc, 0) << slurp(f.log);
  EXPECT_TRUE(children_named(agent->pid(), "procmond").empty());

  const fs::path db = f.var / "daemoneye.db";
  EXPECT_EQ(count_rows(db, fmt::format("SELECT count(*) FROM alerts WHERE rule_id = 'test-marker' AND "
                                       "json_extract(row, '$.pid') = {}",
                                       planted->pid())),
            1);
  EXPECT_GE(count_rows(db, "SELECT count(*) FROM scans"), 1);
  EXPECT_EQ(count_rows(db, fmt::format("SELECT count(*) FROM processes WHERE pid = {}", planted->pid())), 1);
  EXPECT_GE(count_rows(db, fmt::format("SELECT count(*) FROM process_events WHERE event = 'start' AND pid = {}",
                                       planted->pid())),
            1);

  // The ledger holds the alert and verifies.
  const fs::path ledger_dir = f.var / "ledger";
  auto report = airssys::ledger::verify(ledger_dir);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  auto l = airssys::ledger::Ledger::open(ledger_dir, {.read_only = true});
  ASSERT_TRUE(l.has_value()) << l.error().to_string();
  bool found = false;
  for (std::uint64_t i = 0; i < (*l)->size(); ++i) {
    auto e = (*l)->entry(i);
    ASSERT_TRUE(e.has_value());
    auto j = nlohmann::json::parse(std::string(e->begin(), e->end()), nullptr, false);
    if (!j.is_discarded() && j.value("rule_id", "") == "test-marker" && j["row"].value("pid", -1) == planted->pid())
      found = true;
  }
  EXPECT_TRUE(found);
}

TEST(Agent, HostileRulesAreRefusedAtLoadAndTheOthersKeepRunning) {
  AgentFixture f;
  f.add_rule("attach", "ATTACH DATABASE '/tmp/x.db' AS x");
  f.add_rule("pragma", "PRAGMA journal_mode = DELETE");
  f.add_rule("write", "DELETE FROM alerts");
  f.add_rule("two-statements", "SELECT 1; DELETE FROM processes");
  f.add_rule("load-extension", "SELECT load_extension('/tmp/evil.so')");
  f.add_rule("unknown-column", "SELECT no_such_column FROM processes");
  write_file(f.rules / "broken.yaml", "id: [unclosed\n");
  // Each CTE uses the previous one twice: compiling it doubles SQLite's
  // memory per level (2.4 GB at 20 levels without the agent's heap limit).
  std::string cte = "WITH c0(x) AS (SELECT 1)";
  for (int i = 1; i <= 20; ++i) cte += fmt::format(", c{0}(x) AS (SELECT x FROM c{1} UNION ALL SELECT x + 1 FROM c{1})", i, i - 1);
  f.add_rule("exponential", cte + " SELECT x AS pid FROM c20 WHERE x < 0");
  // Passes the load-time check but never ends: the time limit stops it every scan.
  f.add_rule("forever",
             "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS pid FROM c WHERE x < 0");
  auto agent = f.start_agent();
  auto planted = f.plant();
  ASSERT_TRUE(eventually([&] { return f.alert_for(planted->pid()).has_value(); })) << slurp(f.log);
  std::string log = slurp(f.log);
  for (const char* file : {"attach.yaml", "pragma.yaml", "write.yaml", "two-statements.yaml", "load-extension.yaml",
                           "unknown-column.yaml", "broken.yaml", "exponential.yaml"})
    EXPECT_NE(log.find(std::string("rule rejected: ") + (f.rules / file).string()), std::string::npos)
        << file << " not reported as rejected:\n"
        << log;
  EXPECT_NE(log.find("rule forever failed"), std::string::npos) << log;
  agent->signal(SIGTERM);
  ASSERT_EQ(agent->wait().value_or(-1), 0) << slurp(f.log);
  EXPECT_GE(count_rows(f.var / "daemoneye.db", "SELECT count(*) FROM alerts"), 1);  // DELETE never ran
}

TEST(Agent, AProcmondKilledWithSigkillIsRestartedAndDetectionGoesOn) {
  AgentFixture f;
  auto agent = f.start_agent();
  std::vector<pid_t> first;
  ASSERT_TRUE(eventually([&] {
    first = children_named(agent->pid(), "procmond");
    return first.size() == 1;
  })) << slurp(f.log);
  ASSERT_EQ(::kill(first[0], SIGKILL), 0);
  std::vector<pid_t> second;
  ASSERT_TRUE(eventually([&] {
    second = children_named(agent->pid(), "procmond");
    return second.size() == 1 && second[0] != first[0];
  })) << slurp(f.log);
  auto planted = f.plant();
  ASSERT_TRUE(eventually([&] { return f.alert_for(planted->pid()).has_value(); })) << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("was killed by signal 9; restarting it"), std::string::npos) << slurp(f.log);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait().value_or(-1), 0) << slurp(f.log);
}

TEST(Agent, AnAgentKilledWithSigkillStartsAgainOnTheSameState) {
  AgentFixture f;
  auto planted = f.plant();
  {
    auto agent = f.start_agent();
    ASSERT_TRUE(eventually([&] { return f.alert_for(planted->pid()).has_value(); })) << slurp(f.log);
    // Killed as soon as the sink has the alert, whether or not the store
    // has committed it yet: the restarted agent stores what the ledger holds
    // and the store lacks before it reads its dedup window back.
    std::vector<pid_t> procmond = children_named(agent->pid(), "procmond");
    agent->signal(SIGKILL);
    ASSERT_TRUE(agent->wait().has_value());
    // procmond follows its parent (PR_SET_PDEATHSIG).
    for (pid_t p : procmond)
      EXPECT_TRUE(eventually([&] { return ::kill(p, 0) != 0; })) << "procmond " << p << " outlived the agent";
  }
  auto second = f.plant("-2");
  auto agent = f.start_agent();
  ASSERT_TRUE(eventually([&] { return f.alert_for(second->pid()).has_value(); })) << slurp(f.log);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait().value_or(-1), 0) << slurp(f.log);
  // Nothing acknowledged was lost, and the restarted agent remembered the
  // first alert (read back from the store, where the ledger put it if the
  // kill came first) instead of raising it again: once at the sink and in
  // the store.
  int first = 0;
  for (auto& a : f.alert_lines())
    if (a["row"].value("pid", -1) == planted->pid()) ++first;
  EXPECT_EQ(first, 1) << slurp(f.log);
  EXPECT_EQ(count_rows(f.var / "daemoneye.db",
                       fmt::format("SELECT count(*) FROM alerts WHERE json_extract(row, '$.pid') = {}", planted->pid())),
            1)
      << slurp(f.log);
  auto report = airssys::ledger::verify(f.var / "ledger");
  EXPECT_TRUE(report.has_value()) << report.error().to_string();
}

// Agent::start's error category decides the exit code: a configuration
// that names something unusable is a configuration error (2), a host that
// lacks something is a failure to start (1).
TEST(Agent, AnUnusableSinkInTheConfigExits2AndAMissingProcmondExits1) {
  {
    AgentFixture f;
    fs::create_directories(f.alerts);  // the file sink's path is a directory
    // create_directories made var/ 0755 too, and an unsafe state directory is
    // refused (exit 1) before the sinks are opened (ce90e1e): var/ is the
    // agent's own here, as the agent makes it, so the sink is what fails.
    fs::permissions(f.var, fs::perms::owner_all);
    Child agent({agent_bin(), "--config", f.config.string()}, f.log, f.log);
    EXPECT_EQ(agent.wait().value_or(-1), 2) << slurp(f.log);
    EXPECT_NE(slurp(f.log).find("cannot start: alerts.sinks #1: file sink: cannot open " + f.alerts.string()),
              std::string::npos)
        << slurp(f.log);
  }
  {
    AgentFixture f;
    const fs::path missing = f.dir.path() / "no-such-procmond";
    Child agent({agent_bin(), "--config", f.config.string(), "--procmond", missing.string()}, f.log, f.log);
    EXPECT_EQ(agent.wait().value_or(-1), 1) << slurp(f.log);
    EXPECT_NE(slurp(f.log).find("procmond not found or not executable at " + missing.string()), std::string::npos)
        << slurp(f.log);
  }
}

TEST(Agent, ABadConfigIsRefusedWithFileAndLine) {
  AgentFixture f;
  write_file(f.config, "database: { path: ./x.db }\nscan:\n  intervall: 1s\n");
  Child agent({agent_bin(), "--config", f.config.string()}, f.log, f.log);
  EXPECT_EQ(agent.wait().value_or(-1), 2);
  EXPECT_NE(slurp(f.log).find(f.config.string() + ":3:"), std::string::npos) << slurp(f.log);
}

}  // namespace
}  // namespace detest

namespace detest {
namespace {

// As an ordinary user the agent still runs (procmond reads what it may) and
// says which processes it could not fully read.
TEST(Agent, RunsAsAnOrdinaryUserAndSaysWhatItCannotRead) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to nobody";
  AgentFixture f;
  const uid_t nobody = 65534;
  const gid_t nogroup = 65534;
  // The user needs its own state: a directory it owns, and a rules dir and
  // config it can read.
  ASSERT_EQ(::chmod(f.dir.path().c_str(), 0755), 0);
  fs::create_directories(f.var);
  ASSERT_EQ(::chown(f.var.c_str(), nobody, nogroup), 0);
  ASSERT_EQ(::chmod(f.var.c_str(), 0700), 0);
  for (const auto& e : fs::directory_iterator(f.rules)) ASSERT_EQ(::chmod(e.path().c_str(), 0644), 0);
  ASSERT_EQ(::chmod(f.rules.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(f.config.c_str(), 0644), 0);
  // The planted program must be reachable by nobody too.
  Child agent(Child::As{nobody, nogroup}, {agent_bin(), "--config", f.config.string()}, f.log, f.log);
  ASSERT_TRUE(f.first_scan_stored()) << slurp(f.log);
  ASSERT_TRUE(eventually([&] {
    return slurp(f.log).find("daemoneye-agent: not running as root: ") != std::string::npos;
  })) << slurp(f.log);
  // status.json names the first of them and what of each could not be read
  // (before 2026-12-06 only their count): pid 1 is root's, its exe, cwd,
  // root and io hidden from nobody.
  std::optional<airssys::daemoneye::LastScan> last;
  ASSERT_TRUE(eventually([&] {
    auto s = airssys::daemoneye::read_status_file(f.var / "status.json");
    if (s && *s && (*s)->last_scan && !(*s)->last_scan->unreadable_sample.empty()) last = (*s)->last_scan;
    return last.has_value();
  })) << slurp(f.var / "status.json");
  EXPECT_GT(last->unreadable, 0u);
  EXPECT_LE(last->unreadable_sample.size(), std::min<std::size_t>(last->unreadable, 5));
  for (const auto& p : last->unreadable_sample) {
    EXPECT_GT(p.pid, 0);
    ASSERT_FALSE(p.missing.empty()) << p.pid;
    for (const auto& m : p.missing)
      EXPECT_TRUE(m.starts_with(fmt::format("/proc/{}/", p.pid)) || m.starts_with("the executable ")) << m;
  }
  const auto& first = last->unreadable_sample.front();
  if (first.pid == 1) {
    EXPECT_NE(std::find(first.missing.begin(), first.missing.end(), "/proc/1/exe"), first.missing.end());
    EXPECT_NE(std::find(first.missing.begin(), first.missing.end(), "/proc/1/io"), first.missing.end());
  }
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait().value_or(-1), 0) << slurp(f.log);
  EXPECT_GE(count_rows(f.var / "daemoneye.db", "SELECT count(*) FROM scans"), 1) << slurp(f.log);
  EXPECT_GE(count_rows(f.var / "daemoneye.db", "SELECT count(*) FROM processes"), 1) << slurp(f.log);
}

}  // namespace
}  // namespace detest

namespace detest {
namespace {

// A full disk under the agent's state: the failure is logged, the agent
// keeps running, and once there is room again the pending alert is raised
// and the ledger verifies.
TEST(Agent, AFullDiskIsLoggedAndTheAgentRecoversWhenThereIsRoomAgain) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  AgentFixture f;
  fs::create_directories(f.var);
  ASSERT_EQ(::mount("tmpfs", f.var.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=8m,mode=0700"), 0)
      << std::strerror(errno);
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{f.var};

  auto agent = f.start_agent();
  ASSERT_TRUE(f.first_scan_stored()) << slurp(f.log);
  // Fill the file system.
  const fs::path filler = f.var / "filler";
  {
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    std::string block(64 * 1024, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    std::string small(512, 'x');
    while (::write(fd, small.data(), small.size()) > 0) {
    }
    ::close(fd);
  }
  // 20 KiB of cmdline per alert: more than any partly filled page can take.
  auto planted = f.plant("", 10000);
  ASSERT_TRUE(eventually([&] {
    std::string log = slurp(f.log);
    return log.find("failed") != std::string::npos || log.find("not raised") != std::string::npos;
  })) << slurp(f.log);
  EXPECT_EQ(::kill(agent->pid(), 0), 0) << "the agent died on a full disk:\n" << slurp(f.log);
  fs::remove(filler);
  ASSERT_TRUE(eventually([&] { return f.alert_for(planted->pid()).has_value(); })) << slurp(f.log);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait().value_or(-1), 0) << slurp(f.log);
  auto report = airssys::ledger::verify(f.var / "ledger");
  EXPECT_TRUE(report.has_value()) << report.error().to_string();
}

}  // namespace
}  // namespace detest
