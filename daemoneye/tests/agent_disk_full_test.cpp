// daemoneye-agent on a full disk (probe finding 11): its state directory on a
// small tmpfs, mounted in a private mount namespace this test makes for
// itself (the agent and procmond inherit it), then filled.
//
// - the store's failure is logged once per outage, not once per batch;
// - status.json keeps being written (over its own bytes: no room for a new
//   file), so `daemoneye-cli status` names the store failure and when it
//   began, not "its scan loop may be stuck";
// - once room is made, the store writes again and status says running.
//
// Root only (mount namespaces and tmpfs).

#include "harness.hpp"
#include "store_query.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace detest {
namespace {

// Writes zeros into `file` until the file system is full.
void fill(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::string zeros(64 * 1024, '\0');
  for (;;) {
    const ssize_t n = ::write(fd, zeros.data(), zeros.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  ::close(fd);
}

std::size_t count_of(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(AgentDiskFull, TheStoreFailureIsLoggedOnceAndStatusNamesIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "a private mount namespace and a tmpfs need root";
  if (cli_bin().empty()) GTEST_SKIP() << "DAEMONEYE_CLI_BIN is not set: run this test through ctest";
  // This test process only (gtest runs the file's tests in one process; this
  // is its only test): the host's mounts are not touched.
  ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
  ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
  AgentDir ad;
  fs::create_directories(ad.var);
  ASSERT_EQ(::mount("tmpfs", ad.var.c_str(), "tmpfs", 0, "size=8m,mode=0700"), 0) << std::strerror(errno);
  write_self_rule(ad.rules);
  ad.write_config();
  const fs::path db = ad.var / "daemoneye.db";
  auto agent = ad.start_agent();
  ASSERT_TRUE(eventually([&] { return count_rows(db, "SELECT count(*) FROM scans") > 0; }, 60s)) << slurp(ad.log);

  fill(ad.var / "filler");
  const auto status = [&] { return run_cli({"--config", ad.config.string(), "status", "--json"}, ad.dir.path()); };
  Outcome st;
  ASSERT_TRUE(eventually([&] {
    st = status();
    return st.out.find("its store has been failing since") != std::string::npos;
  }, 60s)) << st.out << st.err << slurp(ad.log);
  const auto j = nlohmann::json::parse(st.out);
  EXPECT_GT(j["status"]["store"]["failing_since"].get<std::int64_t>(), 0) << st.out;
  EXPECT_EQ(j["agent"]["reason"].get<std::string>().find("may be stuck"), std::string::npos) << st.out;
  // Some scans' worth of failing writes later, still one line for the outage.
  const auto failures = [&] { return j["status"]["store"]["store_failures"].get<std::uint64_t>(); };
  ASSERT_GE(failures(), 1u);
  ASSERT_TRUE(eventually([&] {
    auto again = nlohmann::json::parse(status().out, nullptr, false);
    return !again.is_discarded() && again["status"]["store"]["store_failures"].get<std::uint64_t>() >= 4;
  }, 60s)) << slurp(ad.log);
  const std::string log = slurp(ad.log);
  EXPECT_EQ(count_of(log, "storing process events failed") + count_of(log, "storing a collection failed"), 1u) << log;
  EXPECT_LE(count_of(log, "the store backlog is full"), 1u) << log;

  fs::remove(ad.var / "filler");
  ASSERT_TRUE(eventually([&] { return slurp(ad.log).find("the store writes again") != std::string::npos; }, 60s))
      << slurp(ad.log);
  // The recovery is logged before status.json is rewritten, and status
  // exits 0 during a short outage too: wait for the file to say it.
  ASSERT_TRUE(eventually([&] {
    st = status();
    const auto now = nlohmann::json::parse(st.out, nullptr, false);
    return st.code == 0 && !now.is_discarded() && now["status"]["store"]["failing_since"] == 0;
  }, 60s)) << st.out << st.err << slurp(ad.log);
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait(60s).value_or(-1), 0) << slurp(ad.log);
  agent.reset();
  ::umount2(ad.var.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace detest
