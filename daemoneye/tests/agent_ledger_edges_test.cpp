// daemoneye-agent at the audit ledger's edges: a clean stop and every start
// hand the ledger's tree head to the sinks (so the alerts of the last minutes
// before a stop are covered by one kept off the host, not only by the next
// 10-minute one), and a start that finds the ledger missing, shorter than
// the store's mark, or with another root at the mark's size says so (an
// error in the log and one alert daemoneye-ledger-discontinuity) and goes
// on with the ledger it has. The real agent and procmond on real files; the
// ledger is read back with airssys::ledger (docs/daemoneye.md "The audit
// ledger: what it detects").

#include "harness.hpp"
#include "store_query.hpp"

#include <airssys/ledger/ledger.hpp>

#include <fmt/format.h>

namespace detest {
namespace {

constexpr const char* kTreeHeadRule = "daemoneye.ledger";
constexpr const char* kDiscontinuityRule = "daemoneye-ledger-discontinuity";

struct EdgeAgent : AgentDir {
  fs::path db = var / "daemoneye.db";
  fs::path ledger = var / "ledger";

  EdgeAgent() {
    write_self_rule(rules);  // matches this test process: raised at the first scan
    write_config();
  }

  std::vector<nlohmann::json> lines_of(const std::string& rule_id) const {
    std::vector<nlohmann::json> out;
    for (auto& a : alert_lines())
      if (a.value("rule_id", "") == rule_id) out.push_back(std::move(a));
    return out;
  }
  // The ledger's size and root at that size (hex), read-only; size -1 when it cannot be read.
  std::pair<std::int64_t, std::string> head() const {
    auto l = airssys::ledger::Ledger::open(ledger, {.read_only = true});
    if (!l) return {-1, ""};
    std::string root;
    for (const std::uint8_t b : (*l)->root()) root += fmt::format("{:02x}", b);
    return {static_cast<std::int64_t>((*l)->size()), root};
  }
  // One run: starts the agent, waits until the sink holds `rule_id`'s
  // `count`-th alert, stops it cleanly.
  void run_until(const std::string& rule_id, std::size_t count) {
    auto agent = start_agent();
    ASSERT_TRUE(eventually([&] { return lines_of(rule_id).size() >= count; })) << slurp(log);
    stop_agent(*agent, log);
  }
};

TEST(AgentLedgerEdges, AStopHandsTheSinksATreeHeadCoveringTheLastAlert) {
  EdgeAgent a;
  a.run_until("self", 1);
  const auto [size, root] = a.head();
  ASSERT_GE(size, 1) << slurp(a.log);
  const auto lines = a.alert_lines();
  ASSERT_FALSE(lines.empty());
  // The last record the sink got is the stop's tree head, and it counts the alert.
  const nlohmann::json& last = lines.back();
  EXPECT_EQ(last.value("rule_id", ""), kTreeHeadRule) << last.dump();
  EXPECT_EQ(last["row"].value("ledger_size", std::int64_t{-1}), size) << last.dump();
  EXPECT_EQ(last["row"].value("root", ""), root) << last.dump();
  EXPECT_NE(slurp(a.log).find(fmt::format("stopping: the audit ledger's tree head is handed to the sinks: {} entries",
                                          size)),
            std::string::npos)
      << slurp(a.log);
}

TEST(AgentLedgerEdges, AStartHandsTheSinksATreeHeadOfWhatThePreviousRunLeft) {
  EdgeAgent a;
  a.run_until("self", 1);
  const auto [size, root] = a.head();
  ASSERT_GE(size, 1) << slurp(a.log);
  const std::size_t heads_before = a.lines_of(kTreeHeadRule).size();
  auto agent = a.start_agent();
  ASSERT_TRUE(eventually([&] { return a.lines_of(kTreeHeadRule).size() > heads_before; })) << slurp(a.log);
  const nlohmann::json first = a.lines_of(kTreeHeadRule)[heads_before];
  EXPECT_EQ(first["row"].value("ledger_size", std::int64_t{-1}), size) << first.dump();
  EXPECT_EQ(first["row"].value("root", ""), root) << first.dump();
  EXPECT_NE(slurp(a.log).find(fmt::format("starting: the audit ledger's tree head is handed to the sinks: {} entries",
                                          size)),
            std::string::npos)
      << slurp(a.log);
  stop_agent(*agent, a.log);
}

}  // namespace
}  // namespace detest
