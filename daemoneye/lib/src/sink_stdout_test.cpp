// The stdout sink writing into a real pipe.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <thread>

#include <airssys/osl/unique_fd.hpp>

#include "alert_sink.hpp"
#include "alert_test_util.hpp"
#include "sink_test_util.hpp"

namespace airssys::daemoneye::detail {
namespace {

using testing::deliver;
using testing::make_alert;

struct Pipe {
  osl::UniqueFd read, write;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      read.reset(fds[0]);
      write.reset(fds[1]);
    }
  }
  std::string drain() {
    write.reset();
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(read.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  // A thread that reads into `into` until EOF, counting in `count` (read
  // `into` only after joining it).
  std::thread read_until_eof(std::string& into, std::atomic<std::size_t>& count) {
    return std::thread([this, &into, &count] {
      char b[4096];
      for (ssize_t n; (n = ::read(read.get(), b, sizeof b)) > 0;) {
        into.append(b, static_cast<std::size_t>(n));
        count += static_cast<std::size_t>(n);
      }
    });
  }
  // What the pipe holds now, without waiting for more; the read end's
  // flags as they were afterwards.
  std::string take_available() {
    std::string out;
    char buf[4096];
    const int flags = ::fcntl(read.get(), F_GETFL);
    EXPECT_EQ(::fcntl(read.get(), F_SETFL, flags | O_NONBLOCK), 0);
    for (ssize_t n; (n = ::read(read.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    EXPECT_EQ(::fcntl(read.get(), F_SETFL, flags), 0);
    return out;
  }
};

TEST(StdoutSink, HumanLines) {
  Pipe p;
  auto counters = std::make_shared<SinkCounters>();
  auto sink = make_stdout_sink(SinkFormat::human, p.write.get(), counters, nullptr);
  const std::vector<Alert> alerts{make_alert("exe-deleted", 123), make_alert("tmp-exec", 7, Severity::low)};
  deliver(*sink, alerts);
  EXPECT_EQ(p.drain(),
            "2026-12-04T14:00:00Z HIGH exe-deleted Rule exe-deleted pid=123 name=proc123 start_time=1764000000\n"
            "2026-12-04T14:00:00Z LOW tmp-exec Rule tmp-exec pid=7 name=proc7 start_time=1764000000\n");
  EXPECT_EQ(counters->errors.load(), 0u);
}

TEST(StdoutSink, JsonLines) {
  Pipe p;
  auto sink = make_stdout_sink(SinkFormat::json, p.write.get(), std::make_shared<SinkCounters>(), nullptr);
  const std::vector<Alert> alerts{make_alert("r", 1)};
  deliver(*sink, alerts);
  EXPECT_EQ(p.drain(), alert_to_json(alerts[0]) + "\n");
}

TEST(StdoutSink, AClosedReaderIsCountedAndLoggedOnce) {
  Pipe p;
  p.read.reset();
  auto counters = std::make_shared<SinkCounters>();
  std::vector<std::string> logged;
  const auto old = std::signal(SIGPIPE, SIG_IGN);
  auto sink = make_stdout_sink(SinkFormat::json, p.write.get(), counters, [&](std::string_view m) { logged.emplace_back(m); });
  const std::vector<Alert> alerts{make_alert("r", 1), make_alert("r", 2)};
  deliver(*sink, alerts);
  deliver(*sink, alerts);
  std::signal(SIGPIPE, old);
  EXPECT_EQ(counters->errors.load(), 4u);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0], "stdout sink: write failed: Broken pipe (further failures are counted, not logged, until it works again)");
}

// A reader that stops reading (probe 13 finding 7): the sink gives up after
// a bounded wait instead of blocking the agent, counts each alert it could
// not write, logs the outage once, leaves the shared descriptor blocking,
// and writes whole lines again once the reader reads.
TEST(StdoutSink, AReaderThatStopsReadingDoesNotBlockAndIsCountedAndLoggedOnce) {
  Pipe p;
  ASSERT_GT(::fcntl(p.write.get(), F_SETPIPE_SZ, 4096), 0);
  auto counters = std::make_shared<SinkCounters>();
  std::vector<std::string> logged;
  auto sink = make_stdout_sink(SinkFormat::json, p.write.get(), counters, [&](std::string_view m) { logged.emplace_back(m); });
  std::vector<Alert> alerts;
  for (int i = 0; i < 100; ++i) alerts.push_back(make_alert("r", i));  // far more than 4 KiB
  // Before, deliver() never returned: the thread reads the pipe after a
  // generous bound so that the test ends either way.
  std::promise<void> done;
  auto returned = done.get_future();
  std::thread t([&] {
    deliver(*sink, alerts);
    deliver(*sink, alerts);
    done.set_value();
  });
  const bool in_time = returned.wait_for(std::chrono::minutes(2)) == std::future_status::ready;
  if (!in_time) (void)p.drain();
  t.join();
  ASSERT_TRUE(in_time) << "deliver() blocked on a full pipe";
  EXPECT_GT(counters->errors.load(), 100u);  // all of the second batch at least
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0], "stdout sink: stdout is not being read: nothing more could be written for 500 ms (further "
                       "failures are counted, not logged, until it works again)");
  EXPECT_EQ(::fcntl(p.write.get(), F_GETFL) & O_NONBLOCK, 0);  // theirs as it was

  // The reader reads again: the next alert is written as a whole line.
  (void)p.take_available();
  const std::vector<Alert> last{make_alert("after", 1)};
  deliver(*sink, last);
  const std::string after = p.drain();
  EXPECT_TRUE(after.ends_with("\n" + alert_to_json(last[0]) + "\n") || after == alert_to_json(last[0]) + "\n") << after;
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_TRUE(logged[1].starts_with("stdout sink")) << logged[1];
}

// A line longer than the pipe holds, its reader stopped: the part that fit
// is followed, once the reader reads again, by the rest of that very line
// (kept by the sink) and then the next line. Before, the cut line was ended
// with a newline: a broken JSON object on the reader's side.
TEST(StdoutSink, ALineCutByAStalledReaderIsFinishedNotBroken) {
  Pipe p;
  ASSERT_GT(::fcntl(p.write.get(), F_SETPIPE_SZ, 4096), 0);
  auto counters = std::make_shared<SinkCounters>();
  auto sink = make_stdout_sink(SinkFormat::json, p.write.get(), counters, nullptr);
  std::vector<Alert> big{make_alert("big", 1)};
  big[0].rule_name = std::string(10000, 'x');  // one line of more than 4 KiB
  deliver(*sink, big);                          // 4 KiB fit, then 500 ms without room
  std::string seen = p.take_available();
  EXPECT_FALSE(seen.empty());
  // The reader reads on (a thread, until the write end is closed). While
  // the outage lasts a batch only tries, so batches (empty here: the
  // agent's next scans) go on until the kept end of the line is through.
  std::string rest;
  std::atomic<std::size_t> read_bytes{0};
  std::thread reader = p.read_until_eof(rest, read_bytes);
  const std::size_t big_line = alert_to_json(big[0]).size() + 1;
  EXPECT_TRUE(testing::eventually([&] {
    deliver(*sink, std::vector<Alert>{});
    return seen.size() + read_bytes.load() >= big_line;
  }));
  const std::vector<Alert> next{make_alert("next", 2)};
  deliver(*sink, next);
  p.write.reset();
  reader.join();
  EXPECT_EQ(seen + rest, alert_to_json(big[0]) + "\n" + alert_to_json(next[0]) + "\n");
}

// fd 1 given read-only (a pipe's read end): the sink must not make itself
// a writable description of that pipe through /proc/self/fd. Before, the
// reopen asked for O_WRONLY whatever fd 1 was, and the alert went into the
// pipe the agent was only meant to read.
// A read-only fd 1 fails with EBADF at once, said as such. Before, it was
// written through poll() first: a pipe's read end never reports POLLOUT, so
// the batch waited its whole 500 ms and was logged as "stdout is not being
// read" (ETIMEDOUT), and the sink was marked stalled.
TEST(StdoutSink, AReadOnlyStdoutIsNotReopenedForWriting) {
  Pipe p;
  auto counters = std::make_shared<SinkCounters>();
  std::vector<std::string> logged;
  auto sink = make_stdout_sink(SinkFormat::json, p.read.get(), counters,
                               [&](std::string_view m) { logged.emplace_back(m); });
  deliver(*sink, std::vector<Alert>{make_alert("r", 1)});
  EXPECT_EQ(counters->errors.load(), 1u);  // EBADF, as a write to fd 1 would be
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0], "stdout sink: write failed: Bad file descriptor (further failures are counted, not logged, "
                       "until it works again)");
  p.write.reset();
  char buf[64];
  EXPECT_EQ(::read(p.read.get(), buf, sizeof buf), 0);  // nothing went into the pipe
}

// The fallback (probe of session 13's stdout fix): when fd 1 cannot be
// opened again through /proc/self/fd (here: a pipe of root's, written by a
// process that became nobody, which may write its inherited end but not
// open the pipe), a line larger than the pipe's free space must not block
// the agent either. The writer, a child that switched to nobody, hands a
// line of more than 64 KiB to a pipe nobody reads: its deliver() returns
// within the budget, and once the pipe is read again the rest of that very
// line follows, then the next line. Before, the write of the whole line
// after poll() blocked until someone read.
TEST(StdoutSink, TheFallbackWithoutReopenDoesNotBlockOnALineLargerThanThePipe) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the writer as another user";
  Pipe data, report, go;  // report: child -> parent; go: parent -> child
  std::vector<Alert> big{make_alert("big", 1)};
  big[0].rule_name = std::string(100000, 'x');  // one line of more than the pipe's 64 KiB
  const std::vector<Alert> next{make_alert("next", 2)};
  const std::string big_line = alert_to_json(big[0]) + "\n";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(10);
    // The setting this test is about: the sink cannot reopen fd 1's pipe.
    const std::string self = "/proc/self/fd/" + std::to_string(data.write.get());
    if (::open(self.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC) >= 0) ::_exit(11);
    auto sink = make_stdout_sink(SinkFormat::json, data.write.get(), std::make_shared<SinkCounters>(), nullptr);
    deliver(*sink, big);
    if (::write(report.write.get(), "d", 1) != 1) ::_exit(12);
    // The agent's later batches (empty here) until the parent has read the
    // big line's start and reads on; then the next alert.
    for (;;) {
      deliver(*sink, std::vector<Alert>{});
      pollfd p{.fd = go.read.get(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 10) > 0) break;
    }
    deliver(*sink, next);
    ::_exit(0);
  }
  data.write.reset();
  report.write.reset();
  go.read.reset();
  // A generous bound so that the test ends either way.
  pollfd p{.fd = report.read.get(), .events = POLLIN, .revents = 0};
  const bool returned = ::poll(&p, 1, 60000) == 1;
  if (!returned) ::kill(pid, SIGKILL);  // our child, by its pid
  const std::string seen = data.take_available();
  if (!returned) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    FAIL() << "deliver() blocked on a line larger than the pipe; " << seen.size() << " bytes were written";
  }
  char d = 0;
  if (::read(report.read.get(), &d, 1) != 1) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    FAIL() << "the writer ended before it wrote: exit " << WEXITSTATUS(status) << " (11: the reopen worked)";
  }
  EXPECT_FALSE(seen.empty());
  EXPECT_LT(seen.size(), big_line.size());
  // The line's start, not cut by a newline (compared as a bool: the line is 100 KB).
  EXPECT_TRUE(seen == big_line.substr(0, seen.size())) << seen.size() << " bytes";
  std::string rest;
  std::atomic<std::size_t> read_bytes{0};
  std::thread reader = data.read_until_eof(rest, read_bytes);
  EXPECT_TRUE(testing::eventually([&] { return seen.size() + read_bytes.load() >= big_line.size(); }));
  EXPECT_EQ(::write(go.write.get(), "g", 1), 1);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  reader.join();  // EOF: the child's end is closed with it
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string expected = big_line + alert_to_json(next[0]) + "\n";
  const std::string got = seen + rest;
  EXPECT_TRUE(got == expected) << got.size() << " bytes, expected " << expected.size() << "; the last of them: "
                               << got.substr(got.size() - std::min<std::size_t>(200, got.size()));
}

}  // namespace
}  // namespace airssys::daemoneye::detail
