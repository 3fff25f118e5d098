// AlertLedgerSync with real parts: a real ledger and a real store in a temp
// dir, alerts appended by a real AlertPipeline, and a SQLite trigger (made
// by a second connection) where the store must refuse alerts.
#include <airssys/daemoneye/alert_ledger_sync.hpp>
#include <airssys/daemoneye/alert_pipeline.hpp>
#include <airssys/daemoneye/store.hpp>

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/merkle.hpp>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "alert_test_util.hpp"
#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;
using testing::make_alert;

constexpr std::int64_t kNow = 1796392800;  // make_alert's time
constexpr std::chrono::seconds kMaxAge = 7 * 24h;

class AlertLedgerSyncTest : public ::testing::Test {
 protected:
  test::TempDir dir;
  std::filesystem::path db = dir / "de.db";
  std::shared_ptr<ledger::Ledger> ledger = ledger::Ledger::create(dir / "ledger").value();
  std::unique_ptr<Store> store = Store::open({.path = db}).value();
  std::unique_ptr<AlertPipeline> pipeline = AlertPipeline::create(AlertsConfig{}, ledger, {}).value();
  test::Peek peek{db};

  // Raises `alerts` at `now`: in the ledger, not yet in the store.
  std::vector<Alert> raise(std::vector<Alert> alerts, std::int64_t now = kNow) {
    auto out = pipeline->submit(std::move(alerts), now);
    EXPECT_TRUE(out) << out.error();
    return out ? out->raised : std::vector<Alert>{};
  }
  std::int64_t stored() { return peek.integer("SELECT count(*) FROM alerts"); }
  std::int64_t stored(const Alert& a) {
    return peek.integer(fmt::format("SELECT count(*) FROM alerts WHERE dedup_key = '{}'", a.dedup_key));
  }
  void refuse_alerts() {
    peek.exec("CREATE TRIGGER refuse BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  }
  void take_alerts() { peek.exec("DROP TRIGGER refuse"); }
};

TEST_F(AlertLedgerSyncTest, AlertsTheLedgerHoldsAndTheStoreLacksAreStoredOnceWithTheirFields) {
  const auto raised = raise({make_alert("r1", 1), make_alert("r2", 2, Severity::critical)});
  ASSERT_EQ(raised.size(), 2u);
  // A live query's audit record in the same ledger is no alert, whatever fields it shares with one.
  const std::string audit = R"({"type":"live_query","time":1796392800,"host":"host-1","rule_id":"r3",)"
                            R"("rule_name":"x","severity":"high","tags":[],"dedup_key":"r3|","row":{}})";
  ASSERT_TRUE(ledger->append({reinterpret_cast<const std::uint8_t*>(audit.data()), audit.size()}));
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  EXPECT_TRUE(sync.behind());
  auto r = sync.catch_up(kNow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->by_time);  // a store no sync wrote has no mark
  ASSERT_EQ(r->missing.size(), 2u);
  EXPECT_FALSE(sync.behind());
  ASSERT_EQ(stored(), 2);
  EXPECT_EQ(peek.text("SELECT json_object('time', time, 'host', host, 'rule_id', rule_id, 'rule_name', rule_name, "
                      "'severity', severity, 'tags', json(tags), 'dedup_key', dedup_key, 'row', json(row)) "
                      "FROM alerts WHERE rule_id = 'r2'"),
            alert_to_json(raised[1]));
  EXPECT_EQ(peek.text("SELECT row FROM alerts WHERE rule_id = 'r1'"), raised[0].row_json);

  // Again (a second start): the mark says the store is complete, nothing is read or stored twice.
  AlertLedgerSync again(*ledger, *store, kMaxAge);
  auto r2 = again.catch_up(kNow);
  ASSERT_TRUE(r2) << r2.error();
  EXPECT_FALSE(r2->by_time);
  EXPECT_EQ(r2->entries_read, 0u);
  EXPECT_TRUE(r2->missing.empty());
  EXPECT_EQ(stored(), 2);
}

TEST_F(AlertLedgerSyncTest, AScanStoresItsAlertsAndTheMarkPastThemInOneTransaction) {
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  EventMarks marks;
  marks.covered["sigma-rule"] = 42;
  const auto raised = raise({make_alert("r1", 1)});
  auto n = sync.store(raised, marks, kNow);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(stored(), 1);
  EXPECT_EQ(peek.integer("SELECT covered FROM sigma_marks WHERE rule_id = 'sigma-rule'"), 42);
  auto mark = store->alert_ledger_mark();
  ASSERT_TRUE(mark && *mark);
  EXPECT_EQ((*mark)->size, ledger->size());
  EXPECT_EQ((*mark)->root, ledger::to_hex(ledger->root()));

  // A store the mark covers is complete: an alert retention deleted is not brought back.
  peek.exec("DELETE FROM alerts");
  AlertLedgerSync restarted(*ledger, *store, kMaxAge);
  auto r = restarted.catch_up(kNow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->entries_read, 0u);
  EXPECT_EQ(stored(), 0);
}

TEST_F(AlertLedgerSyncTest, AlertsTheStoreRefusedAreStoredWithTheNextScanOnce) {
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  refuse_alerts();
  const auto first = raise({make_alert("r1", 1), make_alert("r1", 2)});
  auto failed = sync.store(first, EventMarks{}, kNow);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("refused by the test"), std::string::npos) << failed.error().message;
  EXPECT_TRUE(sync.behind());
  // A scan that raised nothing still tries again, and fails again while the store refuses.
  EXPECT_FALSE(sync.store({}, EventMarks{}, kNow + 1));
  take_alerts();
  EXPECT_EQ(stored(), 0);

  const auto second = raise({make_alert("r1", 3)}, kNow + 2);
  auto n = sync.store(second, EventMarks{}, kNow + 2);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 3u);
  EXPECT_FALSE(sync.behind());
  for (const Alert& a : {first[0], first[1], second[0]}) EXPECT_EQ(stored(a), 1) << a.dedup_key;

  // The next scan stores only its own, and a restart finds nothing missing.
  const auto third = raise({make_alert("r1", 4)}, kNow + 3);
  ASSERT_TRUE(sync.store(third, EventMarks{}, kNow + 3));
  EXPECT_EQ(stored(), 4);
  AlertLedgerSync restarted(*ledger, *store, kMaxAge);
  auto r = restarted.catch_up(kNow + 4);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->missing.empty());
  EXPECT_EQ(stored(), 4);
}

TEST_F(AlertLedgerSyncTest, AlertsStoredPastTheMarkByAnOlderAgentAreNotStoredAgain) {
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  // An agent without the mark stored these (a downgrade and back): ledger and store hold them, the mark does not.
  const auto raised = raise({make_alert("r1", 1), make_alert("r1", 2)});
  ASSERT_TRUE(store->insert_alerts(raised));
  const auto lost = raise({make_alert("r1", 3)}, kNow + 1);  // and this one it had not stored yet
  AlertLedgerSync restarted(*ledger, *store, kMaxAge);
  auto r = restarted.catch_up(kNow + 2);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->by_time);
  EXPECT_EQ(r->entries_read, 3u);
  ASSERT_EQ(r->missing.size(), 1u);
  EXPECT_EQ(r->missing[0].dedup_key, lost[0].dedup_key);
  for (const Alert& a : {raised[0], raised[1], lost[0]}) EXPECT_EQ(stored(a), 1) << a.dedup_key;
}

TEST_F(AlertLedgerSyncTest, WithoutAMarkTheLedgerIsReadBackToTheRetentionAge) {
  const auto old = raise({make_alert("r1", 1, Severity::high, kNow - 8 * 24 * 3600)}, kNow - 8 * 24 * 3600);
  const auto recent = raise({make_alert("r1", 2, Severity::high, kNow - 3600)}, kNow - 3600);
  ASSERT_TRUE(ledger->append(ledger::ByteView{}));  // an entry that is no JSON at all is skipped
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  auto r = sync.catch_up(kNow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->by_time);
  EXPECT_EQ(r->entries_read, 2u);  // the recent alert and the empty entry
  ASSERT_EQ(r->missing.size(), 1u);
  EXPECT_EQ(stored(old[0]), 0);
  EXPECT_EQ(stored(recent[0]), 1);

  // max_age 0 (no retention by age): the whole ledger.
  AlertLedgerSync all(*ledger, *store, 0s);
  peek.exec("DELETE FROM alert_ledger");
  auto whole = all.catch_up(kNow);
  ASSERT_TRUE(whole) << whole.error();
  EXPECT_EQ(whole->entries_read, 3u);
  EXPECT_EQ(stored(old[0]), 1);
  EXPECT_EQ(stored(recent[0]), 1);
}

TEST_F(AlertLedgerSyncTest, AMarkTakenOnAnotherLedgerIsNotTrusted) {
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  ASSERT_TRUE(sync.store(raise({make_alert("r1", 1)}), EventMarks{}, kNow));
  ASSERT_EQ(store->alert_ledger_mark().value()->size, 1u);

  // ledger.dir now names another ledger, longer than the mark: its entry 0 is not the one the mark counted.
  std::shared_ptr<ledger::Ledger> other = ledger::Ledger::create(dir / "other").value();
  auto p = AlertPipeline::create(AlertsConfig{}, other, {}).value();
  const auto theirs = p->submit({make_alert("r9", 7), make_alert("r9", 8)}, kNow).value().raised;
  AlertLedgerSync moved(*other, *store, kMaxAge);
  auto r = moved.catch_up(kNow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->by_time);
  EXPECT_EQ(r->missing.size(), 2u);
  EXPECT_EQ(stored(), 3);
  EXPECT_EQ(store->alert_ledger_mark().value()->root, ledger::to_hex(other->root()));

  // A ledger shorter than the mark (a new one) is read back by time too.
  std::shared_ptr<ledger::Ledger> fresh = ledger::Ledger::create(dir / "fresh").value();
  AlertLedgerSync anew(*fresh, *store, kMaxAge);
  auto f = anew.catch_up(kNow);
  ASSERT_TRUE(f) << f.error();
  EXPECT_TRUE(f->by_time);
  EXPECT_TRUE(f->missing.empty());
}

TEST_F(AlertLedgerSyncTest, ACatchUpTheStoreRefusesTellsWhatItFoundAndLeavesTheStoreBehind) {
  const auto raised = raise({make_alert("r1", 1)});
  refuse_alerts();
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  std::vector<Alert> found;
  auto r = sync.catch_up(kNow, &found);
  ASSERT_FALSE(r);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].dedup_key, raised[0].dedup_key);
  EXPECT_TRUE(sync.behind());
  take_alerts();
  auto n = sync.store({}, EventMarks{}, kNow);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(stored(raised[0]), 1);
}

}  // namespace
}  // namespace airssys::daemoneye
