// Alerts exported for a SIEM: `daemoneye-cli alerts --json-lines` writes
// the very objects `--json` puts in its array, one per line (JSON Lines,
// what log shippers and `jq -c` read), oldest first. Before, only
// `--follow --json` wrote lines, so a one-shot export needed jq to split
// the array. Real daemoneye-cli over a real store.

#include "cli_store_fixture.hpp"

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/store.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <sstream>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

class CliAlertsExport : public CliStoreTest {
 protected:
  void SetUp() override {
    CliStoreTest::SetUp();
    if (HasFatalFailure()) return;
    const auto now = static_cast<std::int64_t>(::time(nullptr));
    std::vector<de::Alert> alerts;
    for (int i = 0; i < 3; ++i)
      alerts.push_back({.rule_id = i == 1 ? "other" : "curl-ip",
                        .rule_name = "curl from a bare IP",
                        .severity = de::Severity::high,
                        .tags = {"attack.t1105"},
                        .row_json = fmt::format(R"({{"pid":{},"cmdline":"curl http://10.0.0.{}/x"}})", 4300 + i, i),
                        .host = "h",
                        .time = now - 30 + i,
                        .dedup_key = fmt::format("curl-ip|pid={}", 4300 + i)});
    auto in = store_->insert_alerts(alerts);
    ASSERT_TRUE(in) << in.error();
    store_.reset();
  }
};

TEST_F(CliAlertsExport, JsonLinesAreTheJsonArraysObjectsOnePerLine) {
  Outcome array = cli({"alerts", "--since", "1h", "--json"});
  ASSERT_EQ(array.code, 0) << array.err;
  const auto objects = nlohmann::ordered_json::parse(array.out, nullptr, false);
  ASSERT_TRUE(objects.is_array()) << array.out;
  ASSERT_EQ(objects.size(), 3u);

  Outcome lines = cli({"alerts", "--since", "1h", "--json-lines"});
  ASSERT_EQ(lines.code, 0) << lines.err;
  EXPECT_EQ(lines.err, "");
  std::istringstream in(lines.out);
  std::vector<nlohmann::ordered_json> read;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::ordered_json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "not one object on the line: " << line;
    read.push_back(std::move(j));
  }
  ASSERT_EQ(read.size(), 3u) << lines.out;
  for (std::size_t i = 0; i < read.size(); ++i) EXPECT_EQ(read[i], objects[i]) << i;
  EXPECT_EQ(read[0]["row"]["pid"], 4300);  // oldest first, as the array
  EXPECT_EQ(read[0]["rule_id"], "curl-ip");

  // With --rule, and with no alert at all: nothing, not "[]" or a note.
  Outcome one = cli({"alerts", "--since", "1h", "--rule", "other", "--json-lines"});
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(one.out, objects[1].dump() + "\n");
  Outcome none = cli({"alerts", "--since", "1h", "--rule", "nothing", "--json-lines"});
  EXPECT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "");
}

}  // namespace
}  // namespace detest
