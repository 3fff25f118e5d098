// daemoneye-cli with Sigma rules, end to end: the real binary
// (DAEMONEYE_CLI_BIN) checks a Sigma rule as the agent loads it, prints its
// translation with `rules translate`, and names the file, line and reason
// for one it cannot translate.

#include "harness.hpp"

#include <sys/stat.h>

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

}  // namespace
}  // namespace detest
