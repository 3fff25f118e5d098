// The real daemoneye-agent when its audit ledger refuses a scan's alerts:
// the Sigma rules' marks go back to where they were (agent.cpp, Agent::Impl
// on_collection), so nothing of those alerts is raised, the mark stored in
// sigma_marks stays below the refused event, the next scans read that event
// again, and once the ledger takes appends the alert is raised; an agent
// stopped while the ledger refused reads the event after its restart.
//
// The ledger refuses for real: its `entries` file is made immutable
// (FS_IOC_SETFLAGS, FS_IMMUTABLE_FL) while the agent holds it open, so its
// pwrite fails with EPERM as on any write error (ext4 checks the flag on
// open files too). Root only (CAP_LINUX_IMMUTABLE); skipped otherwise or on
// a file system without the flag.

#include "harness.hpp"
#include "store_query.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace detest {
namespace {

// FS_IMMUTABLE_FL on a file until lift() or the end of the object. ok() is
// false (and error() says why) when it could not be set; unsupported() tells
// "this file system or this process cannot have it" (a reason to skip) from
// anything else, e.g. the ledger's file not being where the test expects
// (a reason to fail).
class Immutable {
 public:
  explicit Immutable(const fs::path& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) {
    if (fd_ < 0 || !change(true)) {
      errno_ = errno;
      error_ = path.string() + ": " + std::strerror(errno);
    }
    set_ = error_.empty();
  }
  ~Immutable() {
    lift();
    if (fd_ >= 0) ::close(fd_);
  }
  Immutable(const Immutable&) = delete;
  Immutable& operator=(const Immutable&) = delete;
  void lift() {
    if (set_) {
      EXPECT_TRUE(change(false)) << std::strerror(errno);
    }
    set_ = false;
  }
  [[nodiscard]] bool ok() const { return set_; }
  [[nodiscard]] bool unsupported() const {
    return errno_ == ENOTTY || errno_ == EOPNOTSUPP || errno_ == EINVAL || errno_ == EPERM;
  }
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  bool change(bool on) {
    int flags = 0;
    if (::ioctl(fd_, FS_IOC_GETFLAGS, &flags) != 0) return false;
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    return ::ioctl(fd_, FS_IOC_SETFLAGS, &flags) == 0;
  }
  int fd_ = -1;
  bool set_ = false;
  int errno_ = 0;
  std::string error_;
};

// A shell whose command line holds `marker`, blocked reading a pipe the
// test holds: no child of its own; it exits when the object goes.
class MarkerProcess {
 public:
  explicit MarkerProcess(const std::string& marker) {
    if (::pipe2(pipe_, O_CLOEXEC) != 0) return;
    proc_ = std::make_unique<airssys::testing::Child>(std::vector<std::string>{"/bin/sh", "-c", "read x; : " + marker},
                                                      airssys::testing::SpawnOptions{.stdin_fd = pipe_[0]});
  }
  ~MarkerProcess() {
    for (int fd : pipe_)
      if (fd >= 0) ::close(fd);
    if (proc_) (void)proc_->wait(60s);  // EOF on its stdin: it exits
  }
  MarkerProcess(const MarkerProcess&) = delete;
  MarkerProcess& operator=(const MarkerProcess&) = delete;
  [[nodiscard]] pid_t pid() const { return proc_ ? proc_->pid() : -1; }

 private:
  int pipe_[2] = {-1, -1};
  std::unique_ptr<airssys::testing::Child> proc_;
};

// An agent in a temp dir with one Sigma rule matching a marker no other
// process's command line holds, and the process that holds it.
class AgentSigmaMarks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "making the ledger's file immutable needs root";
    write_marker_rule(ad.rules / "marker.yml", "marks marker", kRule, marker);
    ad.write_config();
  }

  // The ledger's entries file made immutable: every append fails.
  std::unique_ptr<Immutable> refuse_ledger() { return std::make_unique<Immutable>(ad.var / "ledger" / "entries"); }
  // The marker's process creation in process_events (-1 until stored).
  std::int64_t marker_event() {
    return count_rows(db, fmt::format("SELECT min(id) FROM process_events WHERE cmdline LIKE '%{}%' AND "
                                      "(event = 'exec' OR (event = 'start' AND source = 'poll'))",
                                      marker));
  }
  // The rule's mark in sigma_marks (-1 when it has none).
  std::int64_t stored_mark() {
    return count_rows(db, fmt::format("SELECT covered FROM sigma_marks WHERE rule_id = '{}'", kRule));
  }
  // Lines of the agent's log saying a scan's alerts were not raised.
  std::size_t refusals() {
    const std::string text = slurp(ad.log);
    std::size_t n = 0;
    for (auto at = text.find("not raised: audit ledger"); at != std::string::npos;
         at = text.find("not raised: audit ledger", at + 1))
      ++n;
    return n;
  }
  // The marker's alerts in the file sink.
  std::size_t marker_alerts(pid_t pid) {
    return static_cast<std::size_t>(std::ranges::count_if(ad.alert_lines(), [&](const nlohmann::json& j) {
      return j.value("rule_id", "") == kRule && j["row"].value("pid", -1) == pid;
    }));
  }
  // The marker: a shell whose command line holds it.
  std::unique_ptr<MarkerProcess> start_marker() {
    auto m = std::make_unique<MarkerProcess>(marker);
    EXPECT_GT(m->pid(), 0);
    return m;
  }
  void stop(Child& agent) {
    agent.signal(SIGTERM);
    const auto rc = agent.wait(60s);
    ASSERT_TRUE(rc.has_value()) << slurp(ad.log);
    EXPECT_EQ(*rc, 0) << slurp(ad.log);
  }

  static constexpr const char* kRule = "marks-marker";
  AgentDir ad;
  const std::string marker = fmt::format("airssys-marks-{}", ::getpid());
  const fs::path db = ad.var / "daemoneye.db";
};

TEST_F(AgentSigmaMarks, RefusedAlertsAreRaisedByALaterScanAndTheStoredMarkStays) {
  auto agent = ad.start_agent_scanned();
  auto refused = refuse_ledger();
  if (!refused->ok() && refused->unsupported()) GTEST_SKIP() << "cannot make the ledger immutable here: " << refused->error();
  ASSERT_TRUE(refused->ok()) << refused->error();
  auto marker_proc = start_marker();
  std::int64_t event = 0;
  ASSERT_TRUE(eventually([&] { return (event = marker_event()) > 0; })) << slurp(ad.log);

  // Two scans in a row refuse it: the second read the event again.
  const std::size_t before = refusals();
  ASSERT_TRUE(eventually([&] { return refusals() >= before + 2; }))
      << "the scan after a refusal did not read the refused event again\n" << slurp(ad.log);
  const std::int64_t mark = stored_mark();
  EXPECT_LT(mark, event) << "the refused scan's mark was stored";
  ASSERT_TRUE(eventually([&] { return refusals() >= before + 4; })) << slurp(ad.log);
  EXPECT_EQ(stored_mark(), mark);  // refused scans store no mark
  EXPECT_EQ(marker_alerts(marker_proc->pid()), 0u);

  refused->lift();
  ASSERT_TRUE(eventually([&] { return marker_alerts(marker_proc->pid()) > 0; })) << slurp(ad.log);
  ASSERT_TRUE(eventually([&] { return stored_mark() >= event; })) << slurp(ad.log);
  EXPECT_EQ(marker_alerts(marker_proc->pid()), 1u);
  stop(*agent);
}

TEST_F(AgentSigmaMarks, AnAgentStoppedWhileTheLedgerRefusedSkipsNothingAfterARestart) {
  auto agent = ad.start_agent_scanned();
  auto refused = refuse_ledger();
  if (!refused->ok() && refused->unsupported()) GTEST_SKIP() << "cannot make the ledger immutable here: " << refused->error();
  ASSERT_TRUE(refused->ok()) << refused->error();
  auto marker_proc = start_marker();
  const pid_t marker_pid = marker_proc->pid();
  std::int64_t event = 0;
  ASSERT_TRUE(eventually([&] { return (event = marker_event()) > 0; })) << slurp(ad.log);
  const std::size_t before = refusals();
  ASSERT_TRUE(eventually([&] { return refusals() >= before + 1; })) << slurp(ad.log);
  // Gone before the restart: nothing but its stored event can raise it.
  marker_proc.reset();
  stop(*agent);
  EXPECT_LT(stored_mark(), event) << "the refused scan's mark was stored";
  EXPECT_EQ(marker_alerts(marker_pid), 0u);

  refused->lift();  // before the start: the ledger opens its files for writing
  agent = ad.start_agent_scanned();
  ASSERT_TRUE(eventually([&] { return marker_alerts(marker_pid) > 0; })) << slurp(ad.log);
  ASSERT_TRUE(eventually([&] { return stored_mark() >= event; })) << slurp(ad.log);
  EXPECT_EQ(marker_alerts(marker_pid), 1u);
  stop(*agent);
}

}  // namespace
}  // namespace detest
