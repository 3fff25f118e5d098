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

#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

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
  ASSERT_EQ(r->stored, 2u);
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
  EXPECT_EQ(r2->stored, 0u);
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
  EXPECT_EQ(r->stored, 0u);
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
  ASSERT_EQ(r->stored, 1u);
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
  ASSERT_EQ(r->stored, 1u);
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
  EXPECT_EQ(r->stored, 2u);
  EXPECT_EQ(stored(), 3);
  EXPECT_EQ(store->alert_ledger_mark().value()->root, ledger::to_hex(other->root()));

  // A ledger shorter than the mark (a new one) is read back by time too.
  std::shared_ptr<ledger::Ledger> fresh = ledger::Ledger::create(dir / "fresh").value();
  AlertLedgerSync anew(*fresh, *store, kMaxAge);
  auto f = anew.catch_up(kNow);
  ASSERT_TRUE(f) << f.error();
  EXPECT_TRUE(f->by_time);
  EXPECT_EQ(f->stored, 0u);
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

// The ledger's files as the tests damage them (docs/ledger.md): `offsets`
// holds each entry's end offset (u64 LE), `entries` each record's u32
// length and payload; `tree` the hashes.
std::uint64_t record_start(const std::filesystem::path& ledger_dir, std::uint64_t index) {
  if (index == 0) return 0;
  std::ifstream in(ledger_dir / "offsets", std::ios::binary);
  in.seekg(static_cast<std::streamoff>((index - 1) * 8));
  std::uint8_t b[8] = {};
  in.read(reinterpret_cast<char*>(b), 8);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void overwrite(const std::filesystem::path& file, std::uint64_t at, std::string_view bytes) {
  std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << file;
}

// Review finding 1: an entry that cannot be read (entry() says corrupt: a
// record length that disagrees with its offsets) made every sync fail, so no
// alert was stored again, also after a restart.
TEST_F(AlertLedgerSyncTest, AnUnreadableEntryIsSkippedAndToldOnceAndTheOthersAreStored) {
  const auto raised = raise({make_alert("r1", 1), make_alert("r1", 2), make_alert("r1", 3)});
  ASSERT_EQ(ledger->size(), 3u);
  overwrite(dir / "ledger" / "entries", record_start(dir / "ledger", 1), std::string(4, '\xff'));
  ASSERT_FALSE(ledger->entry(1));
  std::vector<std::string> told;
  AlertLedgerSync sync(*ledger, *store, kMaxAge, [&](std::string_view m) { told.emplace_back(m); });
  auto r = sync.catch_up(kNow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->stored, 2u);
  EXPECT_EQ(r->skipped, 1u);
  EXPECT_FALSE(sync.behind());
  EXPECT_EQ(stored(raised[0]), 1);
  EXPECT_EQ(stored(raised[1]), 0);
  EXPECT_EQ(stored(raised[2]), 1);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_NE(told[0].find("entry 1 is skipped"), std::string::npos) << told[0];

  // The scans go on storing; the damaged entry is below the mark now and not told again.
  const auto next = raise({make_alert("r1", 4)}, kNow + 1);
  auto n = sync.store(next, EventMarks{}, kNow + 1);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(stored(next[0]), 1);
  AlertLedgerSync restarted(*ledger, *store, kMaxAge, [&](std::string_view m) { told.emplace_back(m); });
  ASSERT_TRUE(restarted.catch_up(kNow + 2));
  EXPECT_EQ(told.size(), 1u);
}

// Review finding 1, second half: when the ledger cannot be read at all (its
// tree is gone), a scan's own alerts and Sigma marks are still stored.
TEST_F(AlertLedgerSyncTest, WhenTheLedgerCannotBeReadAScanStillStoresItsOwnAlertsAndMarks) {
  std::vector<std::string> told;
  AlertLedgerSync sync(*ledger, *store, kMaxAge, [&](std::string_view m) { told.emplace_back(m); });
  ASSERT_TRUE(sync.catch_up(kNow));
  ASSERT_TRUE(sync.store(raise({make_alert("r1", 1)}), EventMarks{}, kNow));
  refuse_alerts();
  const auto refused = raise({make_alert("r1", 2)});
  ASSERT_FALSE(sync.store(refused, EventMarks{}, kNow));
  take_alerts();
  const auto later = raise({make_alert("r1", 3)}, kNow + 1);
  ASSERT_EQ(::truncate((dir / "ledger" / "tree").c_str(), 0), 0);  // root(mark) cannot be read now

  EventMarks marks;
  marks.covered["sigma-rule"] = 7;
  auto n = sync.store(later, marks, kNow + 1);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(sync.behind());
  EXPECT_EQ(stored(later[0]), 1);
  EXPECT_EQ(stored(refused[0]), 0);  // it waits in the ledger
  EXPECT_EQ(peek.integer("SELECT covered FROM sigma_marks WHERE rule_id = 'sigma-rule'"), 7);
  EXPECT_EQ(store->alert_ledger_mark().value()->size, 1u);  // the mark stays
  ASSERT_EQ(told.size(), 1u);
  EXPECT_NE(told[0].find("cannot be brought in from the audit ledger"), std::string::npos) << told[0];
  ASSERT_TRUE(sync.store({}, marks, kNow + 2));
  EXPECT_EQ(told.size(), 1u);  // once per outage
}

// Review finding 2: the read back is done in chunks, each its own
// transaction moving the mark, and a scan does at most kChunksPerScan.
TEST_F(AlertLedgerSyncTest, ABacklogIsStoredInChunksAndAScanDoesABoundedPartOfIt) {
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  refuse_alerts();
  const std::uint64_t per_scan = AlertLedgerSync::kChunkEntries * AlertLedgerSync::kChunksPerScan;
  // Appended as the pipeline does (alert_to_json), without its rate limit.
  std::vector<Alert> raised;
  std::vector<std::string> texts;
  for (std::uint64_t i = 0; i < per_scan + 100; ++i) {
    raised.push_back(make_alert("r1", static_cast<int>(i)));
    texts.push_back(alert_to_json(raised.back()));
  }
  std::vector<ledger::ByteView> views;
  for (const auto& t : texts) views.emplace_back(reinterpret_cast<const std::uint8_t*>(t.data()), t.size());
  ASSERT_TRUE(ledger->append_batch(views));
  ASSERT_FALSE(sync.store(raised, EventMarks{}, kNow));
  take_alerts();

  auto first = sync.store({}, EventMarks{}, kNow + 1);
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(*first, per_scan);
  EXPECT_TRUE(sync.behind());
  EXPECT_EQ(store->alert_ledger_mark().value()->size, per_scan);
  auto second = sync.store({}, EventMarks{}, kNow + 2);
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(*second, 100u);
  EXPECT_FALSE(sync.behind());
  EXPECT_EQ(stored(), static_cast<std::int64_t>(raised.size()));
  EXPECT_EQ(peek.integer("SELECT count(DISTINCT dedup_key) FROM alerts"), static_cast<std::int64_t>(raised.size()));

  // A start that reads the whole ledger by time (no usable mark) stores nothing twice, chunk after chunk.
  peek.exec("DELETE FROM alert_ledger");
  AlertLedgerSync restarted(*ledger, *store, kMaxAge);
  auto r = restarted.catch_up(kNow + 3);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->by_time);
  EXPECT_EQ(r->entries_read, raised.size());
  EXPECT_EQ(r->stored, 0u);
  EXPECT_EQ(stored(), static_cast<std::int64_t>(raised.size()));
}

// Review finding 3: with dedup_window 0 the same alert may be raised twice
// in one second; the second, refused by the store, was counted as stored
// because the first (below the mark) was.
TEST_F(AlertLedgerSyncTest, AnIdenticalAlertPastTheMarkIsStoredThoughOneBelowItIs) {
  AlertsConfig no_dedup;
  no_dedup.dedup_window = std::chrono::seconds(0);
  auto p = AlertPipeline::create(no_dedup, ledger, {}).value();
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  const auto first = p->submit({make_alert("r1", 1)}, kNow).value().raised;
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(sync.store(first, EventMarks{}, kNow));
  refuse_alerts();
  const auto again = p->submit({make_alert("r1", 1)}, kNow).value().raised;
  ASSERT_EQ(again.size(), 1u);
  ASSERT_FALSE(sync.store(again, EventMarks{}, kNow));
  take_alerts();
  auto n = sync.store({}, EventMarks{}, kNow);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(stored(first[0]), 2);
}

// Review finding 4: size retention deletes young alerts; a read back by time
// (no usable mark) must not put them back.
TEST_F(AlertLedgerSyncTest, AlertsRetentionDeletedAreNotBroughtBackByAReadBackByTime) {
  auto small = Store::open({.path = dir / "small.db", .retention = {.max_size_bytes = 1}}).value();
  test::Peek small_peek{dir / "small.db"};
  const auto raised = raise({make_alert("r1", 1, Severity::high, kNow - 60)}, kNow - 60);
  AlertLedgerSync sync(*ledger, *small, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  ASSERT_EQ(small_peek.integer("SELECT count(*) FROM alerts"), 1);
  auto deleted = small->enforce_retention(kNow);
  ASSERT_TRUE(deleted) << deleted.error();
  ASSERT_EQ(deleted->alerts_deleted, 1u);  // a young alert, by size
  small_peek.exec("UPDATE alert_ledger SET root = 'another ledger'");  // read back by time
  AlertLedgerSync restarted(*ledger, *small, kMaxAge);
  auto r = restarted.catch_up(kNow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->by_time);
  EXPECT_EQ(r->stored, 0u);
  EXPECT_EQ(small_peek.integer("SELECT count(*) FROM alerts"), 0);
}

// Review finding 4, a store an older agent kept (no mark, no cut): alerts
// older than its oldest scan were deleted by its retention (or never were
// its own) and are not brought back; newer ones the store lacks are.
TEST_F(AlertLedgerSyncTest, WithoutAMarkAlertsOlderThanTheStoresOldestScanAreNotBroughtBack) {
  const auto gone = raise({make_alert("r1", 1, Severity::high, kNow - 600)}, kNow - 600);
  ASSERT_TRUE(store->record_scan({.scan_id = 1, .time = kNow - 300}));
  const auto lost = raise({make_alert("r1", 2, Severity::high, kNow - 200)}, kNow - 200);
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  auto r = sync.catch_up(kNow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->by_time);
  EXPECT_EQ(r->stored, 1u);
  EXPECT_EQ(stored(gone[0]), 0);
  EXPECT_EQ(stored(lost[0]), 1);
}

// Review finding 5: an entry edited in place (same length, so the offsets
// still agree) is not stored: its bytes do not hash to the tree's leaf.
TEST_F(AlertLedgerSyncTest, AnEntryEditedInPlaceIsSkippedAsTampering) {
  const auto raised = raise({make_alert("r1", 1), make_alert("r1", 2)});
  const auto entries = read_text(dir / "ledger" / "entries");
  const auto at = entries.find("proc2");
  ASSERT_NE(at, std::string::npos);
  overwrite(dir / "ledger" / "entries", at, "evil2");
  ASSERT_TRUE(ledger->entry(1));  // readable: only the hash tells
  std::vector<std::string> told;
  AlertLedgerSync sync(*ledger, *store, kMaxAge, [&](std::string_view m) { told.emplace_back(m); });
  auto r = sync.catch_up(kNow);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->stored, 1u);
  EXPECT_EQ(r->skipped, 1u);
  EXPECT_EQ(stored(raised[0]), 1);
  EXPECT_EQ(stored(), 1);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_NE(told[0].find("tampering"), std::string::npos) << told[0];
}

// Review finding 6: an append reported failed whose head reached the disk
// anyway (the head's write or sync failed after the data was written) holds
// alerts no sink got. After a restart they must not go into the store, or
// the dedup window would suppress them for good when raised again.
TEST_F(AlertLedgerSyncTest, AlertsWhoseAppendWasReportedFailedAreKeptOutOfTheStoreAtTheNextStart) {
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  const auto first = raise({make_alert("r1", 1)});
  ASSERT_TRUE(sync.store(first, EventMarks{}, kNow));
  ASSERT_TRUE(sync.append_failed(ledger->size()));
  // What the head on disk counts after the restart (appended here for real).
  const auto unraised = raise({make_alert("r1", 2)}, kNow + 1);
  ASSERT_EQ(store->alerts_not_raised_from().value(), std::optional<std::uint64_t>(1));

  AlertLedgerSync restarted(*ledger, *store, kMaxAge);
  auto r = restarted.catch_up(kNow + 2);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->not_raised, 1u);
  EXPECT_EQ(r->stored, 0u);
  EXPECT_EQ(stored(unraised[0]), 0);
  EXPECT_FALSE(store->alerts_not_raised_from().value());  // dealt with: the note is cleared
  // Raised again by the restarted agent (a new pipeline: its dedup window,
  // read back from the store, does not hold it): stored like any other.
  auto p = AlertPipeline::create(AlertsConfig{}, ledger, {}).value();
  const auto again = p->submit({make_alert("r1", 2)}, kNow + 3).value().raised;
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(restarted.store(again, EventMarks{}, kNow + 3));
  EXPECT_EQ(stored(again[0]), 1);
}

// The failure was before the head (the ledger goes on): alerts appended
// after it were raised, and a later store() clears the note.
TEST_F(AlertLedgerSyncTest, ANoteOfAFailedAppendIsClearedByTheNextAlertsStored) {
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  ASSERT_TRUE(sync.append_failed(ledger->size()));
  const auto raised = raise({make_alert("r1", 1)});
  ASSERT_TRUE(sync.store(raised, EventMarks{}, kNow));
  EXPECT_FALSE(store->alerts_not_raised_from().value());
  peek.exec("DELETE FROM alerts");
  peek.exec("UPDATE alert_ledger SET size = 0, root = '" + ledger::to_hex(ledger->root(0).value()) + "'");
  AlertLedgerSync restarted(*ledger, *store, kMaxAge);
  auto r = restarted.catch_up(kNow + 1);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->not_raised, 0u);
  EXPECT_EQ(stored(raised[0]), 1);
}

// At start, before the catch-up: the rate limit's summaries past the mark,
// with their times, whether or not the catch-up can store them — here one
// older than the retention age, which the catch-up does not bring back (the
// agent must still see that it was told: review of 46080ca, finding 2).
// Plain alerts are not summaries; a summary whose append was reported
// failed (no sink got it) does not count; past the mark nothing is left.
TEST_F(AlertLedgerSyncTest, TheRateLimitsSummariesPastTheMarkAreFoundWhateverTheCatchUpStores) {
  AlertLedgerSync sync(*ledger, *store, kMaxAge);
  ASSERT_TRUE(sync.catch_up(kNow));
  AlertsConfig c;
  c.rate_limit = 1;
  c.sinks = {};
  auto p = AlertPipeline::create(c, ledger, {}).value();
  const auto raised = p->submit({make_alert("r1", 1), make_alert("r1", 2)}, kNow).value().raised;
  ASSERT_EQ(raised.size(), 2u);  // the alert and the summary telling the one held back
  const Alert& summary = raised[1];
  ASSERT_TRUE(sync.append_failed(ledger->size()));
  const auto unraised = p->submit({make_alert("r2", 3), make_alert("r2", 4)}, kNow + 1).value().raised;
  ASSERT_EQ(unraised.size(), 2u);

  AlertLedgerSync restarted(*ledger, *store, kMaxAge);
  auto found = restarted.summaries_past_mark();
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(*found, (std::map<AlertLedgerSync::SummaryKey, std::int64_t>{{{"r1", summary.dedup_key}, kNow}}));
  // Started after the retention age: the catch-up stores none of them.
  auto r = restarted.catch_up(kNow + kMaxAge.count() + 10);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->stored, 0u);
  EXPECT_FALSE(store->alert_raised_at("r1", summary.dedup_key).value().has_value());
  auto after = restarted.summaries_past_mark();
  ASSERT_TRUE(after) << after.error();
  EXPECT_TRUE(after->empty());
}

}  // namespace
}  // namespace airssys::daemoneye
