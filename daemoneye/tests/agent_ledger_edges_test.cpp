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

  // The ledger's size and root at that size (hex), read-only; size -1 when it cannot be read.
  std::pair<std::int64_t, std::string> head() const {
    auto l = airssys::ledger::Ledger::open(ledger, {.read_only = true});
    if (!l) return {-1, ""};
    std::string root;
    for (const std::uint8_t b : (*l)->root()) root += fmt::format("{:02x}", b);
    return {static_cast<std::int64_t>((*l)->size()), root};
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
  const std::size_t heads_before = a.alerts_of(kTreeHeadRule).size();
  auto agent = a.start_agent();
  ASSERT_TRUE(eventually([&] { return a.alerts_of(kTreeHeadRule).size() > heads_before; })) << slurp(a.log);
  const nlohmann::json first = a.alerts_of(kTreeHeadRule)[heads_before];
  EXPECT_EQ(first["row"].value("ledger_size", std::int64_t{-1}), size) << first.dump();
  EXPECT_EQ(first["row"].value("root", ""), root) << first.dump();
  EXPECT_NE(slurp(a.log).find(fmt::format("starting: the audit ledger's tree head is handed to the sinks: {} entries",
                                          size)),
            std::string::npos)
      << slurp(a.log);
  stop_agent(*agent, a.log);
}

// What the agent logs and raises at a start that finds the ledger gone.
constexpr const char* kMissingLogged = "is missing (moved away or deleted): the store's mark expects at least";

TEST(AgentLedgerEdges, ALedgerMovedAwayBetweenRunsRaisesOneDiscontinuityAlertAndTheAgentGoesOn) {
  EdgeAgent a;
  a.run_until("self", 1);
  const auto [old_size, old_root] = a.head();
  ASSERT_GE(old_size, 1) << slurp(a.log);
  fs::rename(a.ledger, a.var / "ledger.1");  // the operator's rotation, or an intruder's

  // A second rule, so that the run after the rotation has an alert of its own to raise.
  write_file(a.rules / "self2.yaml", "id: self2\nname: The test process again\nseverity: high\n"
                                     "query: SELECT pid, name FROM processes WHERE pid = " +
                                         std::to_string(::getpid()) + "\n");
  ::chmod((a.rules / "self2.yaml").c_str(), 0644);
  auto agent = a.start_agent();
  ASSERT_TRUE(eventually([&] { return a.alerts_of(kDiscontinuityRule).size() == 1; })) << slurp(a.log);
  // It goes on: the new rule's alert is raised into a new ledger.
  ASSERT_TRUE(eventually([&] { return a.alerts_of("self2").size() == 1; })) << slurp(a.log);
  stop_agent(*agent, a.log);

  const std::string log = slurp(a.log);
  // An error line naming what was expected and what was found.
  EXPECT_NE(log.find(fmt::format("error daemoneye-agent: the audit ledger {} {} {} entries with root {} at {}, found "
                                 "no ledger",
                                 a.ledger.string(), kMissingLogged, old_size, old_root, old_size)),
            std::string::npos)
      << log;
  const auto raised = a.alerts_of(kDiscontinuityRule);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].value("severity", ""), "high") << raised[0].dump();
  EXPECT_EQ(raised[0]["row"].value("problem", ""), "missing") << raised[0].dump();
  EXPECT_EQ(raised[0]["row"].value("expected_size", std::int64_t{-1}), old_size) << raised[0].dump();
  EXPECT_EQ(raised[0]["row"].value("expected_root", ""), old_root) << raised[0].dump();
  EXPECT_EQ(raised[0]["row"].value("found_size", std::int64_t{-1}), 0) << raised[0].dump();
  // Through the normal path: in the new ledger and in the store.
  EXPECT_EQ(count_rows(a.db, fmt::format("SELECT count(*) FROM alerts WHERE rule_id = '{}'", kDiscontinuityRule)), 1);
  const auto [new_size, new_root] = a.head();
  EXPECT_GE(new_size, 2) << log;  // the discontinuity alert and self2's
  EXPECT_EQ(a.alerts_of("self").size(), 1u) << "the first run's alert is not raised again";
}

TEST(AgentLedgerEdges, AnUntouchedRestartRaisesNoDiscontinuityAndOneAfterARotationIsSaidOnce) {
  EdgeAgent a;
  a.run_until("self", 1);
  a.run_until(kTreeHeadRule, 3);  // untouched: the first run's two tree heads and this start's
  EXPECT_EQ(a.alerts_of(kDiscontinuityRule).size(), 0u) << slurp(a.log);
  fs::rename(a.ledger, a.var / "ledger.1");
  a.run_until(kDiscontinuityRule, 1);
  // The store's mark follows the new ledger now: the next start finds it whole.
  const std::size_t heads = a.alerts_of(kTreeHeadRule).size();
  a.run_until(kTreeHeadRule, heads + 1);
  EXPECT_EQ(a.alerts_of(kDiscontinuityRule).size(), 1u) << slurp(a.log);
  const std::string log = slurp(a.log);
  std::size_t said = 0;
  for (auto at = log.find(kMissingLogged); at != std::string::npos; at = log.find(kMissingLogged, at + 1)) ++said;
  EXPECT_EQ(said, 1u) << log;
}

// A ledger rebuilt in place (as many entries, another root at the mark's
// size) and one cut short are told apart from a missing one.
TEST(AgentLedgerEdges, ALedgerRebuiltOrCutShortIsSaidWithWhatWasFound) {
  EdgeAgent a;
  a.run_until("self", 1);
  const auto [old_size, old_root] = a.head();
  ASSERT_GE(old_size, 1) << slurp(a.log);
  fs::remove_all(a.ledger);
  {
    auto l = airssys::ledger::Ledger::create(a.ledger);
    ASSERT_TRUE(l) << l.error().to_string();
    const std::string forged = R"({"forged":true})";
    for (std::int64_t i = 0; i < old_size; ++i) {
      auto r = (*l)->append({reinterpret_cast<const std::uint8_t*>(forged.data()), forged.size()});
      ASSERT_TRUE(r) << r.error().to_string();
    }
  }
  const auto [rebuilt_size, rebuilt_root] = a.head();
  a.run_until(kDiscontinuityRule, 1);
  auto raised = a.alerts_of(kDiscontinuityRule);
  EXPECT_EQ(raised.back()["row"].value("problem", ""), "other_root") << raised.back().dump();
  EXPECT_EQ(raised.back()["row"].value("found_root", ""), rebuilt_root) << raised.back().dump();
  EXPECT_NE(slurp(a.log).find("is not the one the store followed (replaced or rebuilt)"), std::string::npos)
      << slurp(a.log);

  // Now cut short: an empty ledger where the store's mark counts entries.
  fs::remove_all(a.ledger);
  ASSERT_TRUE(airssys::ledger::Ledger::create(a.ledger));
  a.run_until(kDiscontinuityRule, 2);
  raised = a.alerts_of(kDiscontinuityRule);
  EXPECT_EQ(raised.back()["row"].value("problem", ""), "shorter") << raised.back().dump();
  EXPECT_EQ(raised.back()["row"].value("found_size", std::int64_t{-1}), 0) << raised.back().dump();
  EXPECT_NE(slurp(a.log).find("is shorter than it was"), std::string::npos) << slurp(a.log);
}

}  // namespace
}  // namespace detest

namespace detest {
namespace {

// A ledger that cannot be read at start (a directory where its tree file
// should be, then a head whose checksum no longer matches: corruption root
// cannot read past) stopped every start before ("cannot start: ledger …:
// corrupt"), and the store's mark could not be checked. Now it is set aside
// as it is, a new ledger made, one discontinuity alert raised with problem
// "unverifiable" and the ledger's own error as its reason, and the agent goes
// on; the next start raises nothing more.
TEST(AgentLedgerEdges, ALedgerThatCannotBeReadAtStartIsRaisedAsUnverifiableOnceAndTheAgentGoesOn) {
  EdgeAgent a;
  a.run_until("self", 1);
  const auto [old_size, old_root] = a.head();
  ASSERT_GE(old_size, 1) << slurp(a.log);
  fs::remove(a.ledger / "tree");
  fs::create_directory(a.ledger / "tree");

  write_file(a.rules / "self2.yaml", "id: self2\nname: The test process again\nseverity: high\n"
                                     "query: SELECT pid, name FROM processes WHERE pid = " +
                                         std::to_string(::getpid()) + "\n");
  ::chmod((a.rules / "self2.yaml").c_str(), 0644);
  auto agent = a.start_agent();
  ASSERT_TRUE(eventually([&] { return a.alerts_of(kDiscontinuityRule).size() == 1; })) << slurp(a.log);
  ASSERT_TRUE(eventually([&] { return a.alerts_of("self2").size() == 1; })) << slurp(a.log);  // it goes on
  stop_agent(*agent, a.log);

  // What the ledger library says when it opens a ledger for writing and
  // meets a directory there (airssys-ledger's read-only open says
  // "corrupt: …/tree is not a regular file").
  const std::string why = fmt::format(
      "unverifiable: ledger {0}: invalid_argument: open {0}/tree: Is a directory (set aside as {0}.unverifiable-",
      a.ledger.string());
  auto raised = a.alerts_of(kDiscontinuityRule);
  ASSERT_EQ(raised.size(), 1u);
  const nlohmann::json& row = raised[0]["row"];
  EXPECT_EQ(row.value("problem", ""), "unverifiable") << row.dump();
  EXPECT_TRUE(row.value("reason", "").starts_with(why)) << row.dump();
  EXPECT_EQ(row.value("expected_size", std::int64_t{-1}), old_size) << row.dump();
  EXPECT_EQ(row.value("expected_root", ""), old_root) << row.dump();
  EXPECT_EQ(row.value("found_size", std::int64_t{-1}), 0) << row.dump();
  const std::string log = slurp(a.log);
  EXPECT_NE(log.find(fmt::format("error daemoneye-agent: the audit ledger {} cannot be verified against the store's "
                                 "mark ({}",
                                 a.ledger.string(), why)),
            std::string::npos)
      << log;
  // The unreadable ledger is kept as it was found, beside the new one.
  std::vector<fs::path> aside;
  for (const auto& e : fs::directory_iterator(a.var))
    if (e.path().filename().string().starts_with("ledger.unverifiable-")) aside.push_back(e.path());
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_TRUE(fs::is_directory(aside[0] / "tree"));
  EXPECT_TRUE(row.value("reason", "").ends_with(aside[0].string() + ")")) << row.dump();
  EXPECT_GE(a.head().first, 2) << log;  // the new ledger: the alert and self2's
  EXPECT_EQ(count_rows(a.db, fmt::format("SELECT count(*) FROM alerts WHERE rule_id = '{}'", kDiscontinuityRule)), 1);

  // Once: the next start finds the new ledger whole.
  const std::size_t heads = a.alerts_of(kTreeHeadRule).size();
  a.run_until(kTreeHeadRule, heads + 1);
  EXPECT_EQ(a.alerts_of(kDiscontinuityRule).size(), 1u) << slurp(a.log);

  // A head whose bytes no longer match their checksum is the same.
  {
    std::fstream head(a.ledger / "head", std::ios::in | std::ios::out | std::ios::binary);
    head.seekp(20);
    head.put('\xff');
  }
  a.run_until(kDiscontinuityRule, 2);
  raised = a.alerts_of(kDiscontinuityRule);
  EXPECT_EQ(raised.back()["row"].value("problem", ""), "unverifiable") << raised.back().dump();
  EXPECT_TRUE(raised.back()["row"].value("reason", "").starts_with(
      fmt::format("unverifiable: ledger {0}: corrupt: {0}: head: checksum mismatch (set aside as ", a.ledger.string())))
      << raised.back().dump();
}

}  // namespace
}  // namespace detest
