#pragma once
// Registry records for the task tests (task_operations, task_unverified,
// daemon_sweep): a record as `register` would leave it for a process without
// a monitor or cgroup, written into a real registry file and read back.
// Test-only; gtest assertions inside.

#include <airssys/watchdog/registry.hpp>

#include "proc.hpp"

#include <gtest/gtest.h>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace airssys::watchdog::test {

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Found through its pid (with the start time /proc shows now), its process
// group and its descendants; a terminal state gets an end time.
inline TaskRecord record(const Registry& reg, const std::string& id, TaskState state,
                         std::optional<pid_t> pid = std::nullopt,
                         std::vector<std::string> argv = {"sh", "-c", "tree"}) {
  TaskRecord t;
  t.id = id;
  t.argv = std::move(argv);
  t.created_ms = now_ms();
  t.state = state;
  t.grace_ms = 10'000;
  t.containment.kind = ContainmentKind::process_group;
  t.stdout_log = reg.log_path(id, "stdout").string();
  t.stderr_log = reg.log_path(id, "stderr").string();
  if (pid) {
    t.pid = *pid;
    const auto st = read_proc_stat(*pid);
    EXPECT_TRUE(st) << "no /proc entry for " << *pid;
    if (st) t.pid_start_time = st->start_time;
  }
  if (is_terminal(state)) t.ended_ms = t.created_ms;
  return t;
}

inline void put(const Registry& reg, const TaskRecord& t) {
  ASSERT_TRUE(reg.update([&](RegistryData& d) -> std::expected<void, Error> {
    d.tasks.insert_or_assign(t.id, t);
    return {};
  }));
}

inline TaskRecord stored(const Registry& reg, const std::string& id) {
  auto d = reg.load();
  EXPECT_TRUE(d);
  return d ? d->tasks.at(id) : TaskRecord{};
}

}  // namespace airssys::watchdog::test
