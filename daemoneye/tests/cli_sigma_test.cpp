// daemoneye-cli with Sigma rules, end to end: the real binary
// (DAEMONEYE_CLI_BIN) checks a Sigma rule as the agent loads it, prints its
// translation with `rules translate`, and names the file, line and reason
// for one it cannot translate; and its translation, run as it is through
// `query`, is the dry run docs/daemoneye.md and --help promise.

#include "cli_store_fixture.hpp"

#include <airssys/daemoneye/store.hpp>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <ctime>

namespace detest {
namespace {

class CliSigma : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(cli_bin().empty()) << "DAEMONEYE_CLI_BIN is not set: run this test through ctest";
    fs::create_directories(rules_);
    ::chmod(rules_.c_str(), 0700);
  }

  Outcome cli(std::vector<std::string> args) const { return run_cli(std::move(args), dir_.path()); }

  fs::path rule(const std::string& name, const std::string& text) const {
    const fs::path p = rules_ / name;
    write_file(p, text);
    ::chmod(p.c_str(), 0600);
    return p;
  }

  TempDir dir_;
  fs::path rules_ = dir_.path() / "rules";
};

TEST_F(CliSigma, ChecksAndTranslatesASigmaRule) {
  const fs::path good = rule("curl-sh.yml",
                             "title: Curl into a shell\n"
                             "id: curl-sh\n"
                             "level: critical\n"
                             "logsource: {product: linux, category: process_creation}\n"
                             "detection:\n"
                             "  fetch: {Image|endswith: /curl}\n"
                             "  pipe: {ParentCommandLine|re: '\\|\\s*sh'}\n"
                             "  condition: fetch and pipe\n");
  Outcome check = cli({"rules", "check", good.string()});
  EXPECT_EQ(check.code, 0) << check.err;
  EXPECT_EQ(check.out, "ok  " + good.string() + ": curl-sh (critical)\n");

  Outcome tr = cli({"rules", "translate", good.string()});
  ASSERT_EQ(tr.code, 0) << tr.err;
  EXPECT_EQ(tr.out.substr(0, tr.out.find('\n')), "-- " + good.string() + ": curl-sh (Sigma, critical)");
  EXPECT_NE(tr.out.find("FROM process_events\n"), std::string::npos) << tr.out;
  EXPECT_NE(tr.out.find("(path LIKE '%/curl' ESCAPE '\\' AND regexp('\\|\\s*sh', parent_cmdline, 1))"), std::string::npos)
      << tr.out;
}

TEST_F(CliSigma, AnUntranslatableRuleIsRejectedWithItsLine) {
  const fs::path bad = rule("count.yml",
                            "title: Many curls\n"
                            "logsource: {product: linux, category: process_creation}\n"
                            "detection:\n"
                            "  s: {Image|endswith: /curl}\n"
                            "  condition: s | count() by User > 10\n");
  const std::string why = bad.string() +
                          ":5: condition: aggregations ('| count() ...', '| near ...') are not supported: a rule "
                          "matches single events";
  Outcome check = cli({"rules", "check", bad.string()});
  EXPECT_EQ(check.code, 1);
  EXPECT_NE(check.err.find("daemoneye-cli: " + why + "\n"), std::string::npos) << check.err;
  Outcome tr = cli({"rules", "translate", bad.string()});
  EXPECT_EQ(tr.code, 1);
  EXPECT_EQ(tr.out, "");
  EXPECT_EQ(tr.err, "daemoneye-cli: " + why + "\n");
  Outcome none = cli({"rules", "translate"});
  EXPECT_EQ(none.code, 2);
}

// The dry run (daemoneye-cli --help, `rules translate --help`, "Rules"):
// `query "$(rules translate FILE)"` runs the rule over the agent's store as
// it is, for a Sigma rule (its window's parameters unbound: every stored
// event) and for a native one, and returns the rows the rule would alert on.
class CliRuleDryRun : public CliStoreTest {
 protected:
  void SetUp() override {
    CliStoreTest::SetUp();
    if (HasFatalFailure()) return;
    const auto now = static_cast<std::int64_t>(::time(nullptr));
    std::vector<airssys::daemoneye::ProcessEvent> events;
    for (const auto& [pid, cmdline] : {std::pair{4301, "curl -s http://10.1.2.3/x.sh"}, {4302, "curl -s https://example.com/"}})
      events.push_back({airssys::daemoneye::EventKind::exec, airssys::daemoneye::EventSource::ebpf, now - 10,
                        curl_process(pid, cmdline, now - 20)});
    auto a = store_->append_events(events);
    ASSERT_TRUE(a) << a.error();
    store_.reset();
  }

  // The pids `query "$(rules translate FILE)"` returns.
  std::vector<std::int64_t> dry_run(const fs::path& file) const {
    Outcome tr = run_cli({"rules", "translate", file.string()}, dir_.path());
    EXPECT_EQ(tr.code, 0) << tr.err;
    Outcome q = cli({"query", tr.out, "--format", "json"});
    EXPECT_EQ(q.code, 0) << q.err << "\n" << tr.out;
    std::vector<std::int64_t> pids;
    const auto rows = nlohmann::json::parse(q.out, nullptr, false);
    if (!rows.is_array()) {
      ADD_FAILURE() << q.out;
      return pids;
    }
    for (const auto& row : rows) pids.push_back(row.at("pid").get<std::int64_t>());
    return pids;
  }
};

TEST_F(CliRuleDryRun, ATranslationRunsAsItIsThroughQuery) {
  const fs::path sigma = rule("curl-ip.yml",
                              "title: curl from a bare IP address\n"
                              "logsource: {product: linux, category: process_creation}\n"
                              "detection:\n"
                              "  tool: {Image|endswith: /curl}\n"
                              "  ip: {CommandLine|re: 'https?://[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+'}\n"
                              "  condition: tool and ip\n");
  EXPECT_EQ(dry_run(sigma), std::vector<std::int64_t>{4301});
  const fs::path native = rule("curl-ip.yaml",
                               "id: curl-ip-native\nname: curl from a bare IP\nseverity: high\n"
                               "query: |\n"
                               "  SELECT pid, start_time, cmdline FROM process_events\n"
                               "  WHERE name = 'curl' AND cmdline REGEXP 'https?://[0-9.]+/'\n");
  EXPECT_EQ(dry_run(native), std::vector<std::int64_t>{4301});
}

}  // namespace
}  // namespace detest
