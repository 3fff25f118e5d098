// Under load, nothing lost (issue 12): 10,000 file operations from 16
// threads at once, 1,000 managed child processes alive together, 10,000
// open connections on loopback. Every operation leaves exactly one start
// and one end record, the limits refuse cleanly one past their caps, and
// when the System is gone no fd or thread it made is left behind.
// Bounded: a few seconds under ASan; only the test's own children are
// signalled, through their Process handles.

#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

namespace stdfs = std::filesystem;

// Wall time of a phase, printed for docs/BENCHMARKS.md (never asserted).
class Phase {
 public:
  explicit Phase(std::string what) : what_(std::move(what)) {}
  ~Phase() {
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
    std::printf("[load] %s: %.0f ms\n", what_.c_str(), ms);
  }

 private:
  std::string what_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

std::size_t entries_in(const char* dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : stdfs::directory_iterator(dir)) ++n;
  return n;
}

// A thread's /proc/self/task entry can outlive its pthread_join by a moment
// (the kernel wakes the joiner before it reaps the thread): waits, bounded,
// until that thread is gone from the list. The exiting thread needs the CPU
// once more to be reaped, which a busy machine may not give it for a while:
// the bound only ends a hung test, so it is far above that.
void wait_until_reaped(pid_t tid) {
  const auto path = "/proc/self/task/" + std::to_string(tid);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (stdfs::exists(path) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// ThreadSanitizer starts a thread of its own with the process's first
// pthread_create: one is started and joined (and reaped) once before
// anything is counted, so only threads the System made can differ.
void start_runtime_threads() {
  static const bool started = [] {
    pid_t tid = 0;
    std::thread([&tid] { tid = ::gettid(); }).join();
    wait_until_reaped(tid);
    return true;
  }();
  (void)started;
}

// What the process holds before a System is made, to compare after it is gone.
struct Footprint {
  bool runtime_threads_started = (start_runtime_threads(), true);
  std::size_t fds = entries_in("/proc/self/fd");
  std::size_t threads = entries_in("/proc/self/task");
};

// The footprint after a System is gone, read again (for up to 30 s) while
// it still differs from `before`: a thread the System joined may not be
// reaped yet (on a busy machine, not for a while). Only a footprint that
// stays different is a leak; one that settles costs no more than it takes.
Footprint settled_after(const Footprint& before) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Footprint now;
  while ((now.fds != before.fds || now.threads != before.threads) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    now = Footprint{};
  }
  return now;
}

// Every op id has one start and one end record (a refusal: one record).
void expect_each_operation_recorded_once(const std::vector<ActivityRecord>& recs) {
  std::map<std::uint64_t, std::pair<int, int>> seen;  // op id → (starts, ends)
  for (const auto& r : recs) {
    auto& [starts, ends] = seen[r.op_id];
    (r.event == ActivityEvent::start ? starts : ends) += 1;
  }
  std::size_t bad = 0;
  for (const auto& [id, n] : seen) {
    if (n.first > 1 || n.second != 1) ++bad;
  }
  EXPECT_EQ(bad, 0U) << "operations without exactly one end record (or with two starts)";
}

std::size_t count(const std::vector<ActivityRecord>& recs, OpKind kind, ActivityEvent ev, const char* outcome) {
  std::size_t n = 0;
  for (const auto& r : recs) n += r.op == kind && r.event == ev && r.outcome == outcome ? 1 : 0;
  return n;
}

class Load : public ::testing::Test {
 protected:
  std::unique_ptr<System> make_system(ResourceLimits limits) {
    sink = std::make_shared<test::RecordingSink>();
    SystemOptions o;
    o.policy = test::policy_from(fmt::format(R"(
version: 1
rules:
  - id: work
    effect: allow
    principals: ["load"]
    operations: ["fs.*"]
    resources: ["{0}/**"]
  - id: children
    effect: allow
    principals: ["load"]
    operations: ["process.*"]
    resources: ["/usr/bin/**", "/bin/**"]
  - id: loopback
    effect: allow
    principals: ["load"]
    operations: ["net.*"]
    resources: ["127.0.0.1:*"]
)",
                                             dir.str()));
    o.limits = limits;
    o.audit.sinks.push_back(sink);
    o.audit.queue_capacity = 1024;  // small: writers must wait for the sink, never drop
    return std::make_unique<System>(std::move(o));
  }
  std::vector<ActivityRecord> records(System& sys) {
    EXPECT_TRUE(sys.flush_audit(std::chrono::seconds(60)));
    return sink->records();
  }

  test::TempDir dir;
  std::shared_ptr<test::RecordingSink> sink;
};

TEST_F(Load, TenThousandFileOperationsFromSixteenThreads) {
  const Footprint before;
  {
    auto sys = make_system({.max_open_files = 8, .wait = std::chrono::seconds(30)});
    constexpr int kThreads = 16, kPerThread = 625;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    std::optional<Phase> phase(std::in_place, "10,000 file operations from 16 threads");
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const std::string mine = (dir / fmt::format("t{}", t)).string();
        if (!sys->run("load", fs::CreateDir{.path = mine})) ++failures;
        for (int i = 1; i < kPerThread; ++i) {
          const std::string f = fmt::format("{}/f{}", mine, i % 8);
          bool ok = false;
          switch (i % 4) {
            case 0: ok = sys->run("load", fs::Write{.path = f, .data = "payload"}).has_value(); break;
            case 1: ok = sys->run("load", fs::Stat{.path = mine}).has_value(); break;
            case 2: ok = sys->run("load", fs::List{.path = mine}).has_value(); break;
            default: {
              auto r = sys->run("load", fs::Read{.path = f});
              ok = r || r.error().category == ErrorCategory::not_found;  // written on a later turn
            }
          }
          if (!ok) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
    phase.reset();
    EXPECT_EQ(failures.load(), 0);
    const auto recs = records(*sys);
    EXPECT_EQ(recs.size(), 2U * kThreads * kPerThread);
    expect_each_operation_recorded_once(recs);
    EXPECT_EQ(sys->stats().operations, static_cast<std::uint64_t>(kThreads * kPerThread));
  }
  const Footprint after = settled_after(before);
  EXPECT_EQ(after.fds, before.fds);
  EXPECT_EQ(after.threads, before.threads);
}

TEST_F(Load, AThousandChildrenAtOnceAndTheNextOneRefused) {
  const Footprint before;
  {
    auto sys = make_system({.max_processes = 1000, .wait = std::chrono::milliseconds(100)});
    std::vector<process::Process> children;
    children.reserve(1000);
    std::optional<Phase> phase(std::in_place, "1,000 children spawned");
    for (int i = 0; i < 1000; ++i) {
      auto p = sys->run("load", process::Spawn{{"/bin/sleep", "120"}, {}});
      ASSERT_TRUE(p) << "child " << i << ": " << p.error().to_string();
      children.push_back(std::move(*p));
    }
    phase.reset();
    auto extra = sys->run("load", process::Spawn{{"/bin/sleep", "120"}, {}});
    ASSERT_FALSE(extra) << "the 1,001st child must be refused at the cap";
    EXPECT_EQ(extra.error().category, ErrorCategory::resource_exhausted) << extra.error().to_string();
    phase.emplace("1,000 children killed and reaped");
    for (auto& c : children) ASSERT_TRUE(c.kill());
    for (auto& c : children) {
      auto st = c.wait();
      ASSERT_TRUE(st);
      EXPECT_EQ(st->signal, SIGKILL);
    }
    phase.reset();
    children.clear();
    // The slots came back: one more child runs.
    auto again = sys->run("load", process::Spawn{{"/bin/true"}, {}});
    ASSERT_TRUE(again) << again.error().to_string();
    ASSERT_TRUE(again->wait());
    const auto recs = records(*sys);
    expect_each_operation_recorded_once(recs);
    EXPECT_EQ(count(recs, OpKind::process_spawn, ActivityEvent::end, "ok"), 1001U);
    EXPECT_EQ(count(recs, OpKind::process_spawn, ActivityEvent::end, "error"), 1U) << "the refused one";
    EXPECT_EQ(count(recs, OpKind::process_kill, ActivityEvent::end, "ok"), 1000U);
  }
  const Footprint after = settled_after(before);
  EXPECT_EQ(after.fds, before.fds);
  EXPECT_EQ(after.threads, before.threads);
}

TEST_F(Load, TenThousandOpenConnections) {
  // 10,000 connections are 10,000 fds here (5,000 connected + 5,000
  // accepted, both ends in this process), plus the test's own.
  rlimit nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  const rlimit saved = nofile;
  if (nofile.rlim_max < 10'500) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << nofile.rlim_max << " < 10,500";
  nofile.rlim_cur = nofile.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &nofile), 0);
  const Footprint before;
  {
    constexpr std::size_t kPairs = 5'000;
    // The listener holds a slot too: the cap is exactly what the test opens.
    auto sys = make_system({.max_connections = 2 * kPairs + 1, .wait = std::chrono::milliseconds(100)});
    auto listener = sys->run("load", net::Listen{.address = "127.0.0.1:0", .backlog = 1024});
    ASSERT_TRUE(listener) << listener.error().to_string();
    const std::string to = fmt::format("127.0.0.1:{}", listener->port());
    std::vector<net::Connection> open;
    open.reserve(2 * kPairs);
    std::optional<Phase> phase(std::in_place, "10,000 connections opened (5,000 connects + 5,000 accepts)");
    for (std::size_t i = 0; i < kPairs; ++i) {
      auto c = sys->run("load", net::Connect{.address = to});
      ASSERT_TRUE(c) << "connection " << i << ": " << c.error().to_string();
      auto a = listener->accept(std::chrono::seconds(10));
      ASSERT_TRUE(a) << "accept " << i << ": " << a.error().to_string();
      open.push_back(std::move(*c));
      open.push_back(std::move(*a));
    }
    phase.reset();
    // Every one of them works.
    ASSERT_TRUE(open.front().write_all("ping"));
    char buf[8];
    auto n = open[1].read_some(buf, std::chrono::seconds(10));
    ASSERT_TRUE(n);
    EXPECT_EQ(std::string(buf, *n), "ping");
    auto extra = sys->run("load", net::Connect{.address = to});
    ASSERT_FALSE(extra) << "connection 10,001 must be refused at the cap";
    EXPECT_EQ(extra.error().category, ErrorCategory::resource_exhausted) << extra.error().to_string();
    open.clear();
    const auto recs = records(*sys);
    expect_each_operation_recorded_once(recs);
    EXPECT_EQ(count(recs, OpKind::net_connect, ActivityEvent::end, "ok"), kPairs);
    EXPECT_EQ(count(recs, OpKind::net_connect, ActivityEvent::end, "error"), 1U);
  }
  const Footprint after = settled_after(before);
  EXPECT_EQ(after.fds, before.fds);
  EXPECT_EQ(after.threads, before.threads);
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

}  // namespace
}  // namespace airssys::osl
