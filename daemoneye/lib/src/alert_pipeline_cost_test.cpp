// What one AlertPipeline::submit costs follows what it changes, not what
// every rule holds back: 200 rules each hold a full sample (about 64 KiB)
// and one more alert of one rule is held back. Before, submit copied the
// whole held-back state (every rule's sample and its shapes: 26 MB
// allocated by that one submit) to prepare its summaries; now it reads
// them and copies none.
//
// Measured as bytes allocated through operator new during the submit (this
// binary replaces it to count): no timing, the same on a slow machine.
#include <airssys/daemoneye/alert_pipeline.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "alert_test_util.hpp"

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

TEST(AlertPipelineCost, ASubmitDoesNotCopyWhatEveryRuleHoldsBack) {
  AlertsConfig c;
  c.rate_limit = 1;
  c.rate_period = 1h;
  c.dedup_window = 0s;
  c.sinks = {};  // not the default stdout sink: 200 summaries of 64 KiB
  auto p = AlertPipeline::create(c, nullptr, {});
  ASSERT_TRUE(p) << p.error();
  constexpr int kRules = 200;
  // Each rule: one alert raised, one held back (told at once: the outage
  // starts), then eight held back within the period, kept as its sample.
  std::vector<Alert> batch;
  for (int r = 0; r < kRules; ++r) {
    batch.push_back(wide(fmt::format("rule{}", r), 0));
    batch.push_back(wide(fmt::format("rule{}", r), 1));
  }
  ASSERT_TRUE((*p)->submit(batch, 1000));
  batch.clear();
  for (int r = 0; r < kRules; ++r)
    for (int n = 2; n < 10; ++n) batch.push_back(wide(fmt::format("rule{}", r), n));
  auto held = (*p)->submit(batch, 1001);
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

}  // namespace
}  // namespace airssys::daemoneye
