// daemoneye-agent when its store cannot write: the real agent, with its real
// procmond, whose every file write past the first byte fails (its
// RLIMIT_FSIZE lowered to 1 byte from outside with prlimit; the agent ignores
// SIGXFSZ, so each write returns EFBIG as on a file system that refuses
// it). Process events procmond delivers meanwhile are kept, not dropped,
// and are in the store once the limit is lifted; status.json counts the
// failures and shows nothing pending afterwards.

#include "harness.hpp"

#include <airssys/daemoneye/agent_status.hpp>

#include <fmt/format.h>
#include <sqlite3.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

// pids with a `kinds` event (an SQL list) whose executable path contains `marker`.
std::set<std::int64_t> pids_with_event(const fs::path& db, const std::string& kinds, const std::string& marker) {
  std::set<std::int64_t> out;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    const std::string sql =
        fmt::format("SELECT pid FROM process_events WHERE event IN ({}) AND path LIKE '%{}%'", kinds, marker);
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK)
      while (sqlite3_step(st) == SQLITE_ROW) out.insert(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

// The agent's log through a FIFO: the file size limit would cut a log file
// (a regular file) to one byte too. Read on a thread until every writer
// (the agent and procmond) has closed it.
class LogPipe {
 public:
  explicit LogPipe(fs::path path) : path_(std::move(path)) {
    if (::mkfifo(path_.c_str(), 0600) != 0) return;
    reader_ = std::thread([this] {
      const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return;
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::lock_guard lock(mu_);
        text_.append(buf, static_cast<std::size_t>(n));
      }
      ::close(fd);
    });
  }
  ~LogPipe() {
    if (reader_.joinable()) reader_.join();
  }
  [[nodiscard]] const fs::path& path() const { return path_; }
  [[nodiscard]] std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  fs::path path_;
  mutable std::mutex mu_;
  std::string text_;
  std::thread reader_;
};

bool set_file_size_limit(pid_t pid, rlim_t soft) {
  rlimit old{};
  if (::prlimit(pid, RLIMIT_FSIZE, nullptr, &old) != 0) return false;
  rlimit now{.rlim_cur = soft == RLIM_INFINITY ? old.rlim_max : soft, .rlim_max = old.rlim_max};
  return ::prlimit(pid, RLIMIT_FSIZE, &now, nullptr) == 0;
}

TEST(AgentStoreRetry, EventsDeliveredWhileTheStoreFailsAreStoredOnceItWritesAgain) {
  ASSERT_FALSE(agent_bin().empty()) << "DAEMONEYE_AGENT_BIN is not set: run this test through ctest";
  TempDir dir;
  const fs::path var = dir.path() / "var", rules = dir.path() / "rules";
  const fs::path db = var / "daemoneye.db", config = dir.path() / "config.yaml";
  fs::create_directories(rules);
  ::chmod(rules.c_str(), 0700);
  write_file(config, fmt::format("database: {{ path: {} }}\nscan: {{ interval: 500ms }}\nrules: {{ dir: {} }}\n",
                                 db.string(), rules.string()));
  LogPipe log(dir.path() / "agent.log");  // before the agent: destroyed after it
  Child agent({agent_bin(), "--config", config.string()}, log.path(), log.path());
  // The first collection is stored (procmond sends start events only for processes new after it).
  ASSERT_TRUE(eventually([&] { return log.text().find("first scan stored") != std::string::npos; })) << log.text();

  ASSERT_TRUE(set_file_size_limit(agent.pid(), 1)) << std::strerror(errno);
  const std::string marker = fmt::format("de-retry-{}", ::getpid());
  std::vector<std::unique_ptr<Child>> planted;
  std::set<std::int64_t> planted_pids;
  for (int i = 0; i < 3; ++i) {
    const fs::path exe = dir.path() / fmt::format("{}-{}", marker, i);
    fs::copy_file("/bin/sleep", exe, fs::copy_options::overwrite_existing);
    fs::permissions(exe, fs::perms::owner_all);
    planted.push_back(std::make_unique<Child>(std::vector<std::string>{exe.string(), "600"}));
    planted_pids.insert(planted.back()->pid());
  }
  ASSERT_TRUE(eventually([&] {
    const std::string text = log.text();
    return text.find("storing process events failed") != std::string::npos ||
           text.find("storing a collection failed") != std::string::npos;
  })) << log.text();
  // Polling alone sees a process only at a collection: give procmond four
  // intervals to see them before they end (kernel sources see them at once).
  std::this_thread::sleep_for(2s);
  // Still nothing of them in the store, and the agent is alive.
  EXPECT_TRUE(pids_with_event(db, "'start', 'exec'", marker).empty());
  EXPECT_EQ(::kill(agent.pid(), 0), 0) << "the agent died when its store failed:\n" << log.text();
  // Their stops, too, happen while the store fails.
  for (auto& p : planted) {
    p->signal(SIGKILL);
    (void)p->wait(10s);
  }
  ASSERT_TRUE(eventually([&] { return log.text().find("kept for a retry") != std::string::npos; })) << log.text();
  std::this_thread::sleep_for(2s);  // as above, for their stop events

  ASSERT_TRUE(set_file_size_limit(agent.pid(), RLIM_INFINITY)) << std::strerror(errno);
  EXPECT_TRUE(eventually([&] { return pids_with_event(db, "'start', 'exec'", marker) == planted_pids; }))
      << "start events kept during the failure were not stored:\n" << log.text();
  EXPECT_TRUE(eventually([&] { return pids_with_event(db, "'stop'", marker) == planted_pids; }))
      << "stop events kept during the failure were not stored:\n" << log.text();
  EXPECT_TRUE(eventually([&] { return log.text().find("the store writes again") != std::string::npos; })) << log.text();

  std::optional<de::AgentStatus> status;
  EXPECT_TRUE(eventually([&] {
    auto s = de::read_status_file(var / "status.json");
    if (!s || !*s) return false;
    status = **s;
    return status->store.store_failures >= 1 && status->store.batches_pending == 0;
  })) << slurp(var / "status.json");
  if (status) {
    EXPECT_EQ(status->store.events_pending, 0u);
    EXPECT_EQ(status->store.events_dropped, 0u);
    EXPECT_FALSE(status->store.last_error.empty());
  }
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait().value_or(-1), 0) << log.text();
}

}  // namespace
}  // namespace detest
