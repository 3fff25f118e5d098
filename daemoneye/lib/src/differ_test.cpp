// diff() over hand-made collections: start, stop, exec, pid reuse, order.

#include <airssys/daemoneye/differ.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace airssys::daemoneye {
namespace {

ProcessRecord rec(std::int64_t pid, std::uint64_t ticks, std::string path = "/bin/x", std::uint64_t ino = 10) {
  ProcessRecord r;
  r.pid = pid;
  r.start_ticks = ticks;
  r.path = std::move(path);
  r.exe_dev = ino ? 1 : 0;
  r.exe_ino = ino;
  r.name = "p" + std::to_string(pid);
  return r;
}

std::vector<std::pair<EventKind, std::int64_t>> kinds(const std::vector<ProcessEvent>& ev) {
  std::vector<std::pair<EventKind, std::int64_t>> out;
  for (const auto& e : ev) out.emplace_back(e.kind, e.process.pid);
  return out;
}

using K = EventKind;
using V = std::vector<std::pair<EventKind, std::int64_t>>;

TEST(Differ, NothingChangedNoEvents) {
  std::vector<ProcessRecord> a{rec(1, 5), rec(2, 6)};
  auto b = a;
  b[0].cpu_percent = 50;  // other fields changing is not an event
  b[1].cwd = "/elsewhere";
  EXPECT_TRUE(diff(a, b, 100).empty());
}

TEST(Differ, StartStopExecInThatOrder) {
  std::vector<ProcessRecord> prev{rec(1, 5), rec(2, 6), rec(3, 7)};
  std::vector<ProcessRecord> cur{rec(1, 5), rec(3, 7, "/bin/y", 11), rec(9, 20), rec(8, 19)};
  auto ev = diff(prev, cur, 1234);
  EXPECT_EQ(kinds(ev), (V{{K::stop, 2}, {K::exec, 3}, {K::start, 8}, {K::start, 9}}));
  for (const auto& e : ev) {
    EXPECT_EQ(e.time, 1234);
    EXPECT_EQ(e.source, EventSource::poll);
  }
  EXPECT_EQ(ev[0].process, prev[1]);  // stop carries the last record seen
  EXPECT_EQ(ev[1].process, cur[1]);   // exec carries the new state
  EXPECT_EQ(ev[1].path_from, PathFrom::proc);  // its path read from /proc after the exec
  EXPECT_EQ(ev[0].path_from, PathFrom::none);
  EXPECT_EQ(ev[2].process, cur[3]);
}

TEST(Differ, RecycledPidIsStopThenStart) {
  std::vector<ProcessRecord> prev{rec(7, 100)};
  std::vector<ProcessRecord> cur{rec(7, 250)};
  auto ev = diff(prev, cur, 1);
  EXPECT_EQ(kinds(ev), (V{{K::stop, 7}, {K::start, 7}}));
  EXPECT_EQ(ev[0].process.start_ticks, 100u);
  EXPECT_EQ(ev[1].process.start_ticks, 250u);
}

TEST(Differ, FirstAndEmptyCollections) {
  std::vector<ProcessRecord> some{rec(1, 1), rec(2, 2)};
  EXPECT_EQ(kinds(diff({}, some, 1)), (V{{K::start, 1}, {K::start, 2}}));
  EXPECT_EQ(kinds(diff(some, {}, 1)), (V{{K::stop, 1}, {K::stop, 2}}));
  EXPECT_TRUE(diff({}, {}, 1).empty());
}

TEST(Differ, StartsOrderedByStartTicksParentsFirst) {
  std::vector<ProcessRecord> cur{rec(300, 50), rec(100, 70), rec(200, 50), rec(50, 60)};
  EXPECT_EQ(kinds(diff({}, cur, 1)), (V{{K::start, 200}, {K::start, 300}, {K::start, 50}, {K::start, 100}}));
}

TEST(Differ, ImageChanged) {
  const auto a = rec(1, 1, "/bin/a", 10);
  EXPECT_FALSE(image_changed(a, a));
  EXPECT_TRUE(image_changed(a, rec(1, 1, "/bin/a", 11)));   // same path, new inode (replaced binary exec'd)
  EXPECT_TRUE(image_changed(a, rec(1, 1, "/bin/b", 0)));    // inode unknown now: paths decide
  EXPECT_FALSE(image_changed(a, rec(1, 1, "", 0)));         // nothing known now (permission): no change
  EXPECT_FALSE(image_changed(rec(1, 1, "", 0), rec(1, 1, "", 0)));
  auto dev = a;
  dev.exe_dev = 2;
  EXPECT_TRUE(image_changed(a, dev));
  // Same inode, path reported differently (renamed while running): not an exec.
  EXPECT_FALSE(image_changed(a, rec(1, 1, "/bin/renamed", 10)));
}

TEST(Differ, ZombiesKeepWhatTheyWere) {
  auto alive = rec(5, 50, "/usr/bin/app", 42);
  alive.cmdline = "app --serve";
  alive.cwd = "/srv";
  alive.root = "/";
  alive.sha256 = std::string(64, 'f');
  alive.on_disk = 1;
  alive.state = "S";
  ProcessRecord zombie = rec(5, 50, "", 0);
  zombie.state = "Z";
  zombie.on_disk = -1;
  ProcessRecord other_zombie = rec(6, 60, "", 0);  // never seen alive: stays as it is
  other_zombie.state = "Z";
  std::vector<ProcessRecord> prev{alive};
  std::vector<ProcessRecord> cur{zombie, other_zombie};
  carry_over_zombies(prev, cur);
  EXPECT_EQ(cur[0].path, "/usr/bin/app");
  EXPECT_EQ(cur[0].cmdline, "app --serve");
  EXPECT_EQ(cur[0].cwd, "/srv");
  EXPECT_EQ(cur[0].exe_ino, 42u);
  EXPECT_EQ(cur[0].sha256, alive.sha256);
  EXPECT_EQ(cur[0].on_disk, 1);
  EXPECT_EQ(cur[0].state, "Z");
  EXPECT_EQ(cur[1].path, "");
  // No exec event for a process that merely died.
  EXPECT_TRUE(diff(prev, std::vector<ProcessRecord>{cur[0]}, 1).empty());
  // A recycled pid is another process: nothing carried.
  std::vector<ProcessRecord> recycled{zombie};
  recycled[0].start_ticks = 51;
  carry_over_zombies(prev, recycled);
  EXPECT_EQ(recycled[0].path, "");
}

}  // namespace
}  // namespace airssys::daemoneye
