// A command line padded to hide its end (probe 13 finding 5): `bash -c`
// with 40 KB of spaces before `: /dev/tcp/…`. Real processes, read the two
// ways procmond reads them — the /proc poll (Collector) and the eBPF exec
// event (root) — and the bundled rules over a real store: the reverse-shell
// rule over `processes` and the Sigma /dev/tcp rule over process events
// must both raise.

#include <airssys/daemoneye/collector.hpp>
#include <airssys/daemoneye/event_assembler.hpp>
#include <airssys/daemoneye/kernel_events.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/redact.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_runner.hpp>
#include <airssys/daemoneye/store.hpp>

#include "store_engine_fixture.hpp"
#include "store_test_util.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::TempDir;

const std::string kPayload = ": /dev/tcp/10.9.9.9/4444";

fs::path rules_dir() {
  if (const char* src = std::getenv("AIRSSYS_SOURCE_DIR"); src != nullptr && *src != '\0')
    return fs::path(src) / "daemoneye/rules";
  return fs::path(__FILE__).parent_path() / "../../rules";
}

// bash -c '<40 KB of spaces>sleep 600; : /dev/tcp/…' (`script` overrides),
// in a process group of its own (bash and its sleep are killed together).
struct PaddedShell {
  pid_t pid = -1;
  explicit PaddedShell(std::string script) {
    int sync[2];
    if (::pipe2(sync, O_CLOEXEC) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      const char* argv[] = {"/bin/bash", "-c", script.c_str(), nullptr};
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(sync[1]);
    char b;
    (void)!::read(sync[0], &b, 1);  // EOF once exec'd
    ::close(sync[0]);
    if (pid > 0) ::setpgid(pid, pid);
  }
  ~PaddedShell() {
    if (pid <= 0) return;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

std::string padded(std::string_view rest) { return std::string(40 * 1024, ' ') + std::string(rest); }

// The rules of `dir` that raised for `pid`, by name.
std::vector<std::string> raised_for(const fs::path& dir, QueryEngine& engine, std::int64_t pid) {
  RuleSet set = load_rules(dir, &engine);
  for (const auto& e : set.errors) ADD_FAILURE() << e.message;
  RuleRun run = run_rules(set.rules, engine, "host", std::time(nullptr));
  for (const auto& f : run.failures) ADD_FAILURE() << f.rule_id << ": " << f.message;
  std::vector<std::string> names;
  const std::string key = "\"pid\":" + std::to_string(pid) + ",";
  for (const auto& a : run.candidates) {
    if (a.row_json.find(key) != std::string::npos) names.push_back(a.rule_name);
  }
  return names;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

using CmdlinePadding = test::StoreAndEngine;

TEST_F(CmdlinePadding, ThePollSeesTheEndOfAPaddedShellAndTheRulesRaise) {
  PaddedShell sh(padded("sleep 600; " + kPayload));
  ASSERT_GT(sh.pid, 0);
  auto c = Collector::create(CollectorOptions{.hash = false, .keep_open = 0});
  ASSERT_TRUE(c) << c.error().to_string();
  auto r = (*c)->read_process(sh.pid);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_LE(r->cmdline.size(), 32u * 1024);
  EXPECT_TRUE(r->cmdline.starts_with("/bin/bash -c ")) << r->cmdline.substr(0, 40);
  EXPECT_TRUE(r->cmdline.ends_with("sleep 600; " + kPayload)) << r->cmdline.substr(r->cmdline.size() - 60);
  EXPECT_NE(r->cmdline.find(kCmdlineCut), std::string::npos);

  // The record as an exec event (the Sigma rule reads process events), then
  // in its collection, in the order procmond publishes them: a poll exec
  // of what `processes` holds already would be a copy, not stored.
  ProcessEvent e{EventKind::exec, EventSource::poll, std::time(nullptr), *r};
  ASSERT_TRUE(store_->append_events(std::vector<ProcessEvent>{e}));
  ASSERT_TRUE(store_->apply_snapshot(std::vector<ProcessRecord>{*r}));
  EXPECT_TRUE(has(raised_for(rules_dir(), *engine_, sh.pid), "Reverse shell command line"));
  EXPECT_TRUE(has(raised_for(rules_dir() / "sigma", *engine_, sh.pid), "Shell redirected to a /dev/tcp or /dev/udp socket"));
}

// Past what the poll reads (128 KiB; one argument holds at most 128 KiB, so
// the padding is two arguments and the payload a last positional one): the
// end is read apart, from argv's length in /proc/PID/stat.
TEST_F(CmdlinePadding, ThePollReadsTheEndOfAnArgvLongerThanItsReadWindow) {
  const std::string pad(100 * 1024, ' ');
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    const char* argv[] = {"/bin/bash", "-c", "sleep 600; :", "x", pad.c_str(), pad.c_str(), kPayload.c_str(), nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  struct Kill {
    pid_t pid;
    ~Kill() {
      ::kill(-pid, SIGKILL);  // bash and its sleep (their group, made by the child)
      ::kill(pid, SIGKILL);   // in case the group did not exist yet
      ::waitpid(pid, nullptr, 0);
    }
  } kill{pid};
  auto c = Collector::create(CollectorOptions{.hash = false, .keep_open = 0});
  ASSERT_TRUE(c) << c.error().to_string();
  std::string cmdline;
  for (int i = 0; i < 3000 && !cmdline.starts_with("/bin/bash"); ++i) {  // until exec'd; a bound
    auto r = (*c)->read_process(pid);
    ASSERT_TRUE(r) << r.error().to_string();
    cmdline = r->cmdline;
    if (!cmdline.starts_with("/bin/bash")) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(cmdline.starts_with("/bin/bash -c sleep 600; : x")) << cmdline.substr(0, 40);
  EXPECT_LE(cmdline.size(), 32u * 1024);
  EXPECT_TRUE(cmdline.ends_with(kPayload)) << cmdline.substr(cmdline.size() - 60);
}

// A secret in the end read apart (past the 128 KiB window) is redacted
// with the program of argv[0]: bash run as `mysql` / `curl` (argv[0] is
// what the rules see), its padding two positional arguments.
std::string poll_cmdline_of(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execv("/bin/bash", const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  struct Kill {
    pid_t pid;
    ~Kill() {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } kill{pid};
  auto c = Collector::create(CollectorOptions{.hash = false, .keep_open = 0});
  if (!c) return c.error().to_string();
  std::string cmdline;
  for (int i = 0; i < 3000 && !cmdline.starts_with(args[0]); ++i) {  // until exec'd; a bound
    auto r = (*c)->read_process(pid);
    if (!r) return r.error().to_string();
    cmdline = r->cmdline;
    if (!cmdline.starts_with(args[0])) std::this_thread::sleep_for(10ms);
  }
  return cmdline;
}

TEST_F(CmdlinePadding, ThePollRedactsSecretsInTheEndItReadsApart) {
  const std::string pad(100 * 1024, ' ');
  const std::string mysql = poll_cmdline_of({"mysql", "-c", "sleep 600; :", "x", pad, pad, "-uroot", "-pS3cret", "db"});
  ASSERT_TRUE(mysql.starts_with("mysql -c sleep 600")) << mysql.substr(0, 60);
  EXPECT_NE(mysql.find(kCmdlineCut), std::string::npos);
  EXPECT_EQ(mysql.find("S3cret"), std::string::npos) << mysql.substr(mysql.size() - 60);
  EXPECT_TRUE(mysql.ends_with(" db")) << mysql.substr(mysql.size() - 60);

  const std::string curl = poll_cmdline_of({"curl", "-c", "sleep 600; :", "x", pad, pad, "-u", "alice:pw", "https://h/"});
  ASSERT_TRUE(curl.starts_with("curl -c sleep 600")) << curl.substr(0, 60);
  EXPECT_EQ(curl.find("alice:pw"), std::string::npos) << curl.substr(curl.size() - 60);
  EXPECT_TRUE(curl.ends_with("-u alice:*** https://h/")) << curl.substr(curl.size() - 60);
}

TEST_F(CmdlinePadding, TheEbpfExecEventKeepsTheEndOfAPaddedShellAndTheRulesRaise) {
  if (::geteuid() != 0) GTEST_SKIP() << "the eBPF source needs root";
  auto source = open_ebpf_source({});
  ASSERT_TRUE(source) << source.error();
  // Lives about as long as bash takes to parse 40 KB: the exec is what counts.
  pid_t pid = -1;
  {
    PaddedShell sh(padded(kPayload));
    pid = sh.pid;
    ASSERT_GT(pid, 0);
    ::waitpid(pid, nullptr, 0);
    sh.pid = -1;
  }
  std::optional<KernelEvent> exec;
  for (int i = 0; i < 1000 && !exec; ++i) {  // at most ~10 s: a bound, not a timing check
    pollfd p{(*source)->fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
    auto n = (*source)->drain([&](KernelEvent&& k) {
      if (k.kind == KernelEvent::Kind::exec && k.pid == pid) exec = std::move(k);
    });
    ASSERT_TRUE(n) << n.error();
  }
  ASSERT_TRUE(exec) << "no exec event for " << pid;
  EXPECT_TRUE(exec->args_truncated);
  EXPECT_GT(exec->args_total, 40 * 1024);
  EXPECT_FALSE(exec->args_tail.empty()) << "the eBPF program gave no tail of argv";

  EventAssembler assembler({}, nullptr);
  auto e = assembler.assemble(std::move(*exec), EventSource::ebpf);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::exec);
  EXPECT_TRUE(e->cmdline_truncated);
  EXPECT_GT(e->cmdline_size, 40 * 1024);
  EXPECT_TRUE(e->process.cmdline.starts_with("/bin/bash -c ")) << e->process.cmdline.substr(0, 40);
  EXPECT_TRUE(e->process.cmdline.ends_with(kPayload)) << e->process.cmdline.substr(e->process.cmdline.size() - 60);

  ASSERT_TRUE(store_->append_events(std::vector<ProcessEvent>{*e}));
  EXPECT_TRUE(has(raised_for(rules_dir() / "sigma", *engine_, pid), "Shell redirected to a /dev/tcp or /dev/udp socket"));
}

}  // namespace
}  // namespace airssys::daemoneye
