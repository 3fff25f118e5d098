// daemoneye-agent's start-up and reload messages say what is wrong and
// nothing more (the operator probe's follow-ups to agent_operator_test):
// the chmod hint only for a socket directory that is unsafe, a bad rules
// directory refused before anything is created, and a reload that leaves
// no rule enabled warns as a start does. The real agent and procmond on
// state in a temp dir (docs/daemoneye.md "The agent").

#include "harness.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

namespace detest {
namespace {

struct StartupFixture : AgentDir {
  StartupFixture() {
    ::chmod(rules.c_str(), 0755);
    write_config();
  }

  void add_self_rule() const { write_self_rule(rules); }

  bool logged(const std::string& text) const { return slurp(log).find(text) != std::string::npos; }
};

// The default socket is bus.sock beside the database: a database deep
// enough makes its path too long for a Unix socket. Before, the message
// ended with "make that directory the agent's own with mode 0700, e.g.
// chmod 700 it", which fixes nothing here.
TEST(AgentStartup, ASocketPathTooLongIsNotToldToChmod) {
  StartupFixture f;
  const fs::path deep = f.var / std::string(60, 'd') / std::string(60, 'e');
  fs::create_directories(deep);
  for (fs::path p = deep; p != f.dir.path(); p = p.parent_path()) ASSERT_EQ(::chmod(p.c_str(), 0700), 0);
  ASSERT_GT((deep / "bus.sock").native().size(), 107u);
  write_file(f.config, fmt::format("database: {{ path: {}/daemoneye.db }}\nrules: {{ dir: {} }}\n", deep.string(),
                                   f.rules.string()));
  auto agent = f.start_agent();
  EXPECT_EQ(agent->wait().value_or(-1), 1) << slurp(f.log);
  EXPECT_TRUE(f.logged("longer than 107")) << slurp(f.log);
  EXPECT_FALSE(f.logged("chmod")) << slurp(f.log);
  EXPECT_FALSE(f.logged("mode 0700")) << slurp(f.log);
}

TEST(AgentStartup, AFileInTheSocketsPlaceIsNotToldToChmod) {
  StartupFixture f;
  fs::create_directories(f.var);
  ASSERT_EQ(::chmod(f.var.c_str(), 0700), 0);
  write_file(f.var / "bus.sock", "not a socket\n");
  auto agent = f.start_agent();
  EXPECT_EQ(agent->wait().value_or(-1), 1) << slurp(f.log);
  EXPECT_TRUE(f.logged((f.var / "bus.sock").string() + " exists and is not a socket")) << slurp(f.log);
  EXPECT_FALSE(f.logged("chmod")) << slurp(f.log);
  EXPECT_EQ(slurp(f.var / "bus.sock"), "not a socket\n");
}

// The unsafe directory itself still gets the fix (agent_operator_test has
// the mode 0755 case through the same path).
TEST(AgentStartup, AGroupReadableSocketDirectoryIsToldToChmod) {
  StartupFixture f;
  const fs::path sockdir = f.dir.path() / "sock";
  fs::create_directories(sockdir);
  ASSERT_EQ(::chmod(sockdir.c_str(), 0750), 0);
  f.write_config("bus: { socket: " + (sockdir / "bus.sock").string() + " }\n");
  auto agent = f.start_agent();
  EXPECT_EQ(agent->wait().value_or(-1), 1) << slurp(f.log);
  EXPECT_TRUE(f.logged("unsafe_directory: socket directory " + sockdir.string() + " has mode 0750")) << slurp(f.log);
  EXPECT_TRUE(f.logged("(bus.socket / --socket: its directory must be the agent's own with mode 0700)")) << slurp(f.log);
}

// The default socket's directory (the database's) made with the usual
// 0755 is refused before anything is put there. Before, the agent created
// agent.lock, the ledger and the database, and only then did the bus
// refuse the directory, leaving them behind.
TEST(AgentStartup, AnUnsafeStateDirectoryIsRefusedBeforeAnythingIsCreated) {
  StartupFixture f;
  fs::create_directories(f.var);
  ASSERT_EQ(::chmod(f.var.c_str(), 0755), 0);
  auto agent = f.start_agent();
  EXPECT_EQ(agent->wait().value_or(-1), 1) << slurp(f.log);
  EXPECT_TRUE(f.logged("cannot start: bus broker on " + (f.var / "bus.sock").string() +
                       ": unsafe_directory: socket directory " + f.var.string() +
                       " has mode 0755; it must be 0700 (no group/other access) (the socket is bus.sock in the "
                       "database's directory: make that directory the agent's own with mode 0700, e.g. chmod 700 "
                       "it, or set bus.socket / --socket)"))
      << slurp(f.log);
  EXPECT_TRUE(fs::is_empty(f.var)) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.var / "daemoneye.db")) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.var / "ledger")) << slurp(f.log);
  struct stat st {};
  ASSERT_EQ(::stat(f.var.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

// bus.socket under a directory whose parent is missing too: the broker's
// one mkdir cannot make it, and the check says so before anything is put
// in the state directory. Before, the check passed any missing directory;
// the agent created agent.lock, the ledger and the database, then exited 1
// when the broker failed that mkdir.
TEST(AgentStartup, ASocketDirectoryUnderAMissingParentIsRefusedBeforeAnythingIsCreated) {
  StartupFixture f;
  const fs::path sockdir = f.dir.path() / "missing" / "sock";
  f.write_config("bus: { socket: " + (sockdir / "bus.sock").string() + " }\n");
  auto agent = f.start_agent();
  EXPECT_EQ(agent->wait().value_or(-1), 1) << slurp(f.log);
  EXPECT_TRUE(f.logged("cannot start: bus broker on " + (sockdir / "bus.sock").string() + ": io: mkdir " +
                       sockdir.string() + ": No such file or directory"))
      << slurp(f.log);
  EXPECT_FALSE(f.logged("chmod")) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.var / "daemoneye.db")) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.var / "ledger")) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.var / "agent.lock")) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.dir.path() / "missing")) << slurp(f.log);
}

// A rules directory that stops the agent (exit 2) is found before the
// store is opened: before, the agent had already created the database.
TEST(AgentStartup, AMissingRulesDirectoryCreatesNoDatabase) {
  StartupFixture f;
  fs::remove(f.rules);
  auto agent = f.start_agent();
  EXPECT_EQ(agent->wait().value_or(-1), 2) << slurp(f.log);
  EXPECT_TRUE(f.logged("cannot start: rules.dir: " + f.rules.string())) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.var / "daemoneye.db")) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.var / "ledger")) << slurp(f.log);
}

// `--database "$DB"` with DB unset read '' as the flag left out: the agent
// started on the configuration's database (here var/daemoneye.db), and
// `--config ''` on /etc/daemoneye/config.yaml. Now exit 2 (never
// restarted) naming the flag, before anything is created. --config '' runs
// with the database and rules in the environment, so that even the old
// agent stays inside the temp dir.
TEST(AgentStartup, AFlagGivenAnEmptyValueIsRefusedBeforeAnythingIsCreated) {
  StartupFixture f;
  const std::vector<std::string> env{"DAEMONEYE_DATABASE_PATH=" + (f.var / "daemoneye.db").string(),
                                     "DAEMONEYE_RULES_DIR=" + f.rules.string(),
                                     "XDG_CONFIG_HOME=" + (f.dir.path() / "xdg").string()};
  for (const std::string flag : {"--database", "--interval", "--rules-dir", "--ledger-dir", "--socket", "--procmond",
                                 "--log-level", "--config"}) {
    std::vector<std::string> argv{agent_bin()};
    if (flag != "--config") argv.insert(argv.end(), {"--config", f.config.string()});
    argv.insert(argv.end(), {flag, ""});
    fs::remove(f.log);
    Child agent(argv, f.log, f.log, fs::path{}, env);
    // The old agent ran on: one flag is enough to show it (bounded by wait's 60 s).
    ASSERT_EQ(agent.wait().value_or(-1), 2) << flag << ": " << slurp(f.log);
    EXPECT_EQ(slurp(f.log), "daemoneye-agent: " + flag + ": no value given (leave the option out for its default)\n");
    EXPECT_FALSE(fs::exists(f.var)) << flag << ": nothing is created";
  }
}

// With stderr unwritable (`2>/dev/full`, a journal that cannot take more)
// a configuration error still exits 2, which the unit's
// RestartPreventExitStatus=2 relies on: the message printed before the log
// is set up threw out of main, and the agent aborted (134, restarted). With
// stderr a pipe whose reader went away it ended by SIGPIPE (141).
TEST(AgentStartup, AConfigurationErrorExits2WhenStderrCannotBeWritten) {
  StartupFixture f;
  int no_reader[2];
  ASSERT_EQ(::pipe2(no_reader, O_CLOEXEC), 0);
  ::close(no_reader[0]);
  const auto old = ::signal(SIGPIPE, SIG_DFL);  // as systemd starts it; inherited through exec
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--config", f.config.string(), "--database", ""},
           {"--config", (f.dir.path() / "no-such.yaml").string()},
           {"--config", f.config.string(), "--interval", "10"},
           {"--config", f.config.string(), "--no-such-flag"}}) {
    std::vector<std::string> argv{agent_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    Child full(argv, f.log, "/dev/full");
    EXPECT_EQ(full.wait().value_or(-1), 2) << args.back() << " 2>/dev/full";
    airssys::testing::Child piped(argv, {.stdout_path = f.log, .stderr_fd = no_reader[1]});
    EXPECT_EQ(piped.wait().value_or(-1), 2) << args.back() << " 2>pipe without a reader";
    EXPECT_FALSE(fs::exists(f.var)) << args.back() << ": nothing is created";
  }
  ::signal(SIGPIPE, old);
  ::close(no_reader[1]);
}

// A configuration warning is the agent's first log line; written to a
// stderr pipe whose reader is gone it ended the agent by SIGPIPE (SIGPIPE
// was ignored only after the warnings were logged). Here the start then
// fails on an unsafe socket directory, which must still give its own 1.
TEST(AgentStartup, AWarningLoggedToAStderrWithoutAReaderDoesNotEndTheAgent) {
  StartupFixture f;
  const fs::path sockdir = f.dir.path() / "sock";
  fs::create_directories(sockdir);
  ASSERT_EQ(::chmod(sockdir.c_str(), 0750), 0);
  write_file(f.config, fmt::format("database: {{ path: {}/daemoneye.db }}\nrules: {{ dir: {}, max_bytes: 1GiB }}\n"
                                   "bus: {{ socket: {}/bus.sock }}\n",
                                   f.var.string(), f.rules.string(), sockdir.string()));
  {
    Child logged({agent_bin(), "--config", f.config.string()}, f.log, f.log);
    EXPECT_EQ(logged.wait().value_or(-1), 1) << slurp(f.log);
    EXPECT_TRUE(f.logged("rules.max_bytes")) << "the warning this test is about: " << slurp(f.log);
  }
  int no_reader[2];
  ASSERT_EQ(::pipe2(no_reader, O_CLOEXEC), 0);
  ::close(no_reader[0]);
  const auto old = ::signal(SIGPIPE, SIG_DFL);  // as systemd starts it; inherited through exec
  airssys::testing::Child piped({agent_bin(), "--config", f.config.string()},
                                {.stdout_path = f.log, .stderr_fd = no_reader[1]});
  EXPECT_EQ(piped.wait().value_or(-1), 1) << "2>pipe without a reader";
  ::signal(SIGPIPE, old);
  ::close(no_reader[1]);
}

// Exit 2 (the unit's RestartPreventExitStatus=2: never restarted) only
// where rules.dir itself is wrong; a refusal by the kernel that may pass
// (EACCES here, EIO, ESTALE, EMFILE, ENOMEM) exits 1 so systemd starts the
// agent again. Before, every refusal of the directory exited 2.
TEST(AgentStartup, ARulesDirTheAgentMayNotOpenExits1AndAnUnsafeOneExits2) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the agent as nobody";
  StartupFixture f;
  const uid_t nobody = 65534;
  const gid_t nogroup = 65534;
  ASSERT_EQ(::chmod(f.dir.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(f.config.c_str(), 0644), 0);
  ASSERT_EQ(::chmod(f.rules.c_str(), 0700), 0);  // root's, closed to nobody: EACCES
  {
    Child agent(Child::As{nobody, nogroup}, {agent_bin(), "--config", f.config.string()}, f.log, f.log);
    EXPECT_EQ(agent.wait().value_or(-1), 1) << slurp(f.log);
    EXPECT_TRUE(f.logged("cannot start: rules.dir: " + f.rules.string())) << slurp(f.log);
    EXPECT_TRUE(f.logged("Permission denied")) << slurp(f.log);
  }
  // Writable by others: unsafe, a configuration error - and for that
  // reason (the log is started afresh, so the first run's line cannot
  // answer for this one).
  ASSERT_EQ(::chmod(f.rules.c_str(), 0777), 0);
  fs::remove(f.log);
  auto agent = f.start_agent();
  EXPECT_EQ(agent->wait().value_or(-1), 2) << slurp(f.log);
  EXPECT_TRUE(f.logged("cannot start: rules.dir: " + f.rules.string())) << slurp(f.log);
  EXPECT_TRUE(f.logged("it is writable by")) << slurp(f.log);
  EXPECT_FALSE(fs::exists(f.var / "daemoneye.db")) << slurp(f.log);
}

// Before, the reload logged only "reload: 0 rules loaded ... (0 enabled,
// 0 rejected)" and ran on raising nothing.
TEST(AgentStartup, AReloadThatLeavesNoRuleEnabledWarns) {
  StartupFixture f;
  f.add_self_rule();
  auto agent = f.start_agent();
  ASSERT_TRUE(eventually([&] { return f.logged("first scan stored"); })) << slurp(f.log);
  EXPECT_FALSE(f.logged("no rule is enabled")) << slurp(f.log);
  fs::remove(f.rules / "self.yaml");
  agent->signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return f.logged("reload: 0 rules loaded"); })) << slurp(f.log);
  EXPECT_TRUE(eventually([&] {
    return f.logged("reload: no rule is enabled: this agent stores what procmond sees but raises no alert (rules.dir " +
                    f.rules.string() + ")");
  })) << slurp(f.log);
  // A reload that enables one again says nothing of the kind.
  f.add_self_rule();
  agent->signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return f.logged("reload: 1 rules loaded"); })) << slurp(f.log);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait().value_or(-1), 0) << slurp(f.log);
  const std::string log = slurp(f.log);
  EXPECT_EQ(log.find("no rule is enabled", log.find("reload: 1 rules loaded")), std::string::npos) << log;
}

// Under systemd ($INVOCATION_ID set), a database.stop_timeout longer than
// the shipped unit's TimeoutStopSec=60s leaves for it is warned of in one
// line, before `agent running:`; the same one run by hand (INVOCATION_ID
// empty) is not. Here two webhook sinks (5 s + 1.5 s) leave 46.5 s and
// 54 s would cut the storing too. Every other case - what fits, the
// events spool, webhooks alone past the room, what the line advises - is
// daemoneye.stop_budget's, a unit test of the same function: an agent
// each would not fit ctest's time on a busy machine. Each agent runs until
// it says it is running and stops cleanly; the webhooks' port has no
// listener and no alert is raised.
TEST(AgentStartup, AStopTimeoutTheUnitCannotAwaitIsWarnedOfUnderSystemd) {
  const std::string warning =
      "database.stop_timeout is 54000ms, more than the 46500ms the systemd unit's TimeoutStopSec=60s leaves for it "
      "(the rest of a stop: up to 5s for the store write under way, 2s to count what is given up, 6500ms for the "
      "webhook sinks' last deliveries, one sink after another (alerts.sinks #2 5000ms, #3 1500ms)): at a stop "
      "systemd would SIGKILL the agent before it finishes storing";
  for (const bool under_systemd : {true, false}) {
    SCOPED_TRACE(under_systemd ? "INVOCATION_ID set" : "INVOCATION_ID empty");
    StartupFixture f;
    write_file(f.config, fmt::format("database: {{ path: {0}/daemoneye.db }}\nscan: {{ interval: 500ms }}\n"
                                     "rules: {{ dir: {1} }}\nalerts:\n  sinks:\n"
                                     "    - {{ type: file, path: {0}/alerts.jsonl, format: json }}\n"
                                     "    - {{ type: webhook, url: 'http://127.0.0.1:9/hook' }}\n"
                                     "    - {{ type: webhook, url: 'http://127.0.0.1:9/other', timeout: 1500ms }}\n",
                                     f.var.string(), f.rules.string()));
    auto agent = f.start_agent({fmt::format("INVOCATION_ID={}", under_systemd ? "5f2c0a" : ""),
                                "DAEMONEYE_DATABASE_STOP_TIMEOUT=54s"});
    ASSERT_TRUE(eventually([&] { return f.logged("agent running:"); })) << slurp(f.log);
    const std::string log = slurp(f.log);
    if (under_systemd) {
      const auto at = log.find(warning);
      EXPECT_NE(at, std::string::npos) << log;
      EXPECT_LT(at, log.find("agent running:")) << log;
    }
    EXPECT_EQ(log.find("TimeoutStopSec") != std::string::npos, under_systemd) << log;
    agent->signal(SIGTERM);
    EXPECT_EQ(agent->wait().value_or(-1), 0) << slurp(f.log);
  }
}

}  // namespace
}  // namespace detest
