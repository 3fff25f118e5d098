// System::metrics() and to_prometheus(), driven by real operations on real
// temporary files: counts and outcomes agree exactly with the activity
// records, histograms are consistent, the text follows the exposition format,
// and concurrent operations lose no count.

#include <airssys/osl/metrics.hpp>

#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "../../tests/test_support.hpp"
#include "core/op_metrics.hpp"

namespace airssys::osl {
namespace {

using test::TempDir;

TEST(LatencyBucket, FirstBoundAtOrAboveTheDuration) {
  struct Case {
    std::int64_t ns;
    std::size_t bucket;
  };
  const Case cases[] = {
      {-5, 0},          {0, 0},          {1, 0},          {1000, 0},       {1001, 1},
      {2000, 1},        {2001, 2},       {4000, 2},       {4001, 3},       {1'000'000, 10},
      {1'024'000, 10},  {1'024'001, 11}, {16'777'216'000, 24},           {16'777'216'001, kLatencyBucketCount},
      {INT64_MAX, kLatencyBucketCount},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(detail::latency_bucket(c.ns), c.bucket) << c.ns << " ns";
    if (c.bucket < kLatencyBucketCount) {
      EXPECT_LE(static_cast<std::uint64_t>(std::max<std::int64_t>(c.ns, 0)), latency_bucket_bound_ns(c.bucket));
    }
    if (c.bucket > 0) {
      EXPECT_GT(static_cast<std::uint64_t>(c.ns), latency_bucket_bound_ns(c.bucket - 1));
    }
  }
}

// ---- a line-by-line reader of the Prometheus text format -------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses every line or records why it is not valid exposition text.
struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;  // family → type
  std::vector<std::string> errors;
};

double parse_value(const std::string& v, bool& ok) {
  if (v == "+Inf") return HUGE_VAL;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  ok = !v.empty() && end == v.c_str() + v.size();
  return d;
}

Exposition parse_exposition(const std::string& text) {
  Exposition e;
  if (!text.empty() && text.back() != '\n') e.errors.push_back("text does not end in a newline");
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+))");
  static const std::regex label(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)\"(,|$))");
  std::istringstream in(text);
  std::string line, family, seen_help;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      seen_help = m[1];
      continue;
    }
    if (std::regex_match(line, m, type)) {
      family = m[1];
      if (seen_help != family) e.errors.push_back("TYPE without its HELP just before: " + line);
      if (!e.types.emplace(family, m[2]).second) e.errors.push_back("second TYPE for " + family);
      continue;
    }
    if (!std::regex_match(line, m, sample)) {
      e.errors.push_back("not a sample line: " + line);
      continue;
    }
    Sample s{.name = m[1], .labels = {}, .value = 0};
    const std::string name = s.name;
    const std::string& t = e.types[family];
    const bool in_family = name == family || (t == "histogram" && (name == family + "_bucket" ||
                                                                   name == family + "_sum" || name == family + "_count"));
    if (family.empty() || !in_family) e.errors.push_back("sample outside its family's TYPE: " + line);
    std::string labels = m[3];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label); it != std::sregex_iterator(); ++it) {
      if (!s.labels.emplace((*it)[1], (*it)[2]).second) e.errors.push_back("label twice: " + line);
    }
    std::string rebuilt;
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label); it != std::sregex_iterator(); ++it) {
      rebuilt += it->str();
    }
    if (rebuilt != labels) e.errors.push_back("malformed labels: " + line);
    bool ok = true;
    s.value = parse_value(m[4], ok);
    if (!ok) e.errors.push_back("bad value: " + line);
    e.samples.push_back(std::move(s));
  }
  return e;
}

// Checks the rules of one histogram series and that it matches the snapshot.
void expect_series_matches(const Exposition& e, const OperationMetrics& m) {
  const std::string op(to_string(m.op)), outcome(to_string(m.outcome));
  SCOPED_TRACE(op + "/" + outcome);
  auto is = [&](const Sample& s) { return s.labels.at("op") == op && s.labels.at("outcome") == outcome; };
  std::vector<const Sample*> buckets;
  const Sample *total = nullptr, *sum = nullptr, *count = nullptr;
  for (const Sample& s : e.samples) {
    if (!is(s)) continue;
    if (s.name == "airssys_osl_operations_total") total = &s;
    if (s.name == "airssys_osl_operation_duration_seconds_bucket") buckets.push_back(&s);
    if (s.name == "airssys_osl_operation_duration_seconds_sum") sum = &s;
    if (s.name == "airssys_osl_operation_duration_seconds_count") count = &s;
  }
  ASSERT_TRUE(total && sum && count);
  ASSERT_EQ(buckets.size(), kLatencyBucketCount + 1);
  EXPECT_EQ(total->value, static_cast<double>(m.count));
  EXPECT_EQ(count->value, static_cast<double>(m.count));
  EXPECT_EQ(buckets.back()->labels.at("le"), "+Inf");
  EXPECT_EQ(buckets.back()->value, count->value) << "+Inf bucket equals _count";
  EXPECT_NEAR(sum->value, static_cast<double>(m.sum_ns) / 1e9, 1e-9 * static_cast<double>(m.count) + 1e-12);
  double prev_le = 0, prev_value = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    bool ok = true;
    const double le = parse_value(buckets[i]->labels.at("le"), ok);
    ASSERT_TRUE(ok) << buckets[i]->labels.at("le");
    EXPECT_GT(le, prev_le) << "le strictly increasing";
    EXPECT_GE(buckets[i]->value, prev_value) << "buckets cumulative";
    EXPECT_EQ(buckets[i]->value, static_cast<double>(m.cumulative_buckets[i]));
    if (i < kLatencyBucketCount) {
      EXPECT_DOUBLE_EQ(le, static_cast<double>(latency_bucket_bound_ns(i)) / 1e9);
    }
    prev_le = le;
    prev_value = buckets[i]->value;
  }
}

void expect_histogram_consistent(const OperationMetrics& m) {
  EXPECT_EQ(m.cumulative_buckets.back(), m.count) << to_string(m.op) << "/" << to_string(m.outcome);
  for (std::size_t i = 1; i < m.cumulative_buckets.size(); ++i) {
    EXPECT_LE(m.cumulative_buckets[i - 1], m.cumulative_buckets[i]) << "bucket " << i;
  }
}

// ---- real operations --------------------------------------------------------

class Metrics : public test::WorkDirSystem {
 protected:
  void SetUp() override {
    WorkDirSystem::SetUp();
    std::filesystem::create_directories(dir / "work" / "secret");
  }
};

TEST_F(Metrics, EmptyBeforeAnyOperation) {
  const MetricsSnapshot s = sys->metrics();
  EXPECT_TRUE(s.operations.empty());
  const Exposition e = parse_exposition(to_prometheus(s));
  EXPECT_TRUE(e.errors.empty()) << fmt::format("{}", fmt::join(e.errors, "\n"));
  EXPECT_TRUE(e.samples.empty());
  EXPECT_EQ(e.types.at("airssys_osl_operations_total"), "counter");
  EXPECT_EQ(e.types.at("airssys_osl_operation_duration_seconds"), "histogram");
}

TEST_F(Metrics, CountsEveryOutcomeExactlyAsTheRecordsDo) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sys->run("alice", fs::Write{.path = w("a.txt"), .data = "hello"}));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(sys->run("alice", fs::Read{.path = w("a.txt")}));
  ASSERT_TRUE(sys->run("alice", fs::Stat{.path = w("a.txt")}));
  EXPECT_FALSE(sys->run("alice", fs::Read{.path = w("secret/key")}));  // deny rule
  EXPECT_FALSE(sys->run("bob", fs::Read{.path = w("a.txt")}));         // no rule: default deny
  EXPECT_FALSE(sys->run("alice", fs::Read{.path = w("missing.txt")}));  // allowed, does not exist
  EXPECT_FALSE(sys->run("alice", fs::Read{.path = w("")}));            // the directory itself
  ASSERT_TRUE(sys->flush_audit());

  const MetricsSnapshot s = sys->metrics();
  auto count = [&](OpKind k, Outcome o) {
    const OperationMetrics* m = s.find(k, o);
    return m ? m->count : 0;
  };
  EXPECT_EQ(count(OpKind::fs_write, Outcome::ok), 3u);
  EXPECT_EQ(count(OpKind::fs_read, Outcome::ok), 2u);
  EXPECT_EQ(count(OpKind::fs_stat, Outcome::ok), 1u);
  EXPECT_EQ(count(OpKind::fs_read, Outcome::denied), 2u);
  EXPECT_EQ(count(OpKind::fs_read, Outcome::error) + count(OpKind::fs_read, Outcome::invalid), 2u);

  // Every (op, outcome) agrees with the activity records: end records carry
  // "ok"/"error", refusals "denied"/"invalid".
  std::map<std::pair<OpKind, std::string>, std::uint64_t> from_records;
  for (const ActivityRecord& r : sink->records()) {
    if (r.event != ActivityEvent::start) ++from_records[{r.op, r.outcome}];
  }
  std::map<std::pair<OpKind, std::string>, std::uint64_t> from_metrics;
  std::uint64_t total = 0;
  for (const OperationMetrics& m : s.operations) {
    from_metrics[{m.op, std::string(to_string(m.outcome))}] = m.count;
    total += m.count;
    expect_histogram_consistent(m);
    EXPECT_GT(m.sum_ns, 0u) << "every operation takes some time";
  }
  EXPECT_EQ(from_metrics, from_records);
  EXPECT_EQ(total, 10u);
  const SystemStats st = sys->stats();
  EXPECT_EQ(total, st.operations + st.denied);

  const std::string text = to_prometheus(s);
  const Exposition e = parse_exposition(text);
  EXPECT_TRUE(e.errors.empty()) << fmt::format("{}", fmt::join(e.errors, "\n"));
  for (const OperationMetrics& m : s.operations) expect_series_matches(e, m);
  EXPECT_EQ(e.samples.size(), s.operations.size() * (1 + kLatencyBucketCount + 1 + 2));
  EXPECT_NE(text.find("airssys_osl_operations_total{op=\"fs.write\",outcome=\"ok\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("airssys_osl_operation_duration_seconds_bucket{op=\"fs.read\",outcome=\"denied\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find(",le=\"1e-06\"}"), std::string::npos) << "the first bound is 1 µs";
}

TEST_F(Metrics, CountsStayExactUnderConcurrency) {
  ASSERT_TRUE(sys->run("alice", fs::Write{.path = w("shared.txt"), .data = "x"}));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::atomic<bool> done{false};
  // A reader snapshots while the writers run: each series it sees is whole.
  std::thread reader([&] {
    while (!done.load()) {
      for (const OperationMetrics& m : sys->metrics().operations) expect_histogram_consistent(m);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(sys->run("alice", fs::Stat{.path = w("shared.txt")}));
        EXPECT_FALSE(sys->run("alice", fs::Stat{.path = w("secret/x")}));
      }
    });
  }
  for (auto& t : workers) t.join();
  done = true;
  reader.join();

  const MetricsSnapshot s = sys->metrics();
  ASSERT_NE(s.find(OpKind::fs_stat, Outcome::ok), nullptr);
  ASSERT_NE(s.find(OpKind::fs_stat, Outcome::denied), nullptr);
  EXPECT_EQ(s.find(OpKind::fs_stat, Outcome::ok)->count, std::uint64_t{kThreads * kPerThread});
  EXPECT_EQ(s.find(OpKind::fs_stat, Outcome::denied)->count, std::uint64_t{kThreads * kPerThread});
  EXPECT_EQ(s.find(OpKind::fs_write, Outcome::ok)->count, 1u);
  EXPECT_EQ(s.operations.size(), 3u);
  for (const OperationMetrics& m : s.operations) expect_histogram_consistent(m);
}


TEST(MetricsStall, AnOperationRefusedForAStalledAuditLogCountsAsAuditStalled) {
  using namespace std::chrono_literals;
  TempDir dir;
  auto sink = std::make_shared<test::RecordingSink>();
  sink->fail_next(1'000'000);  // a sink that keeps failing, like a full disk
  SystemOptions o;
  o.policy = test::policy_from(fmt::format(R"(
version: 1
rules:
  - {{ id: all, effect: allow, principals: ["alice"], operations: ["fs.*"], resources: ["{0}/**"] }}
)", dir.str()));
  o.audit.sinks.push_back(sink);
  o.audit.queue_capacity = 4;
  o.audit.stall_timeout = 100ms;
  System sys(std::move(o));
  std::uint64_t executed = 0;
  bool stalled = false;
  for (int i = 0; i < 20 && !stalled; ++i) {
    auto r = sys.run("alice", fs::Write{.path = dir / fmt::format("f{}", i), .data = "x"});
    if (r) {
      ++executed;
    } else {
      stalled = r.error().category == ErrorCategory::io;
    }
  }
  ASSERT_TRUE(stalled);
  const MetricsSnapshot s = sys.metrics();
  ASSERT_NE(s.find(OpKind::fs_write, Outcome::audit_stalled), nullptr);
  EXPECT_EQ(s.find(OpKind::fs_write, Outcome::audit_stalled)->count, 1u);
  EXPECT_EQ(executed == 0 ? 0u : s.find(OpKind::fs_write, Outcome::ok)->count, executed);
  EXPECT_NE(to_prometheus(s).find("airssys_osl_operations_total{op=\"fs.write\",outcome=\"audit_stalled\"} 1\n"),
            std::string::npos);
  sink->fail_next(0);  // let the destructor drain
}

TEST(MetricsImplied, TheKillOfADroppedHandleCountsAsProcessKill) {
  SystemOptions o;
  // bob may only spawn: the implied kill needs no permission, but is counted.
  o.policy = test::policy_from(R"(
version: 1
rules:
  - { id: spawn, effect: allow, principals: [bob], operations: [process.spawn], resources: ["/usr/bin/**", "/bin/**"] }
)");
  System sys(std::move(o));
  {
    process::Spawn sleeper;
    sleeper.argv = {"/bin/sleep", "30"};
    auto p = sys.run("bob", sleeper);
    ASSERT_TRUE(p) << p.error().to_string();
  }  // dropped with the child running: SIGKILLed and reaped here
  const MetricsSnapshot s = sys.metrics();
  ASSERT_NE(s.find(OpKind::process_spawn, Outcome::ok), nullptr);
  ASSERT_NE(s.find(OpKind::process_kill, Outcome::ok), nullptr);
  EXPECT_EQ(s.find(OpKind::process_spawn, Outcome::ok)->count, 1u);
  EXPECT_EQ(s.find(OpKind::process_kill, Outcome::ok)->count, 1u);
  EXPECT_EQ(s.operations.size(), 2u);
}

}  // namespace
}  // namespace airssys::osl
