// daemoneye-agent refuses, at start, a path from its configuration that it
// runs, writes or trusts when that path or a directory above it belongs to
// another user or is writable by others (probe 13 finding 2): the rule
// rules.dir and trusted keys followed already (path_trust.hpp). Before, a
// procmond.path owned by nobody, mode 0777, in a sticky directory was run
// as root; a ledger.dir or file sink owned by nobody was used silently.
// Each case: exit 2 (a configuration error), the key, the path and what was
// found named, nothing created. Real files owned by nobody (65534).

#include "harness.hpp"

#include <algorithm>

#include <fmt/format.h>

#include <sys/stat.h>

namespace detest {
namespace {

constexpr uid_t kNobody = 65534;
const std::string kOwned = ": owned by uid 65534, not by us (0) or root";
const std::string kEveryone = "it is writable by everyone";

// The self rule's alert reached the sink: the agent runs its rules. (Not
// any line: the start's tree head is at the sink before any scan.)
bool self_raised(const AgentDir& d) {
  return std::ranges::any_of(d.alert_lines(),
                             [](const nlohmann::json& j) { return j.value("rule_id", "") == "self"; });
}

struct TrustFixture : AgentDir {
  // Where the agent is run from, when not from the build (its default
  // procmond is the one beside it).
  fs::path agent_exe;

  TrustFixture() { ::chmod(rules.c_str(), 0755); }

  std::unique_ptr<Child> start_agent() const {
    if (agent_exe.empty()) return AgentDir::start_agent();
    return std::make_unique<Child>(std::vector<std::string>{agent_exe.string(), "--config", config.string()}, log, log);
  }
  // The built agent linked (same file, no copy) to D/daemoneye-agent and run
  // from there: /proc/self/exe names the link, so its procmond is D/procmond.
  void agent_in(const fs::path& d) {
    agent_exe = d / "daemoneye-agent";
    fs::create_hard_link(agent_bin(), agent_exe);
  }

  fs::path dir_of(const fs::path& p, mode_t mode, uid_t owner = 0) const {
    fs::create_directories(p);
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    EXPECT_EQ(::chown(p.c_str(), owner, owner), 0);
    return p;
  }
  // A copy of the real procmond at D/procmond, root's, mode 0755.
  fs::path procmond_in(const fs::path& d) const {
    const fs::path prog = d / "procmond";
    fs::copy_file(procmond_bin(), prog);
    EXPECT_EQ(::chmod(prog.c_str(), 0755), 0);
    return prog;
  }
  fs::path file_of(const fs::path& p, const std::string& content, mode_t mode, uid_t owner = 0) const {
    write_file(p, content);
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    EXPECT_EQ(::chown(p.c_str(), owner, owner), 0);
    return p;
  }
  // config.yaml with the database, rules and `rest` (YAML lines, which may
  // hold their own alerts: section; else the harness's file sink).
  void config_with(const std::string& rest, bool own_sinks = false) const {
    if (own_sinks) {
      write_file(config, fmt::format("database: {{ path: {}/daemoneye.db }}\nscan: {{ interval: 500ms }}\n"
                                     "rules: {{ dir: {} }}\n{}",
                                     var.string(), rules.string(), rest));
    } else {
      write_config(rest);
    }
  }
  // The agent refuses to start: exit 2 with `expected` in its log, and
  // creates nothing.
  void expect_refused(const std::string& expected) const {
    auto agent = start_agent();
    EXPECT_EQ(agent->wait().value_or(-1), 2) << slurp(log);
    EXPECT_NE(slurp(log).find("cannot start: " + expected), std::string::npos) << expected << "\n" << slurp(log);
    EXPECT_FALSE(fs::exists(var / "daemoneye.db")) << slurp(log);
  }
};

#define NEEDS_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give files to nobody"

// The probe's case: a script owned by nobody, mode 0777, in a sticky
// world-writable directory. It would leave a mark if it ran.
TEST(AgentPathTrust, AProcmondOwnedByAnotherUserIsNotRun) {
  NEEDS_ROOT();
  TrustFixture f;
  const fs::path pub = f.dir_of(f.dir / "pub", 01777);
  const fs::path mark = f.dir / "it-ran";
  const fs::path prog = f.file_of(pub / "procmond", "#!/bin/sh\ntouch " + mark.string() + "\nexec " +
                                                        procmond_bin() + " \"$@\"\n",
                                  0777, kNobody);
  f.config_with("procmond: { path: " + prog.string() + " }\n");
  f.expect_refused("procmond.path: refusing " + prog.string() + ": " + kEveryone + " (mode 0777)");
  // Mode 0755, still nobody's.
  ASSERT_EQ(::chmod(prog.c_str(), 0755), 0);
  fs::remove(f.log);
  f.expect_refused("procmond.path: refusing " + prog.string() + kOwned);
  EXPECT_FALSE(fs::exists(mark));
}

// Root's program in a directory nobody owns: nobody could swap it.
TEST(AgentPathTrust, AProcmondInADirectoryOfAnotherUserIsNotRun) {
  NEEDS_ROOT();
  TrustFixture f;
  const fs::path theirs = f.dir_of(f.dir / "theirs", 0755, kNobody);
  const fs::path prog = f.procmond_in(theirs);
  f.config_with("procmond: { path: " + prog.string() + " }\n");
  f.expect_refused("procmond.path: refusing directory " + theirs.string() + " above " + prog.string() + kOwned);
}

// A root-owned procmond in a root-owned sticky directory is fine: only its
// owner could replace it there.
TEST(AgentPathTrust, ARootOwnedProcmondInARootOwnedStickyDirectoryRuns) {
  NEEDS_ROOT();
  TrustFixture f;
  write_self_rule(f.rules);
  const fs::path pub = f.dir_of(f.dir / "pub", 01777);
  const fs::path prog = f.procmond_in(pub);
  f.config_with("procmond: { path: " + prog.string() + " }\n");
  auto agent = f.start_agent();
  EXPECT_TRUE(eventually([&] { return self_raised(f); })) << slurp(f.log);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait().value_or(-1), 0) << slurp(f.log);
}

TEST(AgentPathTrust, ALedgerDirOfAnotherUserIsRefused) {
  NEEDS_ROOT();
  TrustFixture f;
  const fs::path ledger = f.dir_of(f.dir / "ledger", 0777, kNobody);
  f.config_with("ledger: { dir: " + ledger.string() + " }\n");
  f.expect_refused("ledger.dir: refusing " + ledger.string() + ": " + kEveryone + " (mode 0777)");
  ASSERT_EQ(::chmod(ledger.c_str(), 0700), 0);
  fs::remove(f.log);
  f.expect_refused("ledger.dir: refusing " + ledger.string() + kOwned);
  EXPECT_TRUE(fs::is_empty(ledger));
}

// A file nobody created first, mode 0666: root would append every alert to
// a file nobody can read and edit.
TEST(AgentPathTrust, AFileSinkFileOfAnotherUserIsRefused) {
  NEEDS_ROOT();
  TrustFixture f;
  const fs::path pub = f.dir_of(f.dir / "pub", 01777);
  const fs::path alerts = f.file_of(pub / "alerts.jsonl", "", 0666, kNobody);
  f.config_with("alerts:\n  sinks:\n    - { type: file, path: " + alerts.string() + " }\n", true);
  f.expect_refused("alerts.sinks #1: path: refusing " + alerts.string() + ": " + kEveryone + " (mode 0666)");
  ASSERT_EQ(::chmod(alerts.c_str(), 0600), 0);
  fs::remove(f.log);
  f.expect_refused("alerts.sinks #1: path: refusing " + alerts.string() + kOwned);
  EXPECT_EQ(slurp(alerts), "");
}

// The file does not exist yet; the directory it would be made in is nobody's.
TEST(AgentPathTrust, AFileSinkInADirectoryOfAnotherUserIsRefused) {
  NEEDS_ROOT();
  TrustFixture f;
  const fs::path theirs = f.dir_of(f.dir / "theirs", 0755, kNobody);
  const fs::path alerts = theirs / "alerts.jsonl";
  f.config_with("alerts:\n  sinks:\n    - { type: stdout }\n    - { type: file, path: " + alerts.string() + " }\n",
                true);
  f.expect_refused("alerts.sinks #2: path: refusing directory " + theirs.string() + " above " + alerts.string() +
                   kOwned);
  EXPECT_FALSE(fs::exists(alerts));
}

// Credentials and a CA bundle decide who the agent talks to and as whom.
TEST(AgentPathTrust, NatsCredentialsAndCaFilesOfAnotherUserAreRefused) {
  NEEDS_ROOT();
  TrustFixture f;
  const fs::path creds = f.file_of(f.dir / "agent.creds", "not read\n", 0600, kNobody);
  f.config_with(fmt::format("alerts:\n  sinks:\n    - {{ type: nats, url: 'nats://127.0.0.1:1', stream: ALERTS, "
                            "spool: {{ dir: {} }}, credentials: {} }}\n",
                            (f.var / "spool").string(), creds.string()),
                true);
  f.expect_refused("alerts.sinks #1: credentials: refusing " + creds.string() + kOwned);

  const fs::path ca = f.file_of(f.dir / "ca.pem", "not read\n", 0644, kNobody);
  f.config_with(fmt::format("events:\n  nats: {{ url: 'nats://127.0.0.1:1', stream: EVENTS, spool: {{ dir: {} }}, "
                            "tls_ca: {} }}\n",
                            (f.var / "events-spool").string(), ca.string()));
  fs::remove(f.log);
  f.expect_refused("events.nats: tls_ca: refusing " + ca.string() + kOwned);
}

// The trusted key file itself was checked already; the directory above it
// was not.
TEST(AgentPathTrust, ATrustedKeyInADirectoryOfAnotherUserIsRefused) {
  NEEDS_ROOT();
  TrustFixture f;
  const fs::path theirs = f.dir_of(f.dir / "keys", 0755, kNobody);
  // A real public key (its private half was thrown away): before, the
  // agent loaded it and started.
  const fs::path key = f.file_of(theirs / "op.pub.pem",
                                 "-----BEGIN PUBLIC KEY-----\n"
                                 "MCowBQYDK2VwAyEA4u+Pd4MxbBXTZPlFrORSJ1IGhnRT4weA3cGGz/gDdCY=\n"
                                 "-----END PUBLIC KEY-----\n",
                                 0644);
  f.config_with(fmt::format("live_query:\n  enabled: true\n  url: 'nats://127.0.0.1:1'\n  trusted_keys: [{}]\n",
                            key.string()));
  f.expect_refused("live_query.trusted_keys: refusing directory " + theirs.string() + " above " + key.string() +
                   kOwned);
}

// A reload (SIGHUP) holds what it takes again to the same rule. A trusted
// key under nobody's directory is dropped, fail closed like any key file
// that does not load, and the other listed key loads (session 14: before,
// the one refused file kept every key in use, so a key revoked in the same
// reload stayed trusted; in session 13 before that, the reload trusted
// nobody's key). rules.dir moved there is refused and the rules in use are
// kept.
TEST(AgentPathTrust, AReloadRefusesKeysAndRulesOfAnotherUsersDirectory) {
  NEEDS_ROOT();
  TrustFixture f;
  write_self_rule(f.rules);
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MCowBQYDK2VwAyEA4u+Pd4MxbBXTZPlFrORSJ1IGhnRT4weA3cGGz/gDdCY=\n"
      "-----END PUBLIC KEY-----\n";
  const fs::path ours = f.file_of(f.dir_of(f.dir / "keys", 0755) / "op.pub.pem", pem, 0644);
  const fs::path theirs_dir = f.dir_of(f.dir / "theirs", 0755, kNobody);
  const fs::path theirs = f.file_of(theirs_dir / "op.pub.pem", pem, 0644);
  const auto live = [&](const std::string& keys) {
    return fmt::format("live_query:\n  enabled: true\n  url: 'nats://127.0.0.1:1'\n  trusted_keys: [{}]\n", keys);
  };
  f.config_with(live(ours.string()));
  auto agent = f.start_agent();
  EXPECT_TRUE(eventually([&] { return self_raised(f); })) << slurp(f.log);

  f.config_with(live(theirs.string() + ", " + ours.string()));
  agent->signal(SIGHUP);
  EXPECT_TRUE(eventually([&] {
    return slurp(f.log).find("reload: live queries trust 1 keys") != std::string::npos;
  })) << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("reload: a trusted key file did not load, its key is not trusted: "
                              "live_query.trusted_keys: refusing directory " + theirs_dir.string() + " above " +
                              theirs.string() + kOwned),
            std::string::npos)
      << slurp(f.log);
  // Only nobody's key listed: none is trusted (not the one in use before).
  f.config_with(live(theirs.string()));
  agent->signal(SIGHUP);
  EXPECT_TRUE(eventually([&] {
    return slurp(f.log).find("reload: live queries trust no key now") != std::string::npos;
  })) << slurp(f.log);

  const fs::path rules = f.dir_of(theirs_dir / "rules", 0755);
  write_self_rule(rules);
  write_file(f.config, fmt::format("database: {{ path: {}/daemoneye.db }}\nscan: {{ interval: 500ms }}\n"
                                   "rules: {{ dir: {} }}\n",
                                   f.var.string(), rules.string()));
  const std::size_t before = slurp(f.log).size();
  agent->signal(SIGHUP);
  EXPECT_TRUE(eventually([&] {
    return slurp(f.log).find("reload: rules not loaded, the 1 rules in use are kept: rules.dir: refusing directory " +
                             theirs_dir.string() + " above " + rules.string() + kOwned) != std::string::npos;
  })) << slurp(f.log);
  EXPECT_EQ(slurp(f.log).find("reload: 1 rules loaded", before), std::string::npos) << slurp(f.log);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait().value_or(-1), 0) << slurp(f.log);
}

// An agent running procmond from DIR/procmond (root's copy, DIR of `mode`),
// restarted after 100 ms and at most `restart_max`, its first alert seen.
// With `beside_agent` the agent itself runs from DIR and procmond.path is
// not set: DIR/procmond is its default.
struct RestartFixture : TrustFixture {
  fs::path bin, prog;
  std::unique_ptr<Child> agent;

  RestartFixture(const std::string& name, mode_t mode, const std::string& restart_max, bool beside_agent = false) {
    write_self_rule(rules);
    bin = dir_of(dir / name, mode);
    prog = procmond_in(bin);
    if (beside_agent) agent_in(bin);
    config_with("procmond: { " + (beside_agent ? std::string() : "path: " + prog.string() + ", ") +
                "restart_initial: 100ms, restart_max: " + restart_max + " }\n");
    agent = start_agent();
    EXPECT_TRUE(eventually([&] { return self_raised(*this); })) << slurp(log);
  }
  std::vector<pid_t> procmond() const { return children_named(agent->pid(), "procmond"); }
  void kill_procmond() const {
    const auto pids = procmond();
    ASSERT_EQ(pids.size(), 1u) << slurp(log);
    ASSERT_EQ(::kill(pids.front(), SIGKILL), 0);  // the agent's child, started by this test's agent
  }
  std::size_t count(const std::string& text) const {
    const std::string all = slurp(log);
    std::size_t n = 0;
    for (auto at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) ++n;
    return n;
  }
  std::uint64_t spawns_refused() const {
    auto j = nlohmann::json::parse(slurp(var / "status.json"), nullptr, false);
    return j.is_discarded() ? 0 : j["procmond"].value("spawns_refused", std::uint64_t{0});
  }
  // `line` logged, then at least two more tries refused or failed (counted
  // in status.json) with `line` still logged `times` times in all and no
  // procmond running: each try is counted, a cause logged once.
  void logged_once_tried_again(const std::string& line, std::size_t times = 1) const {
    EXPECT_TRUE(eventually([&] { return count(line) >= times; })) << line << "\n" << slurp(log);
    const std::uint64_t then = spawns_refused();
    EXPECT_TRUE(eventually([&] { return spawns_refused() >= then + 2; })) << slurp(var / "status.json");
    EXPECT_EQ(count(line), times) << line << "\n" << slurp(log);
    EXPECT_TRUE(procmond().empty()) << slurp(log);
  }
  // A file made whole elsewhere and renamed to procmond's path: a restart
  // must never see one half made (root's, not yet chown'ed to nobody).
  void put(const fs::path& made) const { ASSERT_EQ(::rename(made.c_str(), prog.c_str()), 0); }
};

// What the refusal and failure lines end with after the first spawn.
const std::string kTriedAgain = " refused or failed since start; tried again after each restart backoff";

// procmond.path is held to the rule before every restart too, not only at
// start (session 14, gap 1): its directory made writable by everyone, then
// the binary swapped for a group-writable copy, each after the start and
// followed by procmond's death. Neither is run: each restart is refused,
// counted (status.json procmond.spawns_refused) and tried again after the
// backoff, each cause logged once; once the path is safe again procmond runs. Before,
// the restart ran whatever the path held then, as root.
TEST(AgentPathTrust, ARestartOfProcmondChecksItsPathAgain) {
  NEEDS_ROOT();
  RestartFixture f("bin", 0755, "1s");
  const fs::path& bin = f.bin;
  const fs::path& prog = f.prog;
  const auto procmond = [&] { return f.procmond(); };
  // The restart refused, logged once, and refused again after the backoff
  // (counted, not logged again); no procmond ran in between.
  const auto refused_twice = [&](const std::string& why) {
    f.logged_once_tried_again("procmond not started: procmond.path: refusing " + why);
  };

  ASSERT_EQ(::chmod(bin.c_str(), 0777), 0);
  f.kill_procmond();
  refused_twice("directory " + bin.string() + " above " + prog.string() + ": " + kEveryone + " (mode 0777)");
  const fs::path status = f.var / "status.json";
  EXPECT_TRUE(eventually([&] {
    auto j = nlohmann::json::parse(slurp(status), nullptr, false);
    return !j.is_discarded() && f.spawns_refused() >= 2 && !j["procmond"].value("running", true);
  })) << slurp(status);

  // The directory is safe again, but the binary was swapped for a copy its
  // group may write.
  const fs::path swapped = bin / "procmond.new";
  fs::copy_file(procmond_bin(), swapped);
  ASSERT_EQ(::chmod(swapped.c_str(), 0775), 0);
  ASSERT_EQ(::rename(swapped.c_str(), prog.c_str()), 0);
  ASSERT_EQ(::chmod(bin.c_str(), 0755), 0);
  refused_twice(prog.string() + ": it is writable by its group (mode 0775)");

  // Made safe: the next try after the backoff runs it.
  ASSERT_EQ(::chmod(prog.c_str(), 0755), 0);
  EXPECT_TRUE(eventually([&] { return procmond().size() == 1; })) << slurp(f.log);
  stop_agent(*f.agent, f.log);
}

// A root-owned procmond in a root-owned sticky directory passes the rule;
// once it is gone (a tmp cleaner, an uninstall) any user may create a file
// of that name there, and a check that let a missing path pass then raced
// osl's exec: a user's program ran as root (session 14 review, 1). Now a
// restart needs every component of procmond.path to exist: the missing
// binary is refused ("does not exist"), the one nobody plants is refused as
// nobody's and never runs; root's binary back, procmond runs. A spawn that
// fails for another reason (a file that is no program: ENOEXEC) is counted
// and logged too (review, 3: before, it was silent). Each cause is logged
// once however often it is tried, every try counted (fixpaths2 review, 2:
// before, a refusal was logged at every backoff, for days); a refusal
// between two failures of one cause has the second logged again, and the
// other way round (review, 3: before, the failure was not logged again).
TEST(AgentPathTrust, AProcmondGoneFromAStickyDirectoryIsNotRunWhenPlantedAgain) {
  NEEDS_ROOT();
  RestartFixture f("pub", 01777, "200ms");
  const fs::path& prog = f.prog;
  const auto procmond = [&] { return f.procmond(); };

  const fs::path mark = f.dir / "it-ran";
  ASSERT_EQ(::unlink(prog.c_str()), 0);
  f.kill_procmond();
  f.logged_once_tried_again("procmond not started: procmond.path: " + prog.string() + " does not exist (");
  EXPECT_NE(slurp(f.log).find(kTriedAgain), std::string::npos) << slurp(f.log);

  // The attacker's file (here made by the test, owned by nobody as the
  // attacker would make it), made whole elsewhere and renamed into place.
  const auto plant = [&](const std::string& name) {
    f.put(f.file_of(f.dir / name, "#!/bin/sh\ntouch " + mark.string() + "\nexec " + procmond_bin() + " \"$@\"\n",
                    0755, kNobody));
  };
  const auto not_a_program = [&](const std::string& name) {
    f.put(f.file_of(f.dir / name, "not a program\n", 0755));
  };
  const std::string theirs = "procmond not started: procmond.path: refusing " + prog.string() + kOwned;
  const std::string failed = "procmond not started: the spawn failed: ";
  plant("planted");
  f.logged_once_tried_again(theirs);
  EXPECT_FALSE(fs::exists(mark));

  // Root's, but no program: the exec fails.
  not_a_program("not-a-program");
  f.logged_once_tried_again(failed);
  // Nobody's again between two failures of one cause: each logged again.
  plant("planted-again");
  f.logged_once_tried_again(theirs, 2);
  not_a_program("not-a-program-again");
  f.logged_once_tried_again(failed, 2);

  f.put(f.procmond_in(f.dir_of(f.dir / "fresh", 0755)));
  EXPECT_TRUE(eventually([&] { return procmond().size() == 1; })) << slurp(f.log);
  EXPECT_FALSE(fs::exists(mark));
  stop_agent(*f.agent, f.log);
}

// With no procmond.path the agent runs the procmond beside it, held to the
// same rule, at start and before every spawn (fixpaths2 review, 1): root
// running /tmp/x/daemoneye-agent (x root's and sticky) must not run what
// anyone can create at /tmp/x/procmond once procmond is gone. Before, the
// default was not checked: at start a procmond of nobody's beside the agent
// ran as root (only access(X_OK) was asked), and after procmond went
// missing a restart ran the one nobody planted.
TEST(AgentPathTrust, TheDefaultProcmondBesideTheAgentIsHeldToTheRuleToo) {
  NEEDS_ROOT();
  const std::string key = "procmond.path (default, beside the agent): ";
  const auto script = [](const fs::path& mark) {
    return "#!/bin/sh\ntouch " + mark.string() + "\nexec " + procmond_bin() + " \"$@\"\n";
  };
  {
    TrustFixture f;
    const fs::path pub = f.dir_of(f.dir / "pub", 01777);
    f.agent_in(pub);
    const fs::path mark = f.dir / "it-ran";
    const fs::path prog = f.file_of(pub / "procmond", script(mark), 0755, kNobody);
    f.config_with("");
    f.expect_refused(key + "refusing " + prog.string() + kOwned);
    EXPECT_FALSE(fs::exists(mark));
  }
  RestartFixture f("pub", 01777, "200ms", /*beside_agent=*/true);
  const fs::path mark = f.dir / "it-ran";
  ASSERT_EQ(::unlink(f.prog.c_str()), 0);
  f.kill_procmond();
  f.logged_once_tried_again("procmond not started: " + key + f.prog.string() + " does not exist (");
  f.put(f.file_of(f.dir / "planted", script(mark), 0755, kNobody));
  f.logged_once_tried_again("procmond not started: " + key + "refusing " + f.prog.string() + kOwned);
  EXPECT_FALSE(fs::exists(mark));
  f.put(f.procmond_in(f.dir_of(f.dir / "fresh", 0755)));
  EXPECT_TRUE(eventually([&] { return f.procmond().size() == 1; })) << slurp(f.log);
  EXPECT_FALSE(fs::exists(mark));
  stop_agent(*f.agent, f.log);
}

// A secret the configuration names (NATS credentials, a TLS private key)
// readable by others stops the agent at start (exit 2) and refuses a
// reload, naming the key, the path, the mode and `chmod 600`, as ssh does
// for a private key (session 14, gap 2). Before, the agent used them.
TEST(AgentPathTrust, SecretsReadableByOthersAreRefusedAtStartAndAtAReload) {
  NEEDS_ROOT();
  TrustFixture f;
  const auto refusal = [](const std::string& key, const fs::path& p, const std::string& who, const std::string& mode) {
    return key + ": refusing " + p.string() + ": it is a secret and readable by " + who + " (mode " + mode +
           "); only its owner may read it (chmod 600 " + p.string() + ")";
  };
  const fs::path creds = f.file_of(f.dir / "events.creds", "not read\n", 0644);
  const std::string events = fmt::format("events:\n  nats: {{ url: 'nats://127.0.0.1:1', stream: EVENTS, spool: {{ dir: "
                                         "{} }}, credentials: {} }}\n",
                                         (f.var / "events-spool").string(), creds.string());
  f.config_with(events);
  f.expect_refused(refusal("events.nats: credentials", creds, "everyone", "0644"));

  const fs::path key = f.file_of(f.dir / "client.key", "not read\n", 0640);
  const fs::path cert = f.file_of(f.dir / "client.pem", "not read\n", 0644);  // public: not refused
  f.config_with(fmt::format("alerts:\n  sinks:\n    - {{ type: nats, url: 'nats://127.0.0.1:1', stream: ALERTS, "
                            "spool: {{ dir: {} }}, tls_cert: {}, tls_key: {} }}\n",
                            (f.var / "spool").string(), cert.string(), key.string()),
                true);
  fs::remove(f.log);
  f.expect_refused(refusal("alerts.sinks #1: tls_key", key, "its group", "0640"));

  const fs::path lq = f.file_of(f.dir / "lq.creds", "not read\n", 0604);
  const fs::path pub = f.file_of(f.dir / "op.pub.pem",
                                 "-----BEGIN PUBLIC KEY-----\n"
                                 "MCowBQYDK2VwAyEA4u+Pd4MxbBXTZPlFrORSJ1IGhnRT4weA3cGGz/gDdCY=\n"
                                 "-----END PUBLIC KEY-----\n",
                                 0644);  // public: not refused
  f.config_with(fmt::format("live_query:\n  enabled: true\n  url: 'nats://127.0.0.1:1'\n  trusted_keys: [{}]\n"
                            "  credentials: {}\n",
                            pub.string(), lq.string()));
  fs::remove(f.log);
  f.expect_refused(refusal("live_query.credentials", lq, "everyone", "0604"));

  // At a reload: the credentials were 0600 at start, 0644 by the SIGHUP.
  // That is logged as an error, and the reload still loads the rules and
  // the trusted keys: a key revoked in the same reload (its file deleted)
  // is no longer trusted (session 14 review, 2: before, the whole reload
  // was refused and the revoked key stayed trusted). A reload reads no
  // secret, so going on exposes nothing.
  write_self_rule(f.rules);
  ASSERT_EQ(::chmod(creds.c_str(), 0600), 0);
  const fs::path keys = f.dir_of(f.dir / "keys", 0755);
  const fs::path kept = f.file_of(keys / "kept.pub.pem", slurp(pub), 0644);
  const fs::path revoked = f.file_of(keys / "revoked.pub.pem", slurp(pub), 0644);
  f.config_with(events + fmt::format("live_query:\n  enabled: true\n  url: 'nats://127.0.0.1:1'\n  trusted_keys: "
                                     "[{}, {}]\n",
                                     kept.string(), revoked.string()));
  fs::remove(f.log);
  auto agent = f.start_agent();
  EXPECT_TRUE(eventually([&] { return self_raised(f); })) << slurp(f.log);
  ASSERT_EQ(::chmod(creds.c_str(), 0644), 0);
  fs::remove(revoked);
  agent->signal(SIGHUP);
  EXPECT_TRUE(eventually([&] {
    return slurp(f.log).find("reload: live queries trust 1 keys") != std::string::npos;
  })) << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("error daemoneye-agent: reload: " +
                              refusal("events.nats: credentials", creds, "everyone", "0644") +
                              " (the next start refuses it; the reload goes on)"),
            std::string::npos)
      << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("reload: 1 rules loaded"), std::string::npos) << slurp(f.log);
  ASSERT_EQ(::chmod(creds.c_str(), 0600), 0);
  stop_agent(*agent, f.log);
}

// The state directories: each is the agent's own (0700), but sits in one
// nobody owns, who could rename it away and put another in its place.
TEST(AgentPathTrust, StateDirectoriesUnderADirectoryOfAnotherUserAreRefused) {
  NEEDS_ROOT();
  TrustFixture f;
  const fs::path theirs = f.dir_of(f.dir / "theirs", 0755, kNobody);
  const fs::path sock_dir = f.dir_of(theirs / "run", 0700);
  f.config_with("bus: { socket: " + (sock_dir / "bus.sock").string() + " }\n");
  f.expect_refused("bus.socket: refusing directory " + theirs.string() + " above " + sock_dir.string() + kOwned);

  const fs::path rules = f.dir_of(theirs / "rules", 0755);
  write_file(f.config, fmt::format("database: {{ path: {}/daemoneye.db }}\nrules: {{ dir: {} }}\n", f.var.string(),
                                   rules.string()));
  fs::remove(f.log);
  f.expect_refused("rules.dir: refusing directory " + theirs.string() + " above " + rules.string() + kOwned);

  const fs::path db_dir = f.dir_of(theirs / "var", 0700);
  write_file(f.config, fmt::format("database: {{ path: {}/daemoneye.db }}\nrules: {{ dir: {} }}\n", db_dir.string(),
                                   f.rules.string()));
  fs::remove(f.log);
  f.expect_refused("database.path: refusing directory " + theirs.string() + " above " + db_dir.string() + kOwned);
  EXPECT_TRUE(fs::is_empty(db_dir));
}

}  // namespace
}  // namespace detest
