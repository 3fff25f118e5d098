// daemoneye-agent with its stdout sink on a pipe whose reader never reads
// (probe 13 finding 7). Before, the sink's blocking write(2) held the scan
// loop once the pipe was full: no scan, no status, and SIGTERM went unread
// (only SIGKILL ended the agent). Now the write gives up after a bounded
// wait, counts a sink error, logs it once, and the agent goes on.

#include "harness.hpp"

#include <airssys/osl/unique_fd.hpp>

#include <fmt/format.h>

#include <fcntl.h>

namespace detest {
namespace {

std::int64_t status_field(const fs::path& status, const char* section, const char* key) {
  auto j = nlohmann::json::parse(slurp(status), nullptr, false);
  if (j.is_discarded() || !j.contains(section) || !j[section].is_object()) return -1;
  const auto& s = j[section];
  return s.contains(key) && s[key].is_number_integer() ? s[key].get<std::int64_t>() : -1;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(AgentStdoutStall, AReaderThatStopsReadingNeitherFreezesTheAgentNorKeepsItFromStopping) {
  AgentDir f;
  ::chmod(f.rules.c_str(), 0755);
  // Every process, every scan (no dedup, no rate limit): far more than the
  // pipe holds, and a failure on every scan once it is full.
  write_file(f.rules / "all.yaml", "id: all\nname: Every process\nseverity: high\n"
                                   "query: SELECT pid, name, start_time FROM processes\n");
  ::chmod((f.rules / "all.yaml").c_str(), 0644);
  write_file(f.config, fmt::format("database: {{ path: {}/daemoneye.db }}\nscan: {{ interval: 500ms }}\n"
                                   "rules: {{ dir: {} }}\n"
                                   "alerts:\n  dedup_window: 0s\n  rate_limit: 0\n  sinks:\n"
                                   "    - {{ type: stdout, format: json }}\n",
                                   f.var.string(), f.rules.string()));
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  airssys::osl::UniqueFd read_end(fds[0]), write_end(fds[1]);
  ASSERT_GT(::fcntl(write_end.get(), F_SETPIPE_SZ, 4096), 0);  // full after a few alerts
  // The reader: holds the read end and never reads.
  airssys::testing::Child reader({"sleep", "100000"}, {.stdin_fd = read_end.get()});
  read_end.reset();
  airssys::testing::Child agent({agent_bin(), "--config", f.config.string()},
                                {.stderr_path = f.log, .stdout_fd = write_end.get()});
  write_end.reset();
  const fs::path status = f.var / "status.json";

  // Alerts are raised and the sink fails: the pipe is full.
  ASSERT_TRUE(eventually([&] { return status_field(status, "alerts", "sink_errors") > 0; }))
      << slurp(f.log) << slurp(status);
  // ... and the scans go on.
  const std::int64_t done = status_field(status, "scans", "done");
  EXPECT_TRUE(eventually([&] { return status_field(status, "scans", "done") >= done + 3; })) << slurp(status);
  const std::int64_t errors = status_field(status, "alerts", "sink_errors");
  EXPECT_TRUE(eventually([&] { return status_field(status, "alerts", "sink_errors") > errors; })) << slurp(status);
  // One line for the outage, not one per failed batch.
  const std::string log = slurp(f.log);
  EXPECT_EQ(count_of(log, "stdout sink: stdout is not being read"), 1u) << log;

  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(std::chrono::minutes(5)).value_or(-1), 0) << slurp(f.log);
  EXPECT_EQ(reader.exited(), false);  // it was there, not reading, all along
}

}  // namespace
}  // namespace detest
