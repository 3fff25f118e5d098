// What one AlertPipeline::submit costs follows what it changes, not what
// every rule holds back: 200 rules each hold a full sample (about 64 KiB)
// and one more alert of one rule is held back. Before, submit copied the
// whole held-back state (every rule's sample and its shapes: 26 MB
// allocated by that one submit) to prepare its summaries; now it reads
// them and copies none.
//
// The same for a whole scan (AScanDoesNotCopyWhatEveryRuleHoldsBack): the
// submit, the agent taking the held-back state into its marks and the store
// writing it with them (review of 46080ca, finding 1).
//
// Measured as bytes allocated through operator new during the submit or the
// scan (this binary replaces it to count; SQLite's own allocations are not
// counted): no timing, the same on a slow machine.
#include <airssys/daemoneye/alert_ledger_sync.hpp>
#include <airssys/daemoneye/alert_pipeline.hpp>
#include <airssys/daemoneye/store.hpp>

#include <airssys/ledger/ledger.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "alert_test_util.hpp"
#include "store_test_util.hpp"

namespace {
std::atomic<std::uint64_t> g_allocated{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocated.fetch_add(n, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;
using testing::make_alert;

// A row of eight 1 KiB strings: eight of them fill a sample's 64 KiB.
Alert wide(const std::string& rule, int n) {
  Alert a = make_alert(rule, 1000 + n);
  nlohmann::json row{{"pid", 1000 + n}, {"event_id", n}};
  for (int f = 0; f < 8; ++f) row[fmt::format("f{}", f)] = std::string(1000, static_cast<char>('a' + (n + f) % 26));
  a.row_json = row.dump();
  a.dedup_key = fmt::format("{}|event_id={}", rule, n);
  return a;
}

constexpr int kRules = 200;

AlertsConfig flood_config() {
  AlertsConfig c;
  c.rate_limit = 1;
  c.rate_period = 1h;
  c.dedup_window = 0s;
  c.sinks = {};  // not the default stdout sink: 200 summaries of 64 KiB
  return c;
}

// What fills the held-back state: each rule one alert raised, one held
// back (told at once: the outage starts), then eight held back within the
// period, kept as its sample (about 64 KiB).
std::vector<std::vector<Alert>> flood_batches() {
  std::vector<std::vector<Alert>> out(2);
  for (int r = 0; r < kRules; ++r) {
    out[0].push_back(wide(fmt::format("rule{}", r), 0));
    out[0].push_back(wide(fmt::format("rule{}", r), 1));
    for (int n = 2; n < 10; ++n) out[1].push_back(wide(fmt::format("rule{}", r), n));
  }
  return out;
}

TEST(AlertPipelineCost, ASubmitDoesNotCopyWhatEveryRuleHoldsBack) {
  auto p = AlertPipeline::create(flood_config(), nullptr, {});
  ASSERT_TRUE(p) << p.error();
  auto batches = flood_batches();
  ASSERT_TRUE((*p)->submit(batches[0], 1000));
  auto held = (*p)->submit(batches[1], 1001);
  ASSERT_TRUE(held);
  ASSERT_EQ(held->rate_limited, kRules * 8u);
  ASSERT_TRUE((*p)->holds_back());

  const Alert one = wide("rule7", 10);
  const std::uint64_t before = g_allocated.load();
  auto out = (*p)->submit({one}, 1002);
  const std::uint64_t allocated = g_allocated.load() - before;
  ASSERT_TRUE(out);
  EXPECT_EQ(out->rate_limited, 1u);
  EXPECT_TRUE(out->raised.empty());
  // The held-back state is about kRules * 2 * 64 KiB (26 MB); what the submit
  // allocates is about one rule's (its sample, written out once for the
  // store: EventMarks::held) and the alert's.
  EXPECT_LT(allocated, 1u << 20) << allocated << " bytes allocated by one submit";

  // Nothing lost on the way: the stop tells all of it.
  auto told = (*p)->tell_held_back(1003);
  ASSERT_TRUE(told);
  ASSERT_EQ(told->summaries, static_cast<std::size_t>(kRules));
  std::uint64_t counted = 0;
  for (const Alert& a : told->raised) counted += nlohmann::json::parse(a.row_json)["rate_limited"].get<std::uint64_t>();
  EXPECT_EQ(counted, kRules * 8u + 1);
}

// A scan as the agent runs it (agent.cpp run_and_raise): the submit, the
// held-back state taken into the marks when it changed, the marks and the
// scan's alerts stored when they moved (AlertLedgerSync::store, the store's
// held_alerts), the stored marks remembered. Before, the agent copied every
// rule's text into its marks and again into the marks it remembers, and the
// store compared each with the one it held and kept a copy of them all:
// about 40 MB allocated by a scan that held back one more alert. Now a
// rule's text is shared (HeldText): the scan allocates the changed rule's
// new text and a few nodes per rule.
TEST(AlertPipelineCost, AScanDoesNotCopyWhatEveryRuleHoldsBack) {
  test::TempDir dir;
  std::shared_ptr<ledger::Ledger> ledger = ledger::Ledger::create(dir / "ledger").value();
  std::unique_ptr<Store> store = Store::open({.path = dir / "de.db"}).value();
  AlertLedgerSync sync(*ledger, *store, 0s);
  ASSERT_TRUE(sync.catch_up(1000));
  auto p = AlertPipeline::create(flood_config(), ledger, {});
  ASSERT_TRUE(p) << p.error();
  EventMarks marks, saved_marks;
  std::size_t stores = 0;
  const auto scan = [&](std::vector<Alert> candidates, std::int64_t now) {
    auto out = (*p)->submit(std::move(candidates), now);
    ASSERT_TRUE(out) << out.error();
    if (marks.held != (*p)->held_state()) marks.held = (*p)->held_state();
    if (!out->raised.empty() || marks != saved_marks || sync.behind()) {
      auto r = sync.store(out->raised, marks, now);
      ASSERT_TRUE(r) << r.error();
      saved_marks = marks;
      ++stores;
    }
  };
  auto batches = flood_batches();
  scan(batches[0], 1000);
  scan(batches[1], 1001);
  ASSERT_EQ(marks.held.size(), static_cast<std::size_t>(kRules));

  // One more alert held back: the rule's state changes, and is stored.
  std::uint64_t before = g_allocated.load();
  const std::size_t stores_before = stores;
  scan({wide("rule7", 10)}, 1002);
  std::uint64_t allocated = g_allocated.load() - before;
  EXPECT_EQ(stores, stores_before + 1);
  RecordProperty("bytes_scan_one_more_held", std::to_string(allocated));  // in --gtest_output=xml
  EXPECT_LT(allocated, 1u << 20) << allocated << " bytes allocated by a scan that held back one alert more";

  // A scan that holds nothing more back (nothing due): nothing is stored,
  // and nothing of the held-back state is copied.
  before = g_allocated.load();
  scan({}, 1003);
  allocated = g_allocated.load() - before;
  EXPECT_EQ(stores, stores_before + 1);
  RecordProperty("bytes_scan_unchanged", std::to_string(allocated));
  EXPECT_LT(allocated, 64u << 10) << allocated << " bytes allocated by a scan that changed nothing";

  // What the store holds is what the pipeline holds (the changed rule was
  // written, the others kept).
  auto back = Store::open({.path = dir / "de.db"}).value()->event_marks();
  ASSERT_TRUE(back) << back.error();
  EXPECT_TRUE(back->held == (*p)->held_state());
  EXPECT_NE(back->held.at("rule7").text().find("\"count\":9"), std::string::npos);
}

}  // namespace
}  // namespace airssys::daemoneye
