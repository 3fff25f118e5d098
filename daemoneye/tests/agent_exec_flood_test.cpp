// The real daemoneye-agent and procmond under an exec flood (two shell
// loops running /usr/bin/true as fast as the cores allow: faster than the ASan
// agent stores events, so its event queue only grows while it runs).
//
// Detection must not stall when an attacker floods execs: the collections
// (snapshot chunks) are taken ahead of the event backlog, so scans keep being
// stored during the flood and a process a rule over `processes` flags,
// started in the middle of it, is raised within a bounded time. Before that,
// the chunks waited in one queue behind every event sent before them, and
// the alert came only once the flood's backlog was stored (a flood that lasts
// holds it back for as long as it lasts: here, past the bound).
//
// Nothing here depends on a rate: the flood ends by itself after 100000
// execs in each of two loops (a minute or more), and the bound is 3 scan intervals
// + 30 s from the planted process's start.

#include "harness.hpp"
#include "store_query.hpp"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <iostream>

namespace detest {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRule = "flood-planted";

TEST(AgentExecFlood, ScansGoOnAndAPlantedProcessIsRaisedDuringTheFlood) {
  AgentDir ad;
  // A rule over `processes` only: it runs at a scan, so only a stored
  // collection raises it (not the event path).
  const std::string marker = "3600." + std::to_string(::getpid());
  write_file(ad.rules / "planted.yaml", std::string("id: ") + kRule +
                                            "\nname: The planted sleep\nseverity: high\n"
                                            "query: SELECT pid, name, cmdline FROM processes WHERE name = 'sleep' "
                                            "AND cmdline LIKE '% " +
                                            marker + "'\n");
  ad.write_config("", "1s");
  auto agent = ad.start_agent_scanned();
  const fs::path db = ad.var / "daemoneye.db";
  ASSERT_GT(count_rows(db, "SELECT count(*) FROM scans"), 0) << "the agent stored no scan";

  // Two loops (one a core), each ending by itself after 100000 execs.
  const std::vector<std::string> loop{"/bin/sh", "-c",
                                      "i=0; while [ $i -lt 100000 ]; do /usr/bin/true; i=$((i+1)); done"};
  Child flood(loop), flood2(loop);
  ASSERT_GT(flood.pid(), 0);
  // Let a backlog build up first (not a timing assertion: longer only makes
  // the backlog the planted process is started behind larger).
  std::this_thread::sleep_for(30s);
  ASSERT_FALSE(flood.exited()) << "the flood ended early";

  const std::int64_t planted_at = ::time(nullptr);
  Child planted({"sleep", marker});
  ASSERT_GT(planted.pid(), 0);

  // Both within 3 scan intervals + 30 s of the plant.
  const auto deadline = std::chrono::steady_clock::now() + 33s;
  const auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  };
  EXPECT_TRUE(eventually([&] { return !ad.alerts_of(kRule).empty(); }, left()))
      << "no alert for the planted process within 33 s of its start while execs flood the agent; events stored: "
      << count_rows(db, "SELECT count(*) FROM process_events") << "\n"
      << slurp(ad.log);
  // Said, for whoever compares runs (not asserted).
  std::cout << ad.alerts_of(kRule).size() << " alerts " << ::time(nullptr) - planted_at
            << " s after the plant; process_events stored: "
            << count_rows(db, "SELECT count(*) FROM process_events") << std::endl;
  // Scans of collections made after the plant go on being stored meanwhile.
  const std::string newer = "SELECT count(*) FROM scans WHERE time >= " + std::to_string(planted_at);
  EXPECT_TRUE(eventually([&] { return count_rows(db, newer) >= 3; }, std::max(left(), std::chrono::milliseconds(0))))
      << "scans of collections made since the plant: " << count_rows(db, newer) << "\n"
      << slurp(ad.log);
  // Both while the flood still ran (else it proved nothing).
  EXPECT_FALSE(flood.exited()) << "the flood ended before the checks: the machine outran it";

  for (Child* f : {&flood, &flood2}) {
    f->signal(SIGKILL);
    (void)f->wait(60s);
  }
  planted.signal(SIGKILL);
  (void)planted.wait(60s);
  stop_agent(*agent, ad.log);
}

}  // namespace
}  // namespace detest
