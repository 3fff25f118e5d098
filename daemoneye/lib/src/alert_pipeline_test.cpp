// AlertPipeline end to end with real parts: a real ledger in a temp dir
// (entries read back, verified) and real file sinks. Time is the `now`
// argument, so dedup and rate limiting are deterministic.
#include <airssys/daemoneye/alert_pipeline.hpp>

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
  EXPECT_EQ(out->raised.size(), 4u);  // 3 noisy + 1 quiet
  EXPECT_EQ(out->rate_limited, 2u);

  // Still within the period: nothing more from `noisy`.
  out = p->submit({make_alert("noisy", 6)}, 59);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 0u);
  EXPECT_EQ(out->rate_limited, 1u);

  // pids 4 and 5 were held back, not remembered as raised: they come through
  // when the rule is under its limit again.
  out = p->submit({make_alert("noisy", 4), make_alert("noisy", 5), make_alert("noisy", 6), make_alert("noisy", 7)}, 60);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raised.size(), 3u);
  EXPECT_EQ(out->rate_limited, 1u);
  EXPECT_EQ(out->raised[0].dedup_key, make_alert("noisy", 4).dedup_key);
  EXPECT_EQ(p->stats().rate_limited, 4u);
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
