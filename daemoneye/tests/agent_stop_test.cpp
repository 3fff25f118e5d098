// A clean stop with many process events still queued on the agent's bus:
// they are stored in bounded batches (one transaction each, at most 4096
// events) for at most database.stop_timeout after the signal, and what that
// leaves is logged and counted as lost (status.json's store.events_dropped),
// never dropped silently; the agent exits 0 either way. The test publishes
// the events itself on the agent's bus (as procmond would), so it knows how
// many there are.
//
// To have them queued at the stop whatever the machine's speed, the test
// holds SQLite's write lock on the agent's database while it publishes and
// signals: the agent's run loop waits on it in its first write (the store's
// 5 s busy timeout), the rest stays queued, and the signal is read as soon as
// that write returns - the test lets go of the lock right after the signal.
// On a machine so slow that publishing outlasts that busy timeout, the write
// fails before the signal and the loop may take the events off the bus
// itself (more than one batch: it reads the bus while it waits to retry):
// the generous-budget case checks the counts, which hold whoever stored the
// events, and skips its batch checks when the stop took no more than one
// batch AND an outage was logged before the signal. Without such an outage a
// stop that took no more than one batch fails: the events should have waited
// for it (or the stop no longer reads the bus, or its log line changed). An
// outage alone is not a reason to skip either: on a busy machine the write
// often gives up before the signal while the events still wait on the bus
// for the stop. No timing is asserted
// (docs/daemoneye.md "The agent").

#include "harness.hpp"
#include "store_query.hpp"

#include <airssys/bus/client.hpp>
#include <airssys/daemoneye/events.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <sys/stat.h>

#include <iostream>
#include <regex>

namespace detest {
namespace {

namespace bus = airssys::bus;
namespace de = airssys::daemoneye;

// Pids far above any pid_max (4194304): rows only this test's events make.
constexpr std::int64_t kFirstPid = 100'000'000;
// The agent stores at most this many events per transaction (agent.cpp kEventBatch).
constexpr std::uint64_t kBatch = 4096;

// The number `pattern`'s first group matches in the log, 0 when none.
std::uint64_t logged_count(const std::string& log, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex(pattern))) return 0;
  return std::stoull(m[1].str());
}

de::ProcessEvent start_event(std::int64_t pid) {
  de::ProcessEvent e;
  e.kind = de::EventKind::start;
  e.time = static_cast<std::int64_t>(::time(nullptr));
  e.process.pid = pid;
  e.process.parent = 1;
  e.process.name = "stop-test";
  e.process.path = "/usr/bin/stop-test";
  e.process.cmdline = fmt::format("stop-test --event {}", pid - kFirstPid);
  e.process.start_time = e.time;
  e.process.uid = e.process.euid = e.process.gid = e.process.egid = 0;
  return e;
}

// SQLite's write lock on `db`, held until destroyed (BEGIN IMMEDIATE).
class WriteLock {
 public:
  explicit WriteLock(const fs::path& db) {
    if (sqlite3_open_v2(db.c_str(), &h_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) return;
    sqlite3_busy_timeout(h_, 10000);
    held_ = sqlite3_exec(h_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~WriteLock() { release(); }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;
  bool held() const { return held_; }
  void release() {
    if (held_) sqlite3_exec(h_, "ROLLBACK", nullptr, nullptr, nullptr);
    held_ = false;
    sqlite3_close(h_);
    h_ = nullptr;
  }

 private:
  sqlite3* h_ = nullptr;
  bool held_ = false;
};

struct StopRun {
  std::string log;
  std::int64_t stored = -1;  // the test's rows in process_events
  nlohmann::json status;     // status.json after the stop
};

// An agent with database.stop_timeout `budget` gets `events` start events
// while its database is locked, then SIGTERM; it must exit 0.
void stop_with_events_queued(std::int64_t events, std::string_view budget, StopRun& out) {
  AgentDir d;
  ::chmod(d.rules.c_str(), 0755);
  d.write_config();
  std::string config = slurp(d.config);
  const std::string db_entry = "/daemoneye.db }";
  ASSERT_NE(config.find(db_entry), std::string::npos) << config;
  config.replace(config.find(db_entry), db_entry.size(), fmt::format("/daemoneye.db, stop_timeout: {} }}", budget));
  write_file(d.config, config);
  auto agent = d.start_agent();
  ASSERT_TRUE(eventually([&] { return slurp(d.log).find("first scan stored") != std::string::npos; })) << slurp(d.log);

  const fs::path db = d.var / "daemoneye.db";
  WriteLock lock(db);
  ASSERT_TRUE(lock.held()) << "cannot lock " << db;
  auto client = bus::Client::connect({.socket_path = d.var / "bus.sock"});
  ASSERT_TRUE(client) << client.error().to_string();
  for (std::int64_t i = 0; i < events; ++i) {
    auto r = (*client)->publish(de::kSubjectStart, de::encode(start_event(kFirstPid + i)));
    ASSERT_TRUE(r) << r.error().to_string();
  }
  // Once the broker answered, every event is in the agent's queue.
  auto f = (*client)->flush(60s);
  ASSERT_TRUE(f) << f.error().to_string();
  client->reset();
  agent->signal(SIGTERM);
  lock.release();
  ASSERT_EQ(agent->wait(180s).value_or(-1), 0) << slurp(d.log);

  out.log = slurp(d.log);
  out.stored = count_rows(db, fmt::format("SELECT count(*) FROM process_events WHERE pid >= {}", kFirstPid));
  out.status = nlohmann::json::parse(slurp(d.var / "status.json"), nullptr, false);
}

// True when a write to the store failed before the agent read the stop
// signal (both lines come from its run loop, so their order is exact): the
// likely reason when the loop took the events before the stop. The agent
// logs only the first failure of an outage ("<what> failed: ...; kept for a
// retry", agent.cpp store_outage), and that may be a collection's write
// rather than the events', so any outage's line counts.
bool store_failed_before_signal(const std::string& log) {
  const auto failed = log.find("; kept for a retry: ");
  return failed != std::string::npos && failed < log.find("received: stopping");
}

constexpr const char* kLost = R"(stopping: (?:at least )?(\d+) process events were not stored .* and are lost)";
constexpr const char* kStoredAtStop =
    R"(stopping: (\d+) process events stored: (\d+) that waited from before the stop, (\d+) taken off the bus at the stop in (\d+) batch(?:es)?)";

// database.stop_timeout 0: nothing is stored after the signal; every event
// still queued then is logged as lost and counted in events_dropped.
TEST(AgentStop, PastTheStopTimeoutTheQueuedEventsAreLoggedAndCountedAsLost) {
  constexpr std::int64_t kEvents = 10000;
  StopRun run;
  ASSERT_NO_FATAL_FAILURE(stop_with_events_queued(kEvents, "0", run));
  ASSERT_GE(run.stored, 0) << run.log;
  ASSERT_EQ(run.log.find("stopping: at least"), std::string::npos) << run.log;
  const auto lost = logged_count(run.log, kLost);
  std::cout << kEvents << " events: " << run.stored << " stored, " << lost << " logged as lost\n";
  EXPECT_GT(lost, 0u) << run.log;
  // Nothing stored after the signal.
  EXPECT_EQ(run.log.find("process events stored:"), std::string::npos) << run.log;
  // The lost count covers every process event left, procmond's own last ones
  // too, so it may exceed the test's share.
  EXPECT_GE(static_cast<std::uint64_t>(run.stored) + lost, static_cast<std::uint64_t>(kEvents)) << run.log;
  ASSERT_FALSE(run.status.is_discarded());
  EXPECT_EQ(run.status["store"]["events_dropped"].get<std::uint64_t>(), lost) << run.status.dump();
  EXPECT_EQ(run.log.find("the store backlog is full"), std::string::npos) << run.log;
}

// A generous budget: every queued event is stored, in batches of at most
// 4096, and nothing is logged as lost. The counts hold whoever stored the
// events, so they are checked first; the batches only when the stop took
// more than one batch's worth off the bus (its premise, see the top).
TEST(AgentStop, WithinTheStopTimeoutTheQueuedEventsAreStoredInBoundedBatches) {
  // Three batches: at most one taken before the stop (the write that waits
  // on the lock) leaves two for it. Few, so that publishing them outlasts
  // the store's 5 s busy timeout only on a very slow machine.
  constexpr auto kEvents = static_cast<std::int64_t>(3 * kBatch);
  StopRun run;
  ASSERT_NO_FATAL_FAILURE(stop_with_events_queued(kEvents, "10m", run));
  EXPECT_EQ(run.stored, kEvents) << run.log;
  EXPECT_EQ(logged_count(run.log, kLost), 0u) << run.log;
  EXPECT_EQ(run.log.find("were not stored"), std::string::npos) << run.log;
  ASSERT_FALSE(run.status.is_discarded());
  EXPECT_EQ(run.status["store"]["events_dropped"].get<std::uint64_t>(), 0u) << run.status.dump();
  EXPECT_EQ(run.log.find("the store backlog is full"), std::string::npos) << run.log;

  // No such line: nothing was stored at the stop (none taken).
  std::smatch m;
  const bool line = std::regex_search(run.log, m, std::regex(kStoredAtStop));
  const auto number = [&](int i) -> std::uint64_t { return line ? std::stoull(m[i].str()) : 0; };
  const auto total = number(1), waited = number(2), taken = number(3), batches = number(4);
  std::cout << kEvents << " events: " << total << " stored at the stop (" << waited << " waited, " << taken
            << " taken off the bus in " << batches << " batches)\n";
  // The premise: the stop took at least two batches off the bus, what the
  // bounded-batch claim needs. Skipped, not failed, only when the run loop's
  // write gave up on the test's lock before the signal (publishing outlasted
  // the store's 5 s busy timeout), so the loop may have taken the events
  // itself: no fault of the stop. Without that, the lock held them queued,
  // and a stop that took no more than one batch is a fault (it stopped
  // reading the bus, or its "stored at the stop" line no longer matches).
  if (taken <= kBatch && store_failed_before_signal(run.log)) {
    GTEST_SKIP() << "the run loop took the events off the bus before the stop, not at it (" << taken
                 << " left for the stop): its write gave up waiting for the test's lock (the store's 5 s busy "
                    "timeout) before the stop signal - publishing took that long here; the batch checks would "
                    "not test the stop\n"
                 << run.log;
  }
  ASSERT_GT(taken, kBatch) << "the stop took " << taken << " events off the bus (at most one batch of " << kBatch
                           << ") though the store's lock kept them queued until the signal (no outage logged "
                              "before it): the stop did not read the bus, or its \"stored at the stop\" line "
                              "changed\n"
                           << run.log;
  EXPECT_EQ(total, waited + taken);
  // The lock kept them queued: the stop took them off the bus, batch by batch.
  EXPECT_GE(batches, 2u) << run.log;
  EXPECT_LE(taken, batches * kBatch) << run.log;
}

}  // namespace
}  // namespace detest
