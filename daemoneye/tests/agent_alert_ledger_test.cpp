// daemoneye-agent: an alert is in the ledger and the store once, also when
// the store refused it and the agent was killed with SIGKILL before it could
// store it. The real agent and procmond; the store refuses alerts through a
// SQLite trigger a second connection makes on the real database (RAISE on
// INSERT INTO alerts: every other write goes on), so the window between the
// ledger and the store stays open as long as the test needs. The ledger is
// read back with airssys::ledger, the store with SQLite, and what an
// operator sees with the real daemoneye-cli.

#include "harness.hpp"
#include "store_query.hpp"

#include <airssys/daemoneye/store.hpp>
#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>

#include <fmt/format.h>
#include <sqlite3.h>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

struct LedgerAgent : AgentDir {
  fs::path db = var / "daemoneye.db";
  fs::path ledger = var / "ledger";
  const std::string self_pid = std::to_string(::getpid());

  LedgerAgent() {
    write_self_rule(rules);  // matches this test process: raised at the first scan
    write_config();
  }

  // The store exists before the agent starts, refusing every alert.
  void create_store_refusing_alerts() {
    auto store = de::Store::open({.path = db});
    ASSERT_TRUE(store) << store.error().message;
    store->reset();
    refuse_alerts();
  }
  void refuse_alerts() {
    ASSERT_EQ(exec_sql(db, "CREATE TRIGGER refuse BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'refused by "
                           "the test'); END"),
              "");
  }
  void take_alerts() { ASSERT_EQ(exec_sql(db, "DROP TRIGGER refuse"), ""); }

  // Ledger entries that are alerts of the self rule (-1: the ledger cannot be read).
  int ledger_alerts() const {
    auto l = airssys::ledger::Ledger::open(ledger, {.read_only = true});
    if (!l) return -1;
    int n = 0;
    for (std::uint64_t i = 0; i < (*l)->size(); ++i) {
      auto bytes = (*l)->entry(i);
      if (!bytes) return -1;
      auto j = nlohmann::json::parse(std::string(bytes->begin(), bytes->end()), nullptr, false);
      if (j.is_object() && j.value("rule_id", "") == "self") ++n;
    }
    return n;
  }
  std::int64_t stored_alerts() const { return count_rows(db, "SELECT count(*) FROM alerts WHERE rule_id = 'self'"); }
  int sink_alerts() const {
    int n = 0;
    for (auto& a : alert_lines())
      if (a.value("rule_id", "") == "self") ++n;
    return n;
  }
  std::int64_t scans() const { return count_rows(db, "SELECT count(*) FROM scans"); }
  bool logged(const std::string& text) const { return slurp(log).find(text) != std::string::npos; }
};

constexpr const char* kRefused = "storing 1 alerts and the Sigma rules' marks failed (the alerts are in the ledger";

TEST(AgentAlertLedger, AnAlertTheStoreRefusedBeforeASigkillIsStoredOnceAtTheNextStartAndNotRaisedAgain) {
  LedgerAgent a;
  a.create_store_refusing_alerts();
  {
    auto agent = a.start_agent();
    // The alert is in the ledger and at the sink; the store refused it.
    ASSERT_TRUE(eventually([&] { return a.logged(kRefused); })) << slurp(a.log);
    EXPECT_EQ(a.ledger_alerts(), 1);
    EXPECT_EQ(a.sink_alerts(), 1);
    EXPECT_EQ(a.stored_alerts(), 0);
    agent->signal(SIGKILL);
    ASSERT_EQ(agent->wait().value_or(-1), 128 + SIGKILL);
  }
  a.take_alerts();
  const std::int64_t scans_before = a.scans();
  auto agent = a.start_agent();
  ASSERT_TRUE(eventually([&] { return a.stored_alerts() == 1; })) << slurp(a.log);
  // Scans enough for the rule to match the test process again: the dedup
  // window, read back from the store, knows the alert.
  ASSERT_TRUE(eventually([&] { return a.scans() >= scans_before + 3; })) << slurp(a.log);
  agent->signal(SIGTERM);
  ASSERT_EQ(agent->wait().value_or(-1), 0) << slurp(a.log);

  EXPECT_EQ(a.ledger_alerts(), 1) << slurp(a.log);
  EXPECT_EQ(a.stored_alerts(), 1) << slurp(a.log);
  EXPECT_EQ(a.sink_alerts(), 1) << slurp(a.log);
  EXPECT_TRUE(a.logged("1 alerts the ledger " + a.ledger.string() + " holds were missing from the store"))
      << slurp(a.log);
  auto report = airssys::ledger::verify(a.ledger);
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_TRUE(report->intact) << report->problem;

  Outcome cli = run_cli({"--config", a.config.string(), "alerts"}, a.dir.path());
  EXPECT_EQ(cli.code, 0) << cli.err;
  EXPECT_NE(cli.out.find("HIGH self The test process pid=" + a.self_pid + " "), std::string::npos) << cli.out;
  EXPECT_EQ(std::count(cli.out.begin(), cli.out.end(), '\n'), 1) << cli.out;
}

TEST(AgentAlertLedger, AnAlertTheStoreRefusedIsStoredWithALaterScanOnceTheStoreTakesItAgain) {
  LedgerAgent a;
  a.create_store_refusing_alerts();
  auto agent = a.start_agent();
  ASSERT_TRUE(eventually([&] { return a.logged(kRefused); })) << slurp(a.log);
  // Refused again with every scan meanwhile, said once.
  const std::int64_t scans_refused = a.scans();
  ASSERT_TRUE(eventually([&] { return a.scans() >= scans_refused + 2; })) << slurp(a.log);
  EXPECT_EQ(a.stored_alerts(), 0);
  a.take_alerts();
  ASSERT_TRUE(eventually([&] { return a.stored_alerts() == 1; })) << slurp(a.log);
  EXPECT_TRUE(eventually([&] { return a.logged("the store takes alerts again: 1 stored"); })) << slurp(a.log);
  agent->signal(SIGTERM);
  ASSERT_EQ(agent->wait().value_or(-1), 0) << slurp(a.log);
  EXPECT_EQ(a.ledger_alerts(), 1);
  EXPECT_EQ(a.stored_alerts(), 1);
  EXPECT_EQ(a.sink_alerts(), 1);
  const std::string text = slurp(a.log);
  std::size_t refusals = 0;
  const std::string said = "the Sigma rules' marks failed";
  for (auto at = text.find(said); at != std::string::npos; at = text.find(said, at + 1)) ++refusals;
  EXPECT_EQ(refusals, 1u) << text;
}

}  // namespace
}  // namespace detest
