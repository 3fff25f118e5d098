// The stdout sink writing into a real pipe.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>

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

}  // namespace
}  // namespace airssys::daemoneye::detail
