// The start-up warning of a database.stop_timeout the shipped systemd unit's
// TimeoutStopSec=60s cannot await (stop_budget.hpp), as a pure function of
// the configuration: every case here, without starting an agent.
// daemoneye.agent_startup shows the real agent logs it before
// `agent running:` (docs/daemoneye.md "The agent").

#include "stop_budget.hpp"

#include <gtest/gtest.h>

#include <string>

namespace airssys::daemoneye::agent {
namespace {

using namespace std::chrono_literals;

SinkConfig webhook(std::chrono::milliseconds timeout) {
  return SinkConfig{.type = SinkType::webhook, .url = "http://127.0.0.1:9/hook", .timeout = timeout};
}

// The configuration of the old integration cases: a file sink, then two
// webhooks (the default 5 s and 1.5 s): 6.5 s of the room.
Config with_two_webhooks(std::chrono::milliseconds stop_timeout) {
  Config c;
  c.database.stop_timeout = stop_timeout;
  c.alerts.sinks = {SinkConfig{.type = SinkType::file, .path = "/var/lib/daemoneye/alerts.jsonl"}, webhook(5000ms),
                    webhook(1500ms)};
  return c;
}

Config plain(std::chrono::milliseconds stop_timeout) {
  Config c;
  c.database.stop_timeout = stop_timeout;
  return c;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(StopBudget, TheRoomIs60sLessTheRestOfAStop) {
  EXPECT_EQ(stop_timeout_room(plain(0ms)), 53000ms);  // 60 - 5 (write under way) - 2 (counting)
  Config nats = plain(0ms);
  nats.events.nats = SinkConfig{.type = SinkType::nats, .url = "nats://127.0.0.1:4222"};
  EXPECT_EQ(stop_timeout_room(nats), 48000ms);  // and 5 of the spool's drain
  EXPECT_EQ(webhook_shutdown_time(with_two_webhooks(0ms)), 6500ms);
  EXPECT_EQ(stop_timeout_room(with_two_webhooks(0ms)), 46500ms);
}

TEST(StopBudget, AStopTimeoutThatCutsTheStoringIsWarnedOfInOneLine) {
  const auto w = stop_timeout_warning(plain(54s), true);
  ASSERT_TRUE(w);
  EXPECT_EQ(*w,
            "database.stop_timeout is 54000ms, more than the 53000ms the systemd unit's TimeoutStopSec=60s leaves for "
            "it (the rest of a stop: up to 5s for the store write under way, 2s to count what is given up): at a stop "
            "systemd would SIGKILL the agent before it finishes storing, and the events it loses would not be "
            "counted. Lower database.stop_timeout, or raise TimeoutStopSec in a drop-in (this check assumes the "
            "shipped 60s)");
}

TEST(StopBudget, AStopTimeoutThatFitsOrARunByHandIsNotWarnedOf) {
  EXPECT_FALSE(stop_timeout_warning(plain(53s), true));
  EXPECT_FALSE(stop_timeout_warning(plain(54s), false));
  EXPECT_FALSE(stop_timeout_warning(with_two_webhooks(46500ms), true));
  EXPECT_FALSE(stop_timeout_warning(with_two_webhooks(47s), false));
}

TEST(StopBudget, WithEventsNatsTheSpoolsDrainIsCounted) {
  Config c = plain(48s);
  c.events.nats = SinkConfig{.type = SinkType::nats, .url = "nats://127.0.0.1:4222"};
  EXPECT_FALSE(stop_timeout_warning(c, true));
  c.database.stop_timeout = 48001ms;
  const auto w = stop_timeout_warning(c, true);
  ASSERT_TRUE(w);
  EXPECT_TRUE(has(*w, "more than the 48000ms")) << *w;
  EXPECT_TRUE(has(*w, ", 5s for the events spool to drain)")) << *w;
  EXPECT_TRUE(has(*w, "before it finishes storing")) << *w;
}

// Past the room but within 53 s: only the webhooks' last alerts are at stake.
TEST(StopBudget, WebhookTimeoutsTakeTheirShareAndTheLineSaysOnlyTheirAlertsAreLost) {
  const auto w = stop_timeout_warning(with_two_webhooks(47s), true);
  ASSERT_TRUE(w);
  EXPECT_EQ(*w,
            "database.stop_timeout is 47000ms, more than the 46500ms the systemd unit's TimeoutStopSec=60s leaves for "
            "it (the rest of a stop: up to 5s for the store write under way, 2s to count what is given up, 6500ms for "
            "the webhook sinks' last deliveries, one sink after another (alerts.sinks #2 5000ms, #3 1500ms)): at a "
            "stop systemd would SIGKILL the agent after it has stored everything, while its webhook sinks deliver "
            "their last alerts: the alerts they still hold would not be delivered (they are in the audit ledger, and "
            "no event is lost). Lower database.stop_timeout or the webhook sinks' timeouts, or raise TimeoutStopSec "
            "in a drop-in (this check assumes the shipped 60s)");
  const auto cut = stop_timeout_warning(with_two_webhooks(54s), true);
  ASSERT_TRUE(cut);
  EXPECT_TRUE(has(*cut, "database.stop_timeout is 54000ms, more than the 46500ms")) << *cut;
  EXPECT_TRUE(has(*cut, "(alerts.sinks #2 5000ms, #3 1500ms)): at a stop systemd would SIGKILL the agent before it "
                        "finishes storing"))
      << *cut;
}

// Webhook timeouts that alone exceed the 53 s: even stop_timeout 0 is past
// the room, and lowering it cannot help. Before, the line still said "Lower
// database.stop_timeout".
TEST(StopBudget, WebhookTimeoutsPastTheWholeRoomAreTheOnlyThingNamedToLower) {
  Config c = plain(0ms);
  c.alerts.sinks = {webhook(30s), webhook(30s)};
  ASSERT_LT(stop_timeout_room(c), 0ms);
  for (const auto stop_timeout : {0ms, 20000ms, 53000ms}) {
    c.database.stop_timeout = stop_timeout;
    const auto w = stop_timeout_warning(c, true);
    ASSERT_TRUE(w) << stop_timeout.count();
    EXPECT_TRUE(has(*w, "but the systemd unit's TimeoutStopSec=60s leaves nothing for it")) << *w;
    EXPECT_TRUE(has(*w, "after it has stored everything")) << *w;
    EXPECT_TRUE(has(*w, ". Lower the webhook sinks' timeouts (no stop_timeout leaves room for them), or raise "
                        "TimeoutStopSec in a drop-in"))
        << *w;
    EXPECT_FALSE(has(*w, "Lower database.stop_timeout")) << *w;
  }
  // Past 53 s the storing is cut too: stop_timeout is named, with the most
  // that keeps the storing whole, and the webhooks still.
  c.database.stop_timeout = 53001ms;
  const auto w = stop_timeout_warning(c, true);
  ASSERT_TRUE(w);
  EXPECT_TRUE(has(*w, "before it finishes storing")) << *w;
  EXPECT_TRUE(has(*w, ". Lower database.stop_timeout to at most 53000ms, and the webhook sinks' timeouts (no "
                      "stop_timeout leaves room for them), or raise TimeoutStopSec"))
      << *w;
}

}  // namespace
}  // namespace airssys::daemoneye::agent
