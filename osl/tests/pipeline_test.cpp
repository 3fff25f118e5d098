// The pipeline's guarantees: deny by default, deny overrides, audit records
// for everything, no record lost, enforcement independent of logging,
// audit-only mode, atomic policy reload.

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <atomic>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

std::string work_policy(const TempDir& dir, std::string_view mode = "enforce") {
  return fmt::format(R"(
version: 1
mode: {1}
roles:
  reader: {{}}
  writer: {{ inherits: [reader] }}
principals:
  alice: {{ roles: [writer] }}
  carol: {{ roles: [reader] }}
rules:
  - id: read
    effect: allow
    principals: ["role:reader"]
    operations: ["fs.read", "fs.list", "fs.stat"]
    resources: ["{0}/pub/**"]
  - id: write
    effect: allow
    principals: ["role:writer"]
    operations: ["fs.write", "fs.create_dir", "fs.delete"]
    resources: ["{0}/pub/**"]
  - id: private
    effect: deny
    principals: ["*"]
    operations: ["fs.*"]
    resources: ["{0}/pub/private/**"]
)", dir.str(), mode);
}

TEST(Pipeline, EmptyPolicyDeniesEverything) {
  TempDir dir;
  test::write_file(dir / "f", "x");
  System sys;  // default policy: empty
  EXPECT_EQ(sys.run("root", fs::Read{dir / "f"}).error().category, ErrorCategory::denied);
  EXPECT_EQ(sys.run("root", fs::Stat{dir / "f"}).error().category, ErrorCategory::denied);
  EXPECT_EQ(sys.run("root", process::Spawn{{"/bin/true"}, {}}).error().category, ErrorCategory::denied);
  EXPECT_EQ(sys.run("root", net::Listen{"127.0.0.1:0"}).error().category, ErrorCategory::denied);
  EXPECT_EQ(sys.run("root", net::Socket{}).error().category, ErrorCategory::denied);
  EXPECT_EQ(sys.run("root", util::Exec{"git", {}, {}}).error().category, ErrorCategory::denied);
  EXPECT_EQ(sys.stats().denied, 6u);
  EXPECT_EQ(sys.stats().operations, 0u);
}

TEST(Pipeline, RolesInheritAndDenyWins) {
  TempDir dir;
  std::filesystem::create_directories(dir / "pub/private");
  test::write_file(dir / "pub/a", "a");
  test::write_file(dir / "pub/private/p", "p");
  System sys({.policy = test::policy_from(work_policy(dir))});
  EXPECT_TRUE(sys.run("alice", fs::Read{dir / "pub/a"})) << "writer inherits reader";
  EXPECT_TRUE(sys.run("carol", fs::Read{dir / "pub/a"}));
  EXPECT_EQ(sys.run("carol", fs::Write{dir / "pub/b", "b"}).error().category, ErrorCategory::denied);
  EXPECT_TRUE(sys.run("alice", fs::Write{dir / "pub/b", "b"}));
  EXPECT_EQ(sys.run("alice", fs::Read{dir / "pub/private/p"}).error().category, ErrorCategory::denied);
}

TEST(Pipeline, FileSinkWritesValidJsonLinesForEveryOperation) {
  TempDir dir;
  std::filesystem::create_directories(dir / "pub");
  const auto log = dir / "audit.jsonl";
  {
    SystemOptions o;
    o.policy = test::policy_from(work_policy(dir));
    auto sink = make_file_sink({.path = log});
    ASSERT_TRUE(sink);
    o.audit.sinks.push_back(std::move(*sink));
    System sys(std::move(o));
    ASSERT_TRUE(sys.run("alice", fs::Write{dir / "pub/x", "x"}));
    ASSERT_FALSE(sys.run("alice", fs::Read{dir / "elsewhere"}));
    ASSERT_FALSE(sys.run("alice", fs::Read{dir / "pub/missing"}));
    std::string weird = (dir / "pub/\xff\"q\n").string();
    ASSERT_FALSE(sys.run("alice", fs::Read{weird}));
  }  // destruction drains the queue
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(log);
  std::string line;
  std::vector<nlohmann::json> recs;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    for (const char* k : {"ts", "op_id", "op", "principal", "resources", "decision", "rule", "outcome", "error", "duration_ns"}) {
      EXPECT_TRUE(j.contains(k)) << k << " missing in " << line;
    }
    recs.push_back(j);
  }
  ASSERT_EQ(recs.size(), 7u);  // write: start+end; denied read; missing: start+end; weird: start+end
  EXPECT_EQ(recs[0]["event"], "start");
  EXPECT_EQ(recs[0]["op"], "fs.write");
  EXPECT_EQ(recs[0]["rule"], "write");
  EXPECT_EQ(recs[1]["event"], "end");
  EXPECT_EQ(recs[1]["outcome"], "ok");
  EXPECT_GT(recs[1]["duration_ns"].get<std::int64_t>(), 0);
  EXPECT_EQ(recs[2]["event"], "denied");
  EXPECT_EQ(recs[2]["decision"], "deny");
  EXPECT_TRUE(recs[2]["rule"].is_null());
  EXPECT_EQ(recs[2]["error"]["category"], "denied");
  EXPECT_EQ(recs[4]["outcome"], "error");
  EXPECT_EQ(recs[4]["error"]["category"], "not_found");
  // RFC 3339 with nanoseconds, UTC.
  const std::string ts = recs[0]["ts"];
  ASSERT_EQ(ts.size(), 30u) << ts;
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
}

TEST(Pipeline, FailingSinkIsRetriedAndNothingIsLost) {
  TempDir dir;
  std::filesystem::create_directories(dir / "pub");
  auto sink = std::make_shared<test::RecordingSink>();
  sink->fail_next(3);
  SystemOptions o;
  o.policy = test::policy_from(work_policy(dir));
  o.audit.sinks.push_back(sink);
  System sys(std::move(o));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sys.run("alice", fs::Stat{dir / "pub"}));
  ASSERT_TRUE(sys.flush_audit(30s));
  EXPECT_EQ(sink->records().size(), 40u);
  EXPECT_GE(sys.stats().audit_sink_errors, 3u);
}

TEST(Pipeline, StalledAuditLogRefusesNewOperations) {
  TempDir dir;
  std::filesystem::create_directories(dir / "pub");
  auto sink = std::make_shared<test::RecordingSink>();
  sink->fail_next(1'000'000);
  SystemOptions o;
  o.policy = test::policy_from(work_policy(dir));
  o.audit.sinks.push_back(sink);
  o.audit.queue_capacity = 4;
  o.audit.stall_timeout = 100ms;
  auto sys = std::make_unique<System>(std::move(o));
  std::optional<Error> refused;
  int executed = 0;
  for (int i = 0; i < 20 && !refused; ++i) {
    auto r = sys->run("alice", fs::Write{dir / fmt::format("pub/f{}", i), "x"});
    if (r) {
      ++executed;
    } else {
      refused = r.error();
    }
  }
  ASSERT_TRUE(refused) << "a broken audit log must stop new operations";
  EXPECT_EQ(refused->category, ErrorCategory::io);
  EXPECT_NE(refused->message.find("audit log stalled"), std::string::npos) << refused->message;
  // The refused write did not happen.
  EXPECT_FALSE(std::filesystem::exists(dir / fmt::format("pub/f{}", executed)));
  // The sink recovers: everything queued is written, nothing was dropped.
  sink->fail_next(0);
  ASSERT_TRUE(sys->flush_audit(30s));
  std::set<std::uint64_t> started;
  for (const auto& r : sink->records()) {
    if (r.event == ActivityEvent::start) started.insert(r.op_id);
  }
  EXPECT_EQ(started.size(), static_cast<std::size_t>(executed));
}

TEST(Pipeline, DevFullAuditLogFailsClosed) {
  TempDir dir;
  std::filesystem::create_directories(dir / "pub");
  auto sink = make_file_sink({.path = "/dev/full"});
  ASSERT_TRUE(sink) << sink.error().to_string();
  SystemOptions o;
  o.policy = test::policy_from(work_policy(dir));
  o.audit.sinks.push_back(std::move(*sink));
  o.audit.queue_capacity = 2;
  o.audit.stall_timeout = 100ms;
  o.audit.stall_timeout = 100ms;
  System sys(std::move(o));
  bool refused = false;
  for (int i = 0; i < 10 && !refused; ++i) {
    auto r = sys.run("alice", fs::Stat{dir / "pub"});
    refused = !r && r.error().category == ErrorCategory::io;
  }
  EXPECT_TRUE(refused);
  EXPECT_GT(sys.stats().audit_sink_errors, 0u);
}

TEST(Pipeline, LoggingOffDoesNotTurnEnforcementOff) {
  TempDir dir;
  test::write_file(dir / "secret", "s");
  SystemOptions o;
  o.policy = test::policy_from(work_policy(dir));
  // no sinks at all
  System sys(std::move(o));
  auto r = sys.run("alice", fs::Read{dir / "secret"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::denied);
}

TEST(Pipeline, AuditOnlyModeRecordsWouldBeDenials) {
  TempDir dir;
  test::write_file(dir / "outside", "o");
  auto sink = std::make_shared<test::RecordingSink>();
  SystemOptions o;
  o.policy = test::policy_from(work_policy(dir, "audit-only"));
  o.audit.sinks.push_back(sink);
  System sys(std::move(o));
  auto r = sys.run("alice", fs::Read{dir / "outside"});
  ASSERT_TRUE(r) << "audit-only lets the operation through";
  EXPECT_EQ(*r, "o");
  ASSERT_TRUE(sys.flush_audit());
  const auto recs = sink->records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].decision, DecisionKind::audit_deny);
  EXPECT_EQ(recs[1].decision, DecisionKind::audit_deny);
}

// Anyone may read below dir (rule "r").
std::string anyone_reads(const TempDir& dir) {
  return fmt::format(R"(
version: 1
rules:
  - id: r
    effect: allow
    principals: ["*"]
    operations: ["fs.read"]
    resources: ["{}/**"]
)",
                     dir.str());
}

TEST(Pipeline, ReloadIsAtomicAndBadFilesAreRefused) {
  TempDir dir;
  test::write_file(dir / "pub_file", "x");
  const auto file = dir / "policy.yaml";
  test::write_file(file, anyone_reads(dir));
  System sys;
  ASSERT_TRUE(sys.reload_policy(file));
  ASSERT_TRUE(sys.run("x", fs::Read{dir / "pub_file"}));
  test::write_file(file,
                   "version: 1\nrules:\n  - id: r\n    effect: alow\n    principals: ['*']\n    operations: ['fs.read']\n");
  auto bad = sys.reload_policy(file);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().line, 4);
  EXPECT_TRUE(sys.run("x", fs::Read{dir / "pub_file"})) << "the old policy stays in force";
  sys.set_policy(Policy{});
  EXPECT_FALSE(sys.run("x", fs::Read{dir / "pub_file"}));
}

// Each thread keeps the policy it last used (Core::current_policy): one
// thread alternating between two Systems must get each one's own decisions,
// and a policy set from another thread must be in force for the next
// operation here.
TEST(Pipeline, EachSystemsPolicyHoldsForAThreadUsingSeveral) {
  TempDir dir;
  test::write_file(dir / "f", "x");
  const std::string allow_read = anyone_reads(dir);
  auto reads = test::system_with(allow_read);
  auto nothing = std::make_unique<System>();  // the empty policy: denies everything
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(reads->run("x", fs::Read{dir / "f"})) << i;
    EXPECT_FALSE(nothing->run("x", fs::Read{dir / "f"})) << i;
  }
  std::thread([&] { reads->set_policy(Policy{}); }).join();
  EXPECT_FALSE(reads->run("x", fs::Read{dir / "f"})) << "the policy set on another thread";
  std::thread([&] { nothing->set_policy(test::policy_from(allow_read)); }).join();
  EXPECT_TRUE(nothing->run("x", fs::Read{dir / "f"}));
  EXPECT_FALSE(reads->run("x", fs::Read{dir / "f"}));
  // A System made after another is gone (perhaps where it was) never takes
  // the gone one's policy, which this thread held last.
  reads->set_policy(test::policy_from(allow_read));
  EXPECT_TRUE(reads->run("x", fs::Read{dir / "f"}));
  reads.reset();
  auto later = std::make_unique<System>();
  EXPECT_FALSE(later->run("x", fs::Read{dir / "f"}));
}

// A policy set while other threads run operations (their snapshots keyed by
// the generation, the old policy freed by whichever thread drops it last;
// this is what the tsan preset checks for races): an operation that starts
// and ends inside one stable phase gets that phase's decision. The phase is
// made odd before set_policy and even after it, so a worker that reads the
// same even phase before and after its operation ran with no set_policy in
// between. The main thread waits for one such checked operation per phase.
TEST(Pipeline, APolicySetWhileOtherThreadsRunHoldsForTheirNextOperation) {
  TempDir dir;
  test::write_file(dir / "f", "x");
  const std::string allow_read = anyone_reads(dir);
  auto sys = test::system_with(allow_read);
  std::atomic<int> phase{0};  // even: stable; phase / 2 even: reads allowed
  std::atomic<int> checked{0}, wrong{0}, checked_phase{-1};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      while (!stop.load()) {
        const int before = phase.load(std::memory_order_acquire);
        auto r = t % 2 ? sys->run("x", fs::Read{dir / "f"}) : sys->run("x", fs::Read{dir / "." / "f"});
        const int after = phase.load(std::memory_order_acquire);
        if (before != after || before % 2 != 0) continue;
        const bool allowed = (before / 2) % 2 == 0;
        const bool ok = allowed ? r && *r == "x" : !r && r.error().category == ErrorCategory::denied;
        if (!ok) ++wrong;
        ++checked;
        checked_phase.store(before);
      }
    });
  }
  for (int i = 1; i <= 100; ++i) {
    phase.store(2 * i - 1, std::memory_order_release);
    sys->set_policy(i % 2 ? Policy{} : test::policy_from(allow_read));
    phase.store(2 * i, std::memory_order_release);
    while (checked_phase.load() != 2 * i) std::this_thread::yield();
  }
  stop = true;
  for (auto& w : workers) w.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << checked.load() << " operations checked";
}

// A thread_local made before the thread's first operation is destroyed after
// osl's own per-thread state (the policy snapshot, the fast road's request):
// an operation its destructor runs must not touch that state, and still get
// the System's decisions (here under ASan a use after free, before).
struct RunsAtThreadExit {
  std::function<void()> last;
  RunsAtThreadExit() = default;
  RunsAtThreadExit(const RunsAtThreadExit&) = delete;
  RunsAtThreadExit& operator=(const RunsAtThreadExit&) = delete;
  ~RunsAtThreadExit() {
    if (last) last();
  }
};

TEST(Pipeline, AnOperationFromAThreadLocalDestroyedAfterOslsOwn) {
  TempDir dir;
  test::write_file(dir / "f", "x");
  auto sys = test::system_with(anyone_reads(dir));
  const std::string f = std::filesystem::canonical(dir / "f").string();  // canonical: the fast road
  bool read = false;
  bool refused = false;
  std::thread([&] {
    thread_local RunsAtThreadExit hook;  // constructed first, destroyed last
    hook.last = [&] {
      auto r = sys->run("x", fs::Read{f});
      read = r && *r == "x";
      auto other = sys->run("x", fs::Read{"/etc/hostname"});
      refused = !other && other.error().category == ErrorCategory::denied;
    };
    EXPECT_TRUE(sys->run("x", fs::Read{f}));
  }).join();
  EXPECT_TRUE(read);
  EXPECT_TRUE(refused);
}

// Property: over random operations on random paths, an operation succeeds
// only when its path is inside what the policy allows, and every one of them
// leaves exactly the records it should (start+end when allowed, one denied
// record otherwise), with unique op ids — also under concurrency.
TEST(Pipeline, RandomOperationsObeyPolicyAndAreAllRecorded) {
  TempDir dir;
  std::filesystem::create_directories(dir / "pub/private");
  std::filesystem::create_directories(dir / "other");
  auto sink = std::make_shared<test::RecordingSink>();
  SystemOptions o;
  o.policy = test::policy_from(work_policy(dir));
  o.audit.sinks.push_back(sink);
  o.audit.queue_capacity = 64;  // small: exercises producers waiting on a full queue
  System sys(std::move(o));

  const std::vector<std::string> places = {"pub", "pub/private", "other", "pub/../other", "pub/./x/..", "."};
  const std::vector<std::string> principals = {"alice", "carol", "mallory"};
  std::atomic<int> allowed_count{0}, denied_count{0};
  auto worker = [&](unsigned seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 300; ++i) {
      const std::string& who = principals[rng() % principals.size()];
      const std::string place = places[rng() % places.size()];
      const std::string name = fmt::format("f{}", rng() % 5);
      const auto path = dir / place / name;
      // Only the directory is resolved: other threads create and delete the
      // file itself meanwhile, and resolving a path that vanishes mid-way throws.
      const auto canonical = std::filesystem::weakly_canonical(dir / place) / name;
      const std::string cs = canonical.string();
      const bool in_pub = cs.starts_with((dir / "pub/").string()) && !cs.starts_with((dir / "pub/private").string());
      const bool is_writer = who == "alice";
      const bool is_reader = who == "alice" || who == "carol";
      bool expect_allowed = false;
      std::expected<void, Error> result;
      switch (rng() % 3) {
        case 0: {
          auto r = sys.run(who, fs::Write{path, "data"});
          expect_allowed = in_pub && is_writer;
          if (!r) result = std::unexpected(r.error());
          break;
        }
        case 1: {
          auto r = sys.run(who, fs::Stat{path});
          expect_allowed = in_pub && is_reader;
          if (!r) result = std::unexpected(r.error());
          break;
        }
        default: {
          auto r = sys.run(who, fs::Delete{path});
          expect_allowed = in_pub && is_writer;
          if (!r) result = std::unexpected(r.error());
          break;
        }
      }
      const bool denied = !result && result.error().category == ErrorCategory::denied;
      EXPECT_EQ(!denied, expect_allowed) << who << " " << path << " -> "
                                         << (result ? "ok" : result.error().to_string());
      (denied ? denied_count : allowed_count).fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) threads.emplace_back(worker, 1234 + t);
  for (auto& t : threads) t.join();
  ASSERT_TRUE(sys.flush_audit(60s));
  // Each operation has exactly a start and an end record, or exactly one
  // denied record (refused by policy or as malformed).
  std::map<std::uint64_t, std::vector<ActivityEvent>> by_id;
  for (const auto& r : sink->records()) by_id[r.op_id].push_back(r.event);
  EXPECT_EQ(by_id.size(), static_cast<std::size_t>(allowed_count + denied_count));
  for (const auto& [id, events] : by_id) {
    const bool pair = events == std::vector{ActivityEvent::start, ActivityEvent::end};
    const bool single = events == std::vector{ActivityEvent::denied};
    EXPECT_TRUE(pair || single) << "op " << id << " has " << events.size() << " records";
  }
  EXPECT_GT(allowed_count.load(), 0);
  EXPECT_GT(denied_count.load(), 0);
}

TEST(Pipeline, FileSinkRotatesBySize) {
  TempDir dir;
  std::filesystem::create_directories(dir / "pub");
  const auto log = dir / "audit.jsonl";
  {
    SystemOptions o;
    o.policy = test::policy_from(work_policy(dir));
    auto sink = make_file_sink({.path = log, .max_bytes = 2000, .keep = 2});
    ASSERT_TRUE(sink);
    o.audit.sinks.push_back(std::move(*sink));
    System sys(std::move(o));
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(sys.run("alice", fs::Stat{dir / "pub"}));
      ASSERT_TRUE(sys.flush_audit());
    }
  }
  EXPECT_TRUE(std::filesystem::exists(log));
  EXPECT_TRUE(std::filesystem::exists(log.string() + ".1"));
  EXPECT_TRUE(std::filesystem::exists(log.string() + ".2"));
  EXPECT_FALSE(std::filesystem::exists(log.string() + ".3"));
  EXPECT_LE(std::filesystem::file_size(log), 2000u);
}

}  // namespace
}  // namespace airssys::osl
