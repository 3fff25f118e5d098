// procmond, the real binary (DAEMONEYE_PROCMOND_BIN): --once in both
// formats, usage errors, and bus mode against a real broker — a child
// started and stopped while procmond watches shows up as start and stop
// events and in complete snapshots; SIGTERM, and the death of the process
// that started it, end it with 0.

#include "harness.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>
#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/scan_assembler.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/prctl.h>

#include <set>

namespace detest {
namespace {

namespace de = airssys::daemoneye;
namespace bus = airssys::bus;
using nlohmann::json;

// `/bin/sh -c 'read x' MARKER --password s3cret` in `cwd`, blocked reading a
// pipe we hold: its argv stays ours (no exec of another program) and it
// forks nothing. Killed and reaped at scope end.
class Watched {
 public:
  Watched(const std::string& marker, const fs::path& cwd) {
    int in[2], sync[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(sync, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      const char* argv[] = {"/bin/sh", "-c", "read x", marker.c_str(), "--password", "s3cret", nullptr};
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(sync[1]);
    stdin_ = in[1];
    char b;
    (void)!::read(sync[0], &b, 1);  // EOF once exec'd
    ::close(sync[0]);
  }
  ~Watched() { stop(); }
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;
  [[nodiscard]] pid_t pid() const { return pid_; }
  void stop() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
};

std::string unique_marker() {
  return "procmond-test-marker-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

const std::set<std::string> kColumns = {
    "pid",        "parent",        "pgroup",       "sid",          "name",          "path",
    "cmdline",    "cwd",           "root",         "uid",          "gid",           "euid",
    "egid",       "suid",          "sgid",         "username",     "auid",          "on_disk",
    "state",      "threads",       "nice",         "start_time",   "user_time",     "system_time",
    "resident_size", "total_size", "disk_bytes_read", "disk_bytes_written", "cgroup_path", "tty",
    "sha256",     "cpu_percent",   "container_id", "root_is_host", "host_on_disk"};

int run(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
  std::vector<std::string> argv{procmond_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c(argv, out, err);
  auto rc = c.wait(120s);
  return rc ? *rc : -1;
}

class Procmond : public ::testing::Test {
 protected:
  void SetUp() override {
    if (procmond_bin().empty()) GTEST_SKIP() << "DAEMONEYE_PROCMOND_BIN is not set (run through ctest)";
  }
  TempDir dir;
};

TEST_F(Procmond, OnceJsonHasEveryColumnAndOurChildRedacted) {
  const std::string m = unique_marker();
  Watched child(m, dir.path());
  ASSERT_GT(child.pid(), 0);
  const fs::path out = dir.path() / "out.json", err = dir.path() / "err.txt";
  ASSERT_EQ(run({"--once", "--format", "json"}, out, err), 0) << slurp(err);
  const std::string text = slurp(out);
  EXPECT_EQ(text.find("s3cret"), std::string::npos);
  const json all = json::parse(text, nullptr, false);
  ASSERT_TRUE(all.is_array()) << text.substr(0, 200);
  ASSERT_GT(all.size(), 2u);
  const json* mine = nullptr;
  for (const auto& p : all) {
    std::set<std::string> keys;
    for (const auto& [k, v] : p.items()) keys.insert(k);
    ASSERT_EQ(keys, kColumns) << p.dump();
    if (p["pid"] == child.pid()) mine = &p;
  }
  ASSERT_NE(mine, nullptr) << "child " << child.pid() << " not listed";
  const json& p = *mine;
  EXPECT_EQ(p["cmdline"], "/bin/sh -c read x " + m + " --password ***");
  EXPECT_EQ(p["parent"], ::getpid());
  EXPECT_EQ(p["name"], "sh");
  EXPECT_EQ(p["path"], fs::canonical("/bin/sh").string());
  EXPECT_EQ(p["cwd"], fs::canonical(dir.path()).string());
  EXPECT_EQ(p["uid"], ::getuid());
  EXPECT_EQ(p["on_disk"], 1);
  EXPECT_EQ(p["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(p["threads"], 1);
  EXPECT_GT(p["start_time"].get<std::int64_t>(), 1'600'000'000);
  EXPECT_EQ(p["container_id"], "");
  EXPECT_EQ(p["root_is_host"], 1);  // our root, and its path names the image here too
  EXPECT_EQ(p["host_on_disk"], 1);
}

TEST_F(Procmond, OnceTable) {
  const std::string m = unique_marker();
  Watched child(m, dir.path());
  ASSERT_GT(child.pid(), 0);
  const fs::path out = dir.path() / "out.txt", err = dir.path() / "err.txt";
  ASSERT_EQ(run({"--once", "--format", "table", "--cpu-sample", "0"}, out, err), 0) << slurp(err);
  std::istringstream in(slurp(out));
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_TRUE(line.starts_with("    PID  PARENT USER     S  CPU%    RSS NAME            CMDLINE")) << line;
  bool found = false;
  const std::string prefix = fmt::format("{:>7} ", child.pid());
  while (std::getline(in, line)) {
    if (!line.starts_with(prefix)) continue;
    found = true;
    EXPECT_NE(line.find(" sh "), std::string::npos) << line;
    EXPECT_EQ(line.find("s3cret"), std::string::npos) << line;
  }
  EXPECT_TRUE(found) << "no row for pid " << child.pid();
}

TEST_F(Procmond, UsageErrorsExitTwoRuntimeFailureOne) {
  const fs::path out = dir.path() / "out", err = dir.path() / "err";
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--bogus"},
           {},
           {"--once", "--format", "xml"},
           {"--format", "table"},
           {"--once", "--bus", "/x.sock"},
           {"--bus", "/x.sock", "--interval", "5"},
           {"--bus", "/x.sock", "--interval", "0ms"},
           {"--once", "--hash-max-size", "lots"},
           {"--once", "--interval", "1s"}}) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(run(args, out, err), 2) << joined;
    EXPECT_FALSE(slurp(err).empty()) << joined << ": no message";
  }
  EXPECT_EQ(run({"--version"}, out, err), 0);
  EXPECT_NE(slurp(out).find("procmond "), std::string::npos);
  EXPECT_EQ(run({"--bus", (dir.path() / "nobody-listens.sock").string()}, out, err), 1);
  EXPECT_NE(slurp(err).find("cannot connect to the bus"), std::string::npos) << slurp(err);
}

// `--bus "$SOCK"` with SOCK unset was told "one of --once or --bus SOCKET
// is required", and `--btf ''` took the kernel's BTF (the run went on, to
// exit 1 here on a socket nobody serves): '' is no value, exit 2 naming the
// option.
TEST_F(Procmond, AnOptionGivenAnEmptyValueIsRefused) {
  const fs::path out = dir.path() / "out", err = dir.path() / "err";
  const std::string nowhere = (dir.path() / "nobody-listens.sock").string();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--bus", ""},
                                             {"--bus", nowhere, "--btf", ""},
                                             {"--bus", nowhere, "--interval", ""},
                                             {"--once", "--cpu-sample", ""}}) {
    const std::string option = args[args.size() - 2];
    fs::remove(out);  // Child appends
    fs::remove(err);
    EXPECT_EQ(run(args, out, err), 2) << option << ": " << slurp(err);
    EXPECT_EQ(slurp(err), "procmond: " + option + ": no value given (leave the option out for its default)\n");
    EXPECT_EQ(slurp(out), "") << option;
  }
}

// Everything a subscriber to events.process.> receives, assembled.
struct Observed {
  std::vector<de::ProcessEvent> events;  // in arrival order
  std::vector<de::Collection> scans;     // complete collections, in order
  std::vector<std::string> order;        // "event:<kind>" / "chunk:<scan_id>", in arrival order
  de::ScanAssembler assembler;

  void take(const bus::Message& m) {
    if (m.subject == de::kSubjectSnapshot) {
      auto c = de::decode_snapshot(m.payload);
      ASSERT_TRUE(c) << c.error();
      order.push_back("chunk:" + std::to_string(c->scan_id));
      EXPECT_LE(m.payload.size(), 512u * 1024);
      if (auto done = assembler.add(std::move(*c))) scans.push_back(std::move(*done));
    } else {
      auto e = de::decode_event(m.payload);
      ASSERT_TRUE(e) << e.error();
      EXPECT_EQ(m.subject, de::subject_of(e->kind));
      order.push_back("event:" + std::string(de::to_string(e->kind)));
      events.push_back(std::move(*e));
    }
  }
  std::optional<de::ProcessEvent> event(de::EventKind k, pid_t pid) const {
    for (const auto& e : events) {
      if (e.kind == k && e.process.pid == pid) return e;
    }
    return std::nullopt;
  }
};

TEST_F(Procmond, BusModePublishesEventsAndCompleteSnapshots) {
  auto broker = bus::Broker::start(bus::BrokerOptions{.socket_path = dir.path() / "bus" / "bus.sock"});
  ASSERT_TRUE(broker) << broker.error().to_string();
  auto client = bus::Client::connect(bus::ClientOptions{.socket_path = (*broker)->socket_path()});
  ASSERT_TRUE(client) << client.error().to_string();
  auto sub = (*client)->subscribe_pull(de::kSubjectAll, bus::SubscribeOptions{.policy = bus::Policy::drop_newest,
                                                                             .max_msgs = 1 << 20,
                                                                             .max_bytes = 256ull << 20});
  ASSERT_TRUE(sub) << sub.error().to_string();
  ASSERT_TRUE((*client)->flush());

  const fs::path out = dir.path() / "procmond.out", err = dir.path() / "procmond.err";
  // Polling only: this test is about the diff of collections (the real-time
  // sources have procmond_realtime_test.cpp).
  Child procmond({procmond_bin(), "--bus", (*broker)->socket_path().string(), "--interval", "200ms", "--events", "poll"},
                 out, err);
  ASSERT_GT(procmond.pid(), 0);
  Observed seen;
  auto pump_until = [&](const std::function<bool()>& done) {
    return eventually(
        [&] {
          while (auto m = sub->next(std::chrono::milliseconds(20))) seen.take(*m);
          return done();
        },
        120s);
  };

  ASSERT_TRUE(pump_until([&] { return !seen.scans.empty(); })) << slurp(err);
  // The first collection: a snapshot only, no start event per running process.
  ASSERT_FALSE(seen.order.empty());
  EXPECT_EQ(seen.order.front(), "chunk:0");
  const auto last_first = std::find(seen.order.rbegin(), seen.order.rend(), "chunk:0");
  for (auto it = seen.order.begin(); it != last_first.base(); ++it) EXPECT_EQ(*it, "chunk:0");
  EXPECT_EQ(seen.scans.front().scan_id, 0u);
  EXPECT_TRUE(std::any_of(seen.scans.front().processes.begin(), seen.scans.front().processes.end(),
                          [&](const auto& p) { return p.pid == procmond.pid(); }));

  const std::string m = unique_marker();
  Watched child(m, dir.path());
  const pid_t pid = child.pid();
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(pump_until([&] { return seen.event(de::EventKind::start, pid).has_value(); })) << slurp(err);
  const de::ProcessEvent start = *seen.event(de::EventKind::start, pid);
  EXPECT_EQ(start.process.cmdline, "/bin/sh -c read x " + m + " --password ***");
  EXPECT_EQ(start.process.parent, ::getpid());
  EXPECT_EQ(start.source, de::EventSource::poll);
  // A complete snapshot after the start holds the child.
  const std::size_t scans_at_start = seen.scans.size();
  ASSERT_TRUE(pump_until([&] { return seen.scans.size() > scans_at_start; }));
  {
    const auto& last = seen.scans.back();
    EXPECT_TRUE(std::any_of(last.processes.begin(), last.processes.end(), [&](const auto& p) { return p.pid == pid; }));
  }

  child.stop();
  ASSERT_TRUE(pump_until([&] { return seen.event(de::EventKind::stop, pid).has_value(); })) << slurp(err);
  const de::ProcessEvent stop = *seen.event(de::EventKind::stop, pid);
  EXPECT_EQ(stop.process.cmdline, start.process.cmdline);  // the last record seen
  EXPECT_EQ(stop.process.start_ticks, start.process.start_ticks);
  const std::size_t scans_at_stop = seen.scans.size();
  ASSERT_TRUE(pump_until([&] { return seen.scans.size() > scans_at_stop; }));
  {
    const auto& last = seen.scans.back();
    EXPECT_FALSE(std::any_of(last.processes.begin(), last.processes.end(), [&](const auto& p) { return p.pid == pid; }));
  }
  // Every collection arrived whole, scan ids in order.
  EXPECT_EQ(seen.assembler.incomplete(), 0u);
  for (std::size_t i = 1; i < seen.scans.size(); ++i) EXPECT_GT(seen.scans[i].scan_id, seen.scans[i - 1].scan_id);
  // A scan's events come before its chunks, never between them.
  for (std::size_t i = 0; i < seen.order.size(); ++i) {
    if (!seen.order[i].starts_with("event:")) continue;
    std::string before, after;
    for (std::size_t j = i; j-- > 0;) {
      if (seen.order[j].starts_with("chunk:")) {
        before = seen.order[j];
        break;
      }
    }
    for (std::size_t j = i + 1; j < seen.order.size(); ++j) {
      if (seen.order[j].starts_with("chunk:")) {
        after = seen.order[j];
        break;
      }
    }
    EXPECT_TRUE(before.empty() || after.empty() || before != after) << "event inside scan " << before;
  }

  procmond.signal(SIGTERM);
  const auto rc = procmond.wait(60s);
  ASSERT_TRUE(rc.has_value()) << "procmond did not stop on SIGTERM";
  EXPECT_EQ(*rc, 0) << slurp(err);
}

TEST_F(Procmond, EndsWhenTheProcessThatStartedItDies) {
  auto broker = bus::Broker::start(bus::BrokerOptions{.socket_path = dir.path() / "bus" / "bus.sock"});
  ASSERT_TRUE(broker) << broker.error().to_string();
  auto client = bus::Client::connect(bus::ClientOptions{.socket_path = (*broker)->socket_path()});
  ASSERT_TRUE(client) << client.error().to_string();
  auto sub = (*client)->subscribe_pull(de::kSubjectSnapshot);
  ASSERT_TRUE(sub) << sub.error().to_string();
  ASSERT_TRUE((*client)->flush());
  // Orphans come to us, so we can reap procmond after its parent is gone.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int pids[2];
  ASSERT_EQ(::pipe2(pids, O_CLOEXEC), 0);
  const std::string sock = (*broker)->socket_path().string();
  const std::string bin = procmond_bin();
  const fs::path err = dir.path() / "err";
  const pid_t agent = ::fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {
    // The stand-in agent: starts procmond, reports its pid, waits to be killed.
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const pid_t p = ::fork();
    if (p == 0) {
      ::dup2(e, 2);
      const char* argv[] = {bin.c_str(), "--bus", sock.c_str(), "--interval", "200ms", "--no-hash", nullptr};
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    (void)!::write(pids[1], &p, sizeof p);
    ::pause();
    ::_exit(0);
  }
  ::close(pids[1]);
  struct Reap {
    pid_t pid;
    ~Reap() {
      if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
  } agent_guard{agent};
  pid_t procmond = -1;
  ASSERT_EQ(::read(pids[0], &procmond, sizeof procmond), static_cast<ssize_t>(sizeof procmond));
  ::close(pids[0]);
  // Its first snapshot: it is past PR_SET_PDEATHSIG and collecting.
  ASSERT_TRUE(eventually([&] { return sub->next(std::chrono::milliseconds(50)).has_value(); }, 120s)) << slurp(err);
  ::kill(agent, SIGKILL);
  ASSERT_EQ(::waitpid(agent, nullptr, 0), agent);
  agent_guard.pid = -1;
  int status = 0;
  pid_t got = 0;
  ASSERT_TRUE(eventually(
      [&] {
        got = ::waitpid(procmond, &status, WNOHANG);
        return got == procmond;
      },
      60s))
      << "procmond outlived the process that started it; stderr: " << slurp(err);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << slurp(err);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

}  // namespace
}  // namespace detest
