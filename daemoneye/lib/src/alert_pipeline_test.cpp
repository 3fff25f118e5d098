// AlertPipeline end to end with real parts: a real ledger in a temp dir
// (entries read back, verified) and real file sinks. Time is the `now`
// argument, so dedup and rate limiting are deterministic.
#include <airssys/daemoneye/alert_pipeline.hpp>

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "alert_test_util.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;
using testing::make_alert;
using testing::read_file;
using testing::TempDir;

std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::istringstream in(read_file(p));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

SinkConfig file_sink(const std::filesystem::path& p, Severity min = Severity::low) {
  SinkConfig s;
  s.type = SinkType::file;
  s.path = p;
  s.format = SinkFormat::json;
  s.min_severity = min;
  return s;
}

class Pipeline : public ::testing::Test {
 protected:
  TempDir dir;
  std::vector<std::string> logged;

  std::unique_ptr<AlertPipeline> make(AlertsConfig config, std::shared_ptr<ledger::Ledger> ledger = nullptr) {
    auto p = AlertPipeline::create(config, std::move(ledger), [this](std::string_view m) { logged.emplace_back(m); });
    EXPECT_TRUE(p) << p.error();
    return p ? std::move(*p) : nullptr;
  }

  AlertsConfig with_file_sink() {
    AlertsConfig c;
    c.sinks = {file_sink(dir / "alerts.jsonl")};
    return c;
  }
};

TEST_F(Pipeline, EveryRaisedAlertIsInTheLedgerAndTheLedgerVerifies) {
  std::shared_ptr<ledger::Ledger> ledger = ledger::Ledger::create(dir / "ledger").value();
  auto p = make(with_file_sink(), ledger);
  ASSERT_TRUE(p);
  const std::vector<Alert> alerts{make_alert("r1", 1), make_alert("r1", 2), make_alert("r2", 1, Severity::low)};
  auto out = p->submit(alerts, 1000);
  ASSERT_TRUE(out) << out.error();
  ASSERT_EQ(out->raised.size(), 3u);
  auto again = p->submit({make_alert("r3", 9)}, 1001);
  ASSERT_TRUE(again) << again.error();

  const auto reader = ledger::Ledger::open(dir / "ledger", {.read_only = true}).value();
  ASSERT_EQ(reader->size(), 4u);
  for (std::uint64_t i = 0; i < 3; ++i) {
    const auto bytes = reader->entry(i).value();
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), alert_to_json(alerts[i]));
  }
  const auto bytes = reader->entry(3).value();
  EXPECT_EQ(nlohmann::json::parse(bytes)["rule_id"], "r3");
  const auto report = ledger::verify(dir / "ledger").value();
  EXPECT_TRUE(report.intact) << report.problem;
  EXPECT_EQ(report.size, 4u);

  // The file sink got the same bytes, one line each.
  const auto lines = lines_of(dir / "alerts.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], alert_to_json(alerts[0]));
  EXPECT_EQ(p->stats().raised, 4u);
  EXPECT_EQ(p->stats().sink_errors, 0u);
}

TEST_F(Pipeline, ALedgerThatCannotAppendRaisesNothing) {
  ledger::Ledger::create(dir / "ledger").value().reset();
  std::shared_ptr<ledger::Ledger> read_only = ledger::Ledger::open(dir / "ledger", {.read_only = true}).value();
  auto p = make(with_file_sink(), read_only);
  ASSERT_TRUE(p);
  const auto out = p->submit({make_alert("r1", 1), make_alert("r1", 2)}, 1000);
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().message.starts_with("audit ledger " + (dir / "ledger").string() + ": ")) << out.error().message;
  EXPECT_TRUE(out.error().message.ends_with("; 2 alerts not raised")) << out.error().message;
  EXPECT_EQ(read_file(dir / "alerts.jsonl"), "");  // no sink saw them
  EXPECT_EQ(p->stats().raised, 0u);
}

TEST_F(Pipeline, DedupWindowDrivenByNow) {
  AlertsConfig c = with_file_sink();
  c.dedup_window = 3600s;
  auto p = make(c);
  ASSERT_TRUE(p);
  auto out = p->submit({make_alert("r", 1), make_alert("r", 1), make_alert("r", 2)}, 0);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 2u);  // the second pid 1 in the same batch is a duplicate
  EXPECT_EQ(out->deduplicated, 1u);

  out = p->submit({make_alert("r", 1), make_alert("r", 2), make_alert("r", 3)}, 3599);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->raised.size(), 1u);
  EXPECT_EQ(out->raised[0].dedup_key, make_alert("r", 3).dedup_key);
  EXPECT_EQ(out->deduplicated, 2u);

  out = p->submit({make_alert("r", 1), make_alert("r", 3)}, 3600);  // pid 1's window is over; pid 3's is not
  ASSERT_TRUE(out);
  ASSERT_EQ(out->raised.size(), 1u);
  EXPECT_EQ(out->raised[0].dedup_key, make_alert("r", 1).dedup_key);
  const AlertStats s = p->stats();
  EXPECT_EQ(s.raised, 4u);
  EXPECT_EQ(s.deduplicated, 4u);
  EXPECT_EQ(lines_of(dir / "alerts.jsonl").size(), 4u);
}

TEST_F(Pipeline, RememberedKeysAreNotRaisedAgainWithinTheirWindow) {
  AlertsConfig c = with_file_sink();
  c.dedup_window = 3600s;
  auto p = make(c);
  ASSERT_TRUE(p);
  // Raised by an earlier agent run at t=100 (pid 1) and t=200 (pid 2).
  p->remember(make_alert("r", 1).dedup_key, 100);
  p->remember(make_alert("r", 2).dedup_key, 200);
  auto out = p->submit({make_alert("r", 1), make_alert("r", 2), make_alert("r", 3)}, 300);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->raised.size(), 1u);
  EXPECT_EQ(out->raised[0].dedup_key, make_alert("r", 3).dedup_key);
  out = p->submit({make_alert("r", 1), make_alert("r", 2)}, 3700);  // pid 1's window (from 100) is over
  ASSERT_TRUE(out);
  ASSERT_EQ(out->raised.size(), 1u);
  EXPECT_EQ(out->raised[0].dedup_key, make_alert("r", 1).dedup_key);
  EXPECT_EQ(lines_of(dir / "alerts.jsonl").size(), 2u);  // remember() itself wrote nothing
}

TEST_F(Pipeline, ZeroDedupWindowRaisesEveryTime) {
  AlertsConfig c = with_file_sink();
  c.dedup_window = 0s;
  auto p = make(c);
  ASSERT_TRUE(p);
  for (int t = 0; t < 3; ++t) {
    auto out = p->submit({make_alert("r", 1)}, t);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->raised.size(), 1u);
  }
}

TEST_F(Pipeline, RateLimitPerRuleDrivenByNow) {
  AlertsConfig c = with_file_sink();
  c.rate_limit = 3;
  c.rate_period = 60s;
  auto p = make(c);
  ASSERT_TRUE(p);
  std::vector<Alert> batch;
  for (int pid = 1; pid <= 5; ++pid) batch.push_back(make_alert("noisy", pid));
  batch.push_back(make_alert("quiet", 1));
  auto out = p->submit(batch, 0);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 5u);  // 3 noisy + 1 quiet + the summary of the 2 held back
  EXPECT_EQ(out->summaries, 1u);
  EXPECT_EQ(out->rate_limited, 2u);
  EXPECT_EQ(out->raised.back().rule_name, "rate limit reached for rule noisy: 2 alerts suppressed");

  // Still within the period: nothing more from `noisy`, and its next summary
  // waits for the period's end.
  out = p->submit({make_alert("noisy", 6)}, 59);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 0u);
  EXPECT_EQ(out->rate_limited, 1u);
  EXPECT_TRUE(p->holds_back());

  // pids 4 and 5 were held back, not remembered as raised: they come through
  // when the rule is under its limit again; pid 6 (at 59) and 7 are told.
  out = p->submit({make_alert("noisy", 4), make_alert("noisy", 5), make_alert("noisy", 6), make_alert("noisy", 7)}, 60);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 4u);
  EXPECT_EQ(out->summaries, 1u);
  EXPECT_EQ(out->rate_limited, 1u);
  EXPECT_EQ(out->raised[0].dedup_key, make_alert("noisy", 4).dedup_key);
  EXPECT_EQ(out->raised.back().rule_name, "rate limit reached for rule noisy: 2 alerts suppressed");
  EXPECT_FALSE(p->holds_back());
  EXPECT_EQ(p->stats().rate_limited, 4u);
}

// 100 decoys that differ only in a number, then the one that matters: the
// summary raised at once names it among its sample, with the range of event
// ids held back; the summaries reach the ledger and the sinks, and a stop
// tells what is still held back.
TEST_F(Pipeline, HeldBackAlertsAreToldWithASampleThatDecoysCannotFill) {
  std::shared_ptr<ledger::Ledger> ledger = ledger::Ledger::create(dir / "ledger").value();
  AlertsConfig c = with_file_sink();
  c.rate_limit = 3;
  c.rate_period = 60s;
  auto p = make(c, ledger);
  ASSERT_TRUE(p);
  const auto event = [](int id, const std::string& cmdline) {
    Alert a = make_alert("dev-tcp", 4000 + id);
    a.row_json = nlohmann::json{{"pid", 4000 + id}, {"cmdline", cmdline}, {"event_id", id}}.dump();
    a.dedup_key = "dev-tcp|event_id=" + std::to_string(id);
    return a;
  };
  std::vector<Alert> batch;
  for (int i = 1; i <= 100; ++i) batch.push_back(event(i, "bash -c : decoy" + std::to_string(i) + " /dev/tcp/10.0.0.1/1"));
  batch.push_back(event(101, "bash -c : REAL-ATTACK /dev/tcp/10.6.6.6/4444"));
  auto out = p->submit(batch, 1000);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->rate_limited, 98u);
  ASSERT_EQ(out->summaries, 1u);
  ASSERT_EQ(out->raised.size(), 4u);
  const Alert summary = out->raised.back();
  EXPECT_EQ(summary.rule_id, "dev-tcp");
  EXPECT_EQ(summary.rule_name, "rate limit reached for rule dev-tcp: 98 alerts suppressed");
  EXPECT_NE(std::ranges::find(summary.tags, "daemoneye.rate_limited"), summary.tags.end());
  const auto row = nlohmann::json::parse(summary.row_json);
  EXPECT_EQ(row["rate_limited"], 98);
  EXPECT_EQ(row["first_event_id"], 4);
  EXPECT_EQ(row["last_event_id"], 101);
  ASSERT_EQ(row["sample"].size(), 2u);  // one decoy (they differ only in digits) and the real one
  EXPECT_EQ(row["sample"][1]["cmdline"], "bash -c : REAL-ATTACK /dev/tcp/10.6.6.6/4444");
  EXPECT_EQ(row["sample_left_out"], 96);
  EXPECT_EQ(ledger->size(), 4u);
  EXPECT_EQ(lines_of(dir / "alerts.jsonl").size(), 4u);

  // More held back within the period: told at the stop.
  out = p->submit({event(102, "bash -c : decoy102 /dev/tcp/10.0.0.1/1")}, 1001);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 0u);
  ASSERT_TRUE(p->holds_back());
  out = p->tell_held_back(1002);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->summaries, 1u);
  EXPECT_EQ(out->raised.back().rule_name, "rate limit reached for rule dev-tcp: 1 alert suppressed");
  EXPECT_NE(out->raised.back().dedup_key, summary.dedup_key);
  EXPECT_FALSE(p->holds_back());
  EXPECT_EQ(ledger->size(), 5u);
}

// An alert of rule dev-tcp for process event `id`.
Alert decoy_event(int id) {
  Alert a = make_alert("dev-tcp", 4000 + id);
  a.row_json = nlohmann::json{{"pid", 4000 + id}, {"cmdline", "decoy"}, {"event_id", id}}.dump();
  a.dedup_key = "dev-tcp|event_id=" + std::to_string(id);
  return a;
}

// What the rate limit holds back is kept as text (held_state: the agent
// stores it with the Sigma marks); a new pipeline given it — an agent
// started again after a SIGKILL — tells it, with the same count, event ids
// and dedup key the killed one's summary would have had; one whose summary
// was raised already (found by that key) tells nothing.
TEST_F(Pipeline, WhatIsHeldBackIsToldAfterARestartOnce) {
  AlertsConfig c = with_file_sink();
  c.rate_limit = 1;
  c.rate_period = 1h;
  const auto event = decoy_event;
  auto killed = make(c);
  ASSERT_TRUE(killed);
  ASSERT_TRUE(killed->submit({event(1), event(2)}, 1000));  // one raised, one told at once
  EXPECT_TRUE(killed->held_state().empty());
  ASSERT_TRUE(killed->submit({event(3), event(4), event(5)}, 1001));  // held within the period
  const auto saved = killed->held_state();
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_TRUE(saved.contains("dev-tcp"));

  auto restarted = make(c);
  ASSERT_TRUE(restarted);
  std::vector<std::string> asked;
  const HeldRestore r = restarted->restore_held_back(saved, [&](const std::string& rule, const std::string& key) {
    asked.push_back(rule + " " + key);
    return std::optional<std::int64_t>();
  });
  EXPECT_EQ(r.restored, 1u);
  EXPECT_TRUE(r.unreadable.empty());
  ASSERT_TRUE(restarted->holds_back());
  auto told = restarted->tell_held_back(2000);
  ASSERT_TRUE(told);
  ASSERT_EQ(told->summaries, 1u);
  const auto row = nlohmann::json::parse(told->raised.back().row_json);
  EXPECT_EQ(row["rate_limited"], 3);
  EXPECT_EQ(row["first_event_id"], 3);
  EXPECT_EQ(row["last_event_id"], 5);
  EXPECT_EQ(row["first_time"], 1001);
  EXPECT_FALSE(restarted->holds_back());
  EXPECT_TRUE(restarted->held_state().empty());
  // The key asked about is the one the summary carries, and the one the
  // killed pipeline would have raised.
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], "dev-tcp " + told->raised.back().dedup_key);
  auto would = killed->tell_held_back(1002);
  ASSERT_TRUE(would);
  EXPECT_EQ(would->raised.back().dedup_key, told->raised.back().dedup_key);

  // Raised before the kill: not told again.
  auto again = make(c);
  ASSERT_TRUE(again);
  const HeldRestore r2 = again->restore_held_back(
      saved, [](const std::string&, const std::string&) { return std::optional<std::int64_t>(1002); });
  EXPECT_EQ(r2.restored, 0u);
  EXPECT_EQ(r2.told_already, 1u);
  EXPECT_FALSE(again->holds_back());
  // A text that cannot be read is named, not told.
  auto damaged = make(c);
  ASSERT_TRUE(damaged);
  const HeldRestore r3 = damaged->restore_held_back({{"dev-tcp", HeldText("{\"count\": 3}")}}, {});
  EXPECT_EQ(r3.unreadable, std::vector<std::string>{"dev-tcp"});
  EXPECT_FALSE(damaged->holds_back());
}

// A rule whose summary was raised before the kill (found by its dedup key,
// with its time) keeps its outage: what is held back within that summary's
// period waits for the period's next summary, as without the kill, and that
// summary is the one the killed pipeline would have raised. Before, the rule
// was forgotten: the next alert held back started a new outage and was told
// at once (one summary more; review of 46080ca, finding 3).
TEST_F(Pipeline, ARuleToldBeforeTheKillKeepsItsOutage) {
  AlertsConfig c = with_file_sink();
  c.rate_limit = 1;
  c.rate_period = 1h;
  auto killed = make(c);
  ASSERT_TRUE(killed);
  ASSERT_TRUE(killed->submit({decoy_event(1), decoy_event(2)}, 1000));  // one raised, one told at once
  ASSERT_TRUE(killed->submit({decoy_event(3), decoy_event(4)}, 1001));  // held within the period
  const HeldTexts saved = killed->held_state();  // what the store holds at the kill
  // The period's summary reaches the ledger; the kill comes before the store takes it.
  auto told = killed->submit({}, 4600);
  ASSERT_TRUE(told);
  ASSERT_EQ(told->summaries, 1u);
  const Alert summary = told->raised.back();

  auto restarted = make(c);
  ASSERT_TRUE(restarted);
  const HeldRestore r = restarted->restore_held_back(saved, [&](const std::string& rule, const std::string& key) {
    return rule == summary.rule_id && key == summary.dedup_key ? std::optional(summary.time) : std::nullopt;
  });
  EXPECT_EQ(r.told_already, 1u);
  EXPECT_EQ(r.restored, 0u);
  EXPECT_FALSE(restarted->holds_back());
  EXPECT_TRUE(restarted->held_state().empty());
  // Within that summary's period: one raised (the restarted limit is
  // fresh), one held back and not told yet.
  auto within = restarted->submit({decoy_event(5), decoy_event(6)}, 4660);
  ASSERT_TRUE(within);
  EXPECT_EQ(within->rate_limited, 1u);
  EXPECT_EQ(within->summaries, 0u) << "told at once, as a new outage";
  EXPECT_TRUE(restarted->holds_back());
  auto next = restarted->submit({}, 8200);
  ASSERT_TRUE(next);
  ASSERT_EQ(next->summaries, 1u);
  const auto row = nlohmann::json::parse(next->raised.back().row_json);
  EXPECT_EQ(row["rate_limited"], 1);
  EXPECT_EQ(row["first_event_id"], 6);
  // The killed pipeline, given the same alerts, raises the same summary.
  ASSERT_TRUE(killed->submit({decoy_event(5), decoy_event(6)}, 4660));
  auto would = killed->submit({}, 8200);
  ASSERT_TRUE(would);
  ASSERT_EQ(would->summaries, 1u);
  EXPECT_EQ(would->raised.back().dedup_key, next->raised.back().dedup_key);
}

// The ledger's tree head (severity low) reaches the sinks whose
// min_severity is `low`, not one set higher (a paging sink at `high` gets no
// `low` record every 10 minutes: review finding 2), and is not appended to
// the ledger it describes.
TEST_F(Pipeline, TheTreeHeadGoesToTheLowSinksAndNotIntoTheLedger) {
  std::shared_ptr<ledger::Ledger> ledger = ledger::Ledger::create(dir / "ledger").value();
  AlertsConfig c;
  c.sinks = {file_sink(dir / "paging.jsonl", Severity::high), file_sink(dir / "alerts.jsonl", Severity::low)};
  auto p = make(c, ledger);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->submit({make_alert("r", 1, Severity::medium), make_alert("r", 2, Severity::medium)}, 1000));
  EXPECT_EQ(lines_of(dir / "paging.jsonl").size(), 0u);  // below the sink's min_severity
  EXPECT_EQ(lines_of(dir / "alerts.jsonl").size(), 2u);
  EXPECT_EQ(p->publish_tree_head(1001, "host-1"), 2u);
  EXPECT_EQ(ledger->size(), 2u);
  EXPECT_EQ(lines_of(dir / "paging.jsonl").size(), 0u);  // nor the tree head
  auto lines = lines_of(dir / "alerts.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  lines.erase(lines.begin(), lines.begin() + 2);
  ASSERT_EQ(lines.size(), 1u);
  const auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["rule_id"], "daemoneye.ledger");
  EXPECT_EQ(j["tags"], nlohmann::json::array({"daemoneye.ledger_tree_head"}));
  EXPECT_EQ(j["row"]["ledger_size"], 2);
  std::string root;
  for (const std::uint8_t b : ledger->root()) root += fmt::format("{:02x}", b);
  EXPECT_EQ(j["row"]["root"], root);
  EXPECT_EQ(j["row"]["ledger_dir"], (dir / "ledger").string());
  EXPECT_EQ(p->stats().raised, 2u);  // not counted as an alert
}

// Memory stays bounded: however many rows are held back, a summary keeps at
// most HeldAlerts::kSampleMax of them.
TEST_F(Pipeline, TheSampleIsBounded) {
  AlertsConfig c = with_file_sink();
  c.rate_limit = 1;
  auto p = make(c);
  ASSERT_TRUE(p);
  std::vector<Alert> batch;
  for (int i = 0; i < 5000; ++i) {
    Alert a = make_alert("r", i);
    a.row_json = nlohmann::json{{"cmdline", std::string(1 + i % 50, 'x')}}.dump();
    batch.push_back(std::move(a));
  }
  auto out = p->submit(batch, 0);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->summaries, 1u);
  const auto row = nlohmann::json::parse(out->raised.back().row_json);
  EXPECT_EQ(row["sample"].size(), 8u);
  EXPECT_EQ(row["rate_limited"], 4999);
}

// Review finding 4: the summary is bounded in bytes, not rows: 8 rows with a
// 128 KiB cmdline each are cut (each string to kSampleStringMax bytes, at a
// UTF-8 character's start, marked), far below a bus message's 1 MiB.
TEST_F(Pipeline, TheSampleIsBoundedInBytes) {
  AlertsConfig c = with_file_sink();
  c.rate_limit = 1;
  auto p = make(c);
  ASSERT_TRUE(p);
  std::vector<Alert> batch;
  for (int i = 0; i < 20; ++i) {
    Alert a = make_alert("r", i);
    std::string cmdline = std::string(static_cast<std::size_t>(i), 'a') + "x";  // a distinct shape each
    while (cmdline.size() < 128 * 1024) cmdline += "é";                         // two bytes each
    a.row_json = nlohmann::json{{"cmdline", cmdline}}.dump();
    batch.push_back(std::move(a));
  }
  auto out = p->submit(batch, 0);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->summaries, 1u);
  const std::string& summary = out->raised.back().row_json;
  EXPECT_LT(summary.size(), 64u * 1024u);
  const auto row = nlohmann::json::parse(summary);  // valid UTF-8 after the cuts
  ASSERT_EQ(row["sample"].size(), 8u);
  for (const auto& s : row["sample"]) {
    const auto cmdline = s["cmdline"].get<std::string>();
    EXPECT_LE(cmdline.size(), 1100u);
    EXPECT_NE(cmdline.find("bytes cut]"), std::string::npos) << cmdline.substr(0, 80);
  }
}

// A ledger that refuses the batch keeps the held-back state: the next scan's
// submit tells it.
TEST_F(Pipeline, HeldBackAlertsOfABatchTheLedgerRefusedAreNotCounted) {
  ledger::Ledger::create(dir / "ledger").value().reset();
  std::shared_ptr<ledger::Ledger> read_only = ledger::Ledger::open(dir / "ledger", {.read_only = true}).value();
  AlertsConfig c = with_file_sink();
  c.rate_limit = 1;
  auto p = make(c, read_only);
  ASSERT_TRUE(p);
  // Not raised: the caller submits the same candidates again (the Sigma
  // marks go back), so what was held back in it is not kept either.
  ASSERT_FALSE(p->submit({make_alert("r", 1), make_alert("r", 2)}, 0));
  EXPECT_FALSE(p->holds_back());
}

TEST_F(Pipeline, RateLimitZeroIsUnlimited) {
  AlertsConfig c = with_file_sink();
  c.rate_limit = 0;
  auto p = make(c);
  ASSERT_TRUE(p);
  std::vector<Alert> batch;
  for (int pid = 1; pid <= 500; ++pid) batch.push_back(make_alert("r", pid));
  auto out = p->submit(batch, 0);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 500u);
}

TEST_F(Pipeline, EachSinkGetsAlertsAtOrAboveItsMinSeverity) {
  AlertsConfig c;
  c.sinks = {file_sink(dir / "all.jsonl"), file_sink(dir / "high.jsonl", Severity::high)};
  auto p = make(c);
  ASSERT_TRUE(p);
  auto out = p->submit({make_alert("a", 1, Severity::low), make_alert("b", 1, Severity::medium),
                        make_alert("c", 1, Severity::high), make_alert("d", 1, Severity::critical)},
                       0);
  ASSERT_TRUE(out);
  EXPECT_EQ(lines_of(dir / "all.jsonl").size(), 4u);
  const auto high = lines_of(dir / "high.jsonl");
  ASSERT_EQ(high.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(high[0])["rule_id"], "c");
  EXPECT_EQ(nlohmann::json::parse(high[1])["rule_id"], "d");
}

TEST_F(Pipeline, NoSinksIsAllowed) {
  AlertsConfig c;
  c.sinks.clear();
  auto p = make(c);
  ASSERT_TRUE(p);
  auto out = p->submit({make_alert("a", 1)}, 0);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 1u);
}

TEST_F(Pipeline, ASinkThatCannotOpenFailsCreateNamingIt) {
  AlertsConfig c;
  std::filesystem::create_directory(dir / "adir");
  c.sinks = {SinkConfig{}, file_sink(dir / "adir")};
  const auto p = AlertPipeline::create(c, nullptr, nullptr);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message, "alerts.sinks #2: file sink: cannot open " + (dir / "adir").string() + ": Is a directory");
}

}  // namespace
}  // namespace airssys::daemoneye
