// daemoneye-cli's exit codes, one case per code (docs/daemoneye.md "Exit
// codes"), each produced for real: the real binary against real files — a
// missing database, a status file another user cannot read, a file that is
// not a database, a query past its time limit.

#include "harness.hpp"

#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/daemoneye/store.hpp>

#include <fmt/format.h>

#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

class CliExitCodes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(cli_bin().empty()) << "DAEMONEYE_CLI_BIN is not set: run this test through ctest";
    fs::create_directories(var_);
  }
  Outcome run(std::vector<std::string> args, std::optional<Child::As> as = std::nullopt) const {
    return run_cli(std::move(args), dir_.path(), as);
  }
  Outcome run_db(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--db", db_.string()});
    return run(std::move(args));
  }
  void make_store() const {
    auto s = de::Store::open({.path = db_});
    ASSERT_TRUE(s) << s.error();
  }

  TempDir dir_;
  fs::path var_ = dir_.path() / "var";
  fs::path db_ = var_ / "daemoneye.db";
};

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

TEST_F(CliExitCodes, ZeroOnSuccess) {
  make_store();
  Outcome r = run_db({"query", "SELECT 1"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CliExitCodes, OneWhenTheAnswerIsNo) {
  // No status file: the agent is not running (the command's answer, not an error).
  EXPECT_EQ(run_db({"status"}).code, 1);
  // A rule rejected by rules check.
  const fs::path rules = dir_.path() / "rules";
  fs::create_directories(rules);
  ::chmod(rules.c_str(), 0700);
  write_file(rules / "bad.yaml", "id: bad\nname: B\nseverity: extreme\nquery: SELECT 1\n");
  ::chmod((rules / "bad.yaml").c_str(), 0600);
  Outcome r = run({"rules", "check", rules.string()});
  EXPECT_EQ(r.code, 1) << r.err;
}

TEST_F(CliExitCodes, TwoForUsageAndInvalidInput) {
  EXPECT_EQ(run({"--frobnicate"}).code, 2);
  EXPECT_EQ(run_db({"alerts", "--since", "10"}).code, 2);
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, "scan: { interval: 10 }\n");
  Outcome bad = run({"--config", config.string(), "status"});
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_TRUE(has(bad.err, config.string() + ":1:")) << bad.err;
  make_store();
  Outcome sql = run_db({"query", "SELECT nope FROM processes"});
  EXPECT_EQ(sql.code, 2) << sql.err;
}

// `--db "$DB"` or `--config "$CONF"` with the variable unset read '' as the
// option left out: status answered for the default database, `query
// --timeout ''` ran with rules.timeout, `fleet query --server ''` used
// live_query.url. Now exit 2 naming the option, before anything is read.
TEST_F(CliExitCodes, TwoForAnOptionGivenAnEmptyValue) {
  make_store();
  const std::string key = (dir_.path() / "no-such-key.pem").string();
  const std::vector<std::vector<std::string>> cases{
      {"--db", "", "status"},
      {"--config", "", "--db", db_.string(), "query", "SELECT 1"},
      {"--db", db_.string(), "query", "SELECT 1", "--timeout", ""},
      {"--db", db_.string(), "fleet", "query", "SELECT 1", "--all", "--key", ""},
      {"--db", db_.string(), "fleet", "query", "SELECT 1", "--hosts", "", "--key", key},
      {"--db", db_.string(), "fleet", "query", "SELECT 1", "--all", "--key", key, "--server", ""}};
  for (const auto& args : cases) {
    const auto empty = std::find(args.begin(), args.end(), "");
    const std::string option = *(empty - 1);
    Outcome r = run(args);
    EXPECT_EQ(r.code, 2) << option << ": " << r.err;
    EXPECT_EQ(r.err, "daemoneye-cli: " + option + ": no value given (leave the option out for its default)\n");
    EXPECT_EQ(r.out, "") << option;
  }
}

// A mistyped command is named, with the commands there (before, CLI11 said
// only "A subcommand is required", which did not say what was wrong).
TEST_F(CliExitCodes, AMistypedCommandIsNamed) {
  Outcome top = run({"stauts"});
  EXPECT_EQ(top.code, 2) << top.err;
  EXPECT_TRUE(has(top.err, "daemoneye-cli: 'stauts' is not a command (commands: status, metrics, query, alerts, "
                           "events, rules, fleet)"))
      << top.err;
  Outcome rules = run({"rules", "chek", "x"});
  EXPECT_EQ(rules.code, 2) << rules.err;
  EXPECT_TRUE(has(rules.err, "'chek' is not a rules command (rules commands: check, list, translate, test, exceptions)")) << rules.err;
  Outcome flag = run({"--frobnicate"});
  EXPECT_EQ(flag.code, 2) << flag.err;
  EXPECT_TRUE(has(flag.err, "unknown option '--frobnicate'; a command is required")) << flag.err;
  // Other usage errors keep CLI11's own message.
  Outcome none = run({"rules"});
  EXPECT_EQ(none.code, 2) << none.err;
  EXPECT_TRUE(has(none.err, "A subcommand is required")) << none.err;
  Outcome no_sql = run({"query"});
  EXPECT_EQ(no_sql.code, 2) << no_sql.err;
  EXPECT_TRUE(has(no_sql.err, "sql is required")) << no_sql.err;
}

// A value load_config lowers rather than refuses is said on stderr, and the
// command exits as it would without it.
TEST_F(CliExitCodes, AConfigWarningIsSaidAndChangesNoExitCode) {
  make_store();
  const fs::path config = dir_.path() / "config.yaml";
  write_file(config, "rules: { max_bytes: 1TiB }\n");
  const std::string warning =
      "daemoneye-cli: warning: rules.max_bytes: '1TiB' is more than the 256MiB a rule's result may hold; using 256MiB\n";
  Outcome q = run_db({"--config", config.string(), "query", "SELECT 1"});
  EXPECT_EQ(q.code, 0) << q.err;
  EXPECT_TRUE(has(q.err, warning)) << q.err;
  Outcome st = run_db({"--config", config.string(), "status"});
  EXPECT_EQ(st.code, 1) << st.err;  // no status file: the agent is not running, as without the warning
  EXPECT_TRUE(has(st.err, warning)) << st.err;
  write_file(config, "rules: { max_bytes: 1MiB }\n");
  Outcome quiet = run_db({"--config", config.string(), "query", "SELECT 1"});
  EXPECT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_FALSE(has(quiet.err, "warning")) << quiet.err;
}

TEST_F(CliExitCodes, ThreeWhenWhatIsNamedDoesNotExist) {
  Outcome db = run_db({"query", "SELECT 1"});
  EXPECT_EQ(db.code, 3) << db.err;
  EXPECT_TRUE(has(db.err, db_.string())) << db.err;
  // Not SQLite's "unable to open database file" alone: what to do about it
  // (most often the agent runs with a --config this command was not given).
  for (const char* command : {"query", "alerts", "events"}) {
    std::vector<std::string> args{command};
    if (std::string_view(command) == "query") args.emplace_back("SELECT 1");
    Outcome missing = run_db(args);
    EXPECT_EQ(missing.code, 3) << command << ": " << missing.err;
    EXPECT_EQ(missing.err, "daemoneye-cli: " + db_.string() +
                               ": no such database: no agent has run with it (give the --config the agent was "
                               "started with, or --db PATH)\n")
        << command;
  }
  Outcome config = run({"--config", (dir_.path() / "no-such.yaml").string(), "status"});
  EXPECT_EQ(config.code, 3) << config.err;
  Outcome rules = run({"rules", "check", (dir_.path() / "no-such-rules").string()});
  EXPECT_EQ(rules.code, 3) << rules.err;
  // rules list on a rules.dir that is not there: its error alone, no empty
  // table and no "0 rules, 1 rejected" (the directory is not a rule file).
  const fs::path missing = dir_.path() / "no-such-dir";
  const fs::path list_config = dir_.path() / "config.yaml";
  write_file(list_config, fmt::format("rules: {{ dir: {} }}\n", missing.string()));
  Outcome list = run({"--config", list_config.string(), "rules", "list"});
  EXPECT_EQ(list.code, 3) << list.err;
  EXPECT_EQ(list.out, "") << "no table for rules that could not be read";
  EXPECT_TRUE(has(list.err, missing.string() + ": cannot open rules directory: No such file or directory")) << list.err;
  EXPECT_FALSE(has(list.err, "rejected")) << list.err;
}

TEST_F(CliExitCodes, FourWhenDenied) {
  make_store();
  Outcome guard = run_db({"query", "DELETE FROM alerts"});
  EXPECT_EQ(guard.code, 4) << guard.err;
  EXPECT_TRUE(has(guard.err, "query refused: not allowed: DELETE from alerts")) << guard.err;

  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the CLI as another user";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  // The directories are open to everyone; the status file is the agent's
  // (0640, root): nobody may find it but not read it.
  ::chmod(dir_.path().c_str(), 0755);
  ::chmod(var_.c_str(), 0755);
  de::AgentStatus s;
  s.pid = 1;
  ASSERT_TRUE(de::write_status_file(de::status_file_for(db_), s));
  Outcome r = run({"--db", db_.string(), "status"}, Child::As{nobody->pw_uid, nobody->pw_gid});
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_TRUE(has(r.err, "Permission denied")) << r.err;
}

TEST_F(CliExitCodes, FiveWhenStoredDataIsDamaged) {
  write_file(de::status_file_for(db_), R"({"format":1,"state":"dancing"})");
  EXPECT_EQ(run_db({"status"}).code, 5);
  write_file(db_, std::string(8192, 'x'));
  Outcome r = run_db({"query", "SELECT 1"});
  EXPECT_EQ(r.code, 5) << r.err;
}

TEST_F(CliExitCodes, SixWhenTimedOut) {
  make_store();
  Outcome r = run_db({"query", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
                      "--timeout", "200ms"});
  EXPECT_EQ(r.code, 6) << r.err;
  EXPECT_TRUE(has(r.err, "time limit exceeded")) << r.err;
}

// With stderr unwritable (`2>/dev/full`) each code still holds: the
// message is lost, the code is not. say()'s fmt::print(stderr, ...) threw,
// nothing caught it, and every command that had something to say aborted
// (134) instead.
TEST_F(CliExitCodes, TheCodesHoldWhenStderrCannotBeWritten) {
  const auto code_of = [&](std::vector<std::string> args) {
    args.insert(args.begin(), cli_bin());
    Child c(args, dir_.path() / "cli.out", "/dev/full");
    return c.wait(60s).value_or(-1);
  };
  const std::string db = db_.string();
  EXPECT_EQ(code_of({"--frobnicate"}), 2);
  EXPECT_EQ(code_of({"stauts"}), 2);
  EXPECT_EQ(code_of({"--db", "", "status"}), 2);
  EXPECT_EQ(code_of({"--db", db, "query", "SELECT 1"}), 3);  // no database yet
  make_store();
  EXPECT_EQ(code_of({"--db", db, "query", "SELECT nope FROM processes"}), 2);
  EXPECT_EQ(code_of({"--db", db, "query", "DELETE FROM alerts"}), 4);
  EXPECT_EQ(code_of({"--db", db, "query",
                     "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c",
                     "--timeout", "200ms"}),
            6);
  write_file(de::status_file_for(db_), R"({"format":1,"state":"dancing"})");
  EXPECT_EQ(code_of({"--db", db, "status"}), 5);
}

}  // namespace
}  // namespace detest
