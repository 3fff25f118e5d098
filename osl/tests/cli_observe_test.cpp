// airssys-osl's observability flags against the real binary: --traceparent
// and $TRACEPARENT carried into the audit records (the flag wins, a bad
// flag stops the run, a bad inherited variable is ignored), --audit-syslog to a unix datagram socket the test
// binds, and a syslog nobody listens on stopping exec before the program.

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <poll.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <airssys/osl/unique_fd.hpp>
#include <airssys/testing/run.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>

namespace {

namespace stdfs = std::filesystem;
using ::testing::HasSubstr;

constexpr const char* kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr const char* kOther = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

std::string binary() {
  const char* v = std::getenv("AIRSSYS_OSL_BIN");
  return v == nullptr ? std::string() : std::string(v);
}

using airssys::testing::read_file;

class CliObserve : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(binary().empty()) << "AIRSSYS_OSL_BIN is not set (run the test through ctest)";
    policy_ = (tmp_.path() / "policy.yaml").string();
    std::ofstream(policy_) << "version: 1\n"
                              "principals:\n"
                              "  tester: {}\n"
                              "rules:\n"
                              "  - id: look-and-run\n"
                              "    effect: allow\n"
                              "    principals: [tester]\n"
                              "    operations: [fs.stat, process.spawn]\n"
                              "    resources: [\"" + tmp_.path().string() + "/**\", \"/usr/bin/**\"]\n";
    log_ = tmp_.path() / "audit.jsonl";
  }

  airssys::testing::RunResult stat(std::vector<std::string> flags, std::vector<std::string> env = {}) {
    std::vector<std::string> argv{binary(), "fs", "stat", "--policy", policy_, "--principal", "tester",
                                  "--audit-log", log_.string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(policy_);
    return airssys::testing::run(argv, {.env = std::move(env), .timeout = std::chrono::seconds(30)});
  }

  airssys::testing::TempDir tmp_;
  std::string policy_;
  stdfs::path log_;
};

TEST_F(CliObserve, TraceparentFlagReachesEveryRecord) {
  const auto r = stat({"--traceparent", kTrace});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string log = read_file(log_);
  EXPECT_THAT(log, HasSubstr(R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","parent_id":"00f067aa0ba902b7",)"
                             R"("trace_flags":"01"})"));
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;
  EXPECT_EQ(log.find("\"trace_id\"", log.find('\n')) != std::string::npos, true) << "the end record too";
}

TEST_F(CliObserve, TheEnvironmentIsUsedAndTheFlagWins) {
  auto r = stat({}, {std::string("TRACEPARENT=") + kOther});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(read_file(log_), HasSubstr(R"("trace_id":"0af7651916cd43dd8448eb211c80319c")"));
  stdfs::remove(log_);
  r = stat({"--traceparent", kTrace}, {std::string("TRACEPARENT=") + kOther});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string log = read_file(log_);
  EXPECT_THAT(log, HasSubstr(R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736")"));
  EXPECT_EQ(log.find("0af7651916cd43dd8448eb211c80319c"), std::string::npos);
  stdfs::remove(log_);
  r = stat({}, {"TRACEPARENT="});  // empty counts as unset
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(log_).find("trace_id"), std::string::npos);
}

TEST_F(CliObserve, AMalformedTraceparentIsRefusedAndNothingRuns) {
  auto r = stat({"--traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("airssys-osl: --traceparent: '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01' "
                               "is not a W3C traceparent: trace-id must be lowercase hex"));
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(stdfs::exists(log_) && !read_file(log_).empty()) << read_file(log_);
}

// An inherited $TRACEPARENT that does not parse is ignored with a warning
// (W3C: a bad traceparent is dropped, not fatal); the command runs, its
// records carry no trace.
TEST_F(CliObserve, AMalformedTraceparentFromTheEnvironmentIsIgnoredWithAWarning) {
  const auto r = stat({}, {"TRACEPARENT=00-00000000000000000000000000000000-00f067aa0ba902b7-01"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("airssys-osl: warning: TRACEPARENT ignored, the records carry no trace: "
                               "'00-00000000000000000000000000000000-00f067aa0ba902b7-01' "
                               "is not a W3C traceparent: trace-id must not be all zeros"));
  EXPECT_NE(r.out, "");
  const std::string log = read_file(log_);
  EXPECT_NE(log, "");
  EXPECT_EQ(log.find("trace_id"), std::string::npos) << log;
}

TEST_F(CliObserve, AuditSyslogSendsEachRecord) {
  const std::string sock = (tmp_.path() / "log.sock").string();
  airssys::osl::UniqueFd server(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(server.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  const auto r = stat({"--audit-syslog", sock, "--audit-syslog-facility", "local3", "--traceparent", kTrace});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    pollfd p{server.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10'000), 1);
    std::string buf(65536, '\0');
    const ssize_t n = ::recv(server.get(), buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    buf.resize(static_cast<std::size_t>(n));
    got.push_back(buf);
  }
  const auto lines = read_file(log_);
  const auto first_line = lines.substr(0, lines.find('\n'));
  // local3 (19) * 8 + info (6) = 158; MSG is the same JSON line as --audit-log's.
  EXPECT_THAT(got[0], ::testing::StartsWith("<158>1 "));
  EXPECT_THAT(got[0], HasSubstr(" airssys-osl "));
  EXPECT_THAT(got[0], HasSubstr(R"( fs.stat [airssys@32473 op_id="1" event="start" principal="tester" decision="allow" )"
                                R"(rule="look-and-run" outcome="started" trace_id="4bf92f3577b34da6a3ce929d0e0e4736" )"
                                R"(parent_id="00f067aa0ba902b7" trace_flags="01"] )"));
  EXPECT_TRUE(got[0].ends_with("] " + first_line)) << got[0] << "\n" << first_line;
  EXPECT_THAT(got[1], HasSubstr(R"(event="end")"));
}

TEST_F(CliObserve, ASyslogNobodyListensOnRunsNothing) {
  const stdfs::path marker = tmp_.path() / "ran";
  const auto r = airssys::testing::run(
      {binary(), "exec", "--policy", policy_, "--principal", "tester", "--audit-syslog",
       (tmp_.path() / "nobody.sock").string(), "--", "/usr/bin/touch", marker.string()},
      {.timeout = std::chrono::seconds(30)});
  EXPECT_EQ(r.status, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr("audit log stalled, operation not executed"));
  EXPECT_THAT(r.err, HasSubstr("send failed: No such file or directory"));
  EXPECT_FALSE(stdfs::exists(marker)) << "the program ran unaudited";
}

TEST_F(CliObserve, ABadSyslogAddressOrFacilityIsAUsageError) {
  auto r = stat({"--audit-syslog", "syslog.example:514"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("airssys-osl: --audit-syslog: invalid syslog address 'syslog.example:514' (expected "
                               "/dev/log, another absolute unix socket path, udp://HOST:PORT or tcp://HOST:PORT)"));
  r = stat({"--audit-syslog", "/dev/log", "--audit-syslog-facility", "kern"});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown syslog facility 'kern'"));
}

// A path that exists but is no socket can never take a datagram: refused at
// once as a usage error. Before, it was taken, every record failed with
// "Connection refused", and the refusal came as 126 after ~9 s of retries.
TEST_F(CliObserve, ASyslogPathThatIsNoSocketIsAUsageError) {
  const auto fifo = tmp_.path() / "log.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto file = tmp_.path() / "log.txt";
  airssys::testing::write_file(file, "");
  for (const auto& [path, kind] : {std::pair{fifo, "a FIFO"}, std::pair{file, "a regular file"}}) {
    const auto r = stat({"--audit-syslog", path.string()});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("--audit-syslog: syslog " + path.string() + ": " + path.string() + " is " + kind +
                                 ", not a unix socket"));
    EXPECT_EQ(r.out, "") << "fs stat ran";
  }
}

}  // namespace
