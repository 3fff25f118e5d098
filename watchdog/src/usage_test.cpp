// `status` samples a live task's cgroup files, whose directory comes from a
// registry record: a FIFO planted at cpu.stat, memory.current or the v1
// memory.usage_in_bytes must not hang it. The sample runs in a forked child
// so that a hang is a failure here, not a stuck test.
#include "proc.hpp"
#include "usage.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace airssys::watchdog;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/wd-usage-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

// The exit status of `fn` run in a forked child; -1 if it did not end within
// the bound (it is then killed — it is ours).
template <class Fn>
int in_child(Fn fn, std::chrono::seconds bound) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  const auto until = std::chrono::steady_clock::now() + bound;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(20ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

}  // namespace

TEST(Usage, FifosAtTheCgroupFilesDoNotHangTheSample) {
  TempDir v2, v1;
  ASSERT_FALSE(v2.path.empty());
  ASSERT_FALSE(v1.path.empty());
  for (const auto& f : {v2.path / "cpu.stat", v2.path / "memory.current", v1.path / "memory.usage_in_bytes"}) {
    ASSERT_EQ(::mkfifo(f.c_str(), 0600), 0) << f;
  }
  const int rc = in_child(
      [&] {
        TaskProcesses t;
        t.cgroup = v2.path.string();
        t.v1["memory"] = v1.path.string();
        t.leader = ::getpid();
        const auto st = read_proc_stat(::getpid());
        if (!st) return 3;
        t.leader_start = st->start_time;
        const auto u = sample_usage(t, 10ms);
        // The FIFOs are not cgroup files: memory falls back to the RSS sum.
        return u && u->processes == 1 && u->memory_source == "rss-sum" ? 0 : 1;
      },
      60s);
  EXPECT_EQ(rc, 0) << (rc == -1 ? "the sample hung on a FIFO" : "the sample did not fall back to /proc");
}

TEST(Usage, RegularCgroupFilesAreRead) {
  TempDir v2;
  ASSERT_FALSE(v2.path.empty());
  std::ofstream(v2.path / "memory.current") << "12345\n";
  TaskProcesses t;
  t.cgroup = v2.path.string();
  t.leader = ::getpid();
  const auto st = read_proc_stat(::getpid());
  ASSERT_TRUE(st);
  t.leader_start = st->start_time;
  const auto u = sample_usage(t, 10ms);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->memory_source, "memory.current");
  EXPECT_EQ(u->memory_bytes, 12345u);
}
