// daemoneye-agent as an operator meets it: the mistakes people make when
// they set it up (a rules directory that is missing or group-writable, a
// state directory others can enter, a NATS server that does not answer)
// must stop it with a message that says what to fix, or be reported for
// what they are, never leave it running blind. The real agent and procmond
// on state in a temp dir (docs/daemoneye.md "The agent").

#include "harness.hpp"

#include <fmt/format.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace detest {
namespace {

struct OperatorFixture {
  TempDir dir{"de-operator"};
  fs::path rules = dir.path() / "rules";
  fs::path var = dir.path() / "var";
  fs::path log = dir.path() / "agent.log";
  fs::path config = dir.path() / "config.yaml";

  OperatorFixture() {
    fs::create_directories(rules);
    ::chmod(rules.c_str(), 0755);
    write_config("");
  }

  // The minimal config plus `extra` YAML (top-level keys).
  void write_config(const std::string& extra) const {
    write_file(config, fmt::format("database: {{ path: {}/daemoneye.db }}\nscan: {{ interval: 500ms }}\n"
                                   "rules: {{ dir: {} }}\n{}",
                                   var.string(), rules.string(), extra));
  }

  // A rule that matches the test process itself, so it fires on the first scan.
  void add_self_rule() const { write_self_rule(rules); }

  Child start() const {
    EXPECT_FALSE(agent_bin().empty()) << "DAEMONEYE_AGENT_BIN is not set: run this test through ctest";
    return Child({agent_bin(), "--config", config.string()}, log, log);
  }

  bool logged(const std::string& text) const { return slurp(log).find(text) != std::string::npos; }
};

// Before: the agent logged "rule rejected: DIR: cannot open rules directory"
// and ran on with no rule at all, reporting itself healthy.
TEST(AgentOperator, AMissingRulesDirectoryStopsTheAgentAndSaysWhichKey) {
  OperatorFixture f;
  fs::remove(f.rules);
  Child agent = f.start();
  EXPECT_EQ(agent.wait().value_or(-1), 2) << slurp(f.log);
  EXPECT_TRUE(f.logged("cannot start: rules.dir: " + f.rules.string() +
                       ": cannot open rules directory: No such file or directory"))
      << slurp(f.log);
  EXPECT_TRUE(f.logged("--rules-dir")) << slurp(f.log);
  EXPECT_FALSE(f.logged("procmond started")) << slurp(f.log);
}

TEST(AgentOperator, AGroupWritableRulesDirectoryStopsTheAgentWithTheFix) {
  OperatorFixture f;
  f.add_self_rule();
  ASSERT_EQ(::chmod(f.rules.c_str(), 0775), 0);
  Child agent = f.start();
  EXPECT_EQ(agent.wait().value_or(-1), 2) << slurp(f.log);
  EXPECT_TRUE(f.logged("cannot start: rules.dir: " + f.rules.string() +
                       ": refusing rules directory: it is writable by its group (mode 0775)"))
      << slurp(f.log);
  EXPECT_TRUE(f.logged("chmod go-w")) << slurp(f.log);
}

// An existing directory whose files are all rejected (or that is empty) is
// not the directory's fault: the agent runs, and says it raises nothing.
TEST(AgentOperator, NoEnabledRuleStartsButWarnsThatNothingCanBeRaised) {
  OperatorFixture f;
  write_file(f.rules / "broken.yaml", "id: broken\nname: Broken\nseverity: extreme\nquery: SELECT 1\n");
  ::chmod((f.rules / "broken.yaml").c_str(), 0644);
  Child agent = f.start();
  EXPECT_TRUE(eventually([&] { return f.logged("first scan stored"); })) << slurp(f.log);
  EXPECT_TRUE(f.logged("rule rejected: " + (f.rules / "broken.yaml").string() + ":3: severity 'extreme'"))
      << slurp(f.log);
  EXPECT_TRUE(f.logged("no rule is enabled: this agent stores what procmond sees but raises no alert")) << slurp(f.log);
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait().value_or(-1), 0) << slurp(f.log);
}

// The bus socket goes beside the database by default; a state directory
// made with the usual 0755 is refused by the bus, and the message must say
// which directory, which key and what to do.
TEST(AgentOperator, AStateDirectoryOthersCanEnterIsRefusedWithTheFix) {
  OperatorFixture f;
  f.add_self_rule();
  fs::create_directories(f.var);
  ASSERT_EQ(::chmod(f.var.c_str(), 0755), 0);
  Child agent = f.start();
  EXPECT_EQ(agent.wait().value_or(-1), 1) << slurp(f.log);
  EXPECT_TRUE(f.logged("socket directory " + f.var.string() + " has mode 0755")) << slurp(f.log);
  EXPECT_TRUE(f.logged("chmod 700")) << slurp(f.log);
  EXPECT_TRUE(f.logged("bus.socket")) << slurp(f.log);
}

// A loopback port held bound but never listening: a connect is refused, as
// with a NATS server that is down, and no other test can take the port.
struct DeadPort {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int port = 0;
  DeadPort() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
  }
  ~DeadPort() {
    if (fd >= 0) ::close(fd);
  }
};

// Before: "publish: Not Supported By Server", libnats's word for a
// connection that never received a server's INFO.
TEST(AgentOperator, ANatsServerThatDoesNotAnswerIsReportedAsNotConnected) {
  OperatorFixture f;
  DeadPort dead;
  ASSERT_GT(dead.port, 0);
  f.add_self_rule();
  f.write_config(fmt::format("alerts:\n  sinks:\n    - {{ type: nats, url: 'nats://127.0.0.1:{}', stream: DE, "
                             "spool: {{ dir: {} }} }}\n",
                             dead.port, (f.dir.path() / "spool").string()));
  Child agent = f.start();
  EXPECT_TRUE(eventually([&] { return f.logged("stream DE: not connected: no server answers"); })) << slurp(f.log);
  EXPECT_TRUE(f.logged("alerts wait in the spool")) << slurp(f.log);
  EXPECT_FALSE(f.logged("stream DE: publish:")) << slurp(f.log);
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait().value_or(-1), 0) << slurp(f.log);
}

// The service and one started by hand on the same state: the second must
// stop, say why, and leave the first running - also with another
// database.path in the same directory (status.json, the audit log, the
// default ledger and bus socket sit there: it would create other.db and
// collide on them), and with its own ledger.dir and bus.socket but the same
// database. Nothing of the refused agents is created.
TEST(AgentOperator, ASecondAgentOnTheSameStateSaysAnotherOneRuns) {
  OperatorFixture f;
  f.add_self_rule();
  Child first = f.start();
  ASSERT_TRUE(eventually([&] { return f.logged("first scan stored"); })) << slurp(f.log);
  const std::string says = "another daemoneye-agent is running on this state directory";
  const auto refused = [&](const std::string& name, std::vector<std::string> extra) {
    const fs::path log = f.dir.path() / (name + ".log");
    std::vector<std::string> argv{agent_bin(), "--config", f.config.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Child other(argv, log, log);
    EXPECT_EQ(other.wait().value_or(-1), 1) << name << ": " << slurp(log);
    EXPECT_NE(slurp(log).find(says), std::string::npos) << name << ": " << slurp(log);
    EXPECT_NE(slurp(log).find("give this agent a database.path in another directory"), std::string::npos)
        << name << ": " << slurp(log);
  };
  refused("same", {});
  const fs::path other_db = f.var / "other.db";
  refused("other-db", {"--database", other_db.string()});
  EXPECT_FALSE(fs::exists(other_db)) << "the refused agent created " << other_db;
  const fs::path elsewhere = f.dir.path() / "elsewhere";
  refused("own-ledger-and-socket",
          {"--ledger-dir", (elsewhere / "ledger").string(), "--socket", (elsewhere / "bus.sock").string()});
  EXPECT_FALSE(fs::exists(elsewhere / "ledger")) << "the refused agent created its ledger";
  EXPECT_FALSE(first.exited()) << slurp(f.log);
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait().value_or(-1), 0) << slurp(f.log);
}

}  // namespace
}  // namespace detest
