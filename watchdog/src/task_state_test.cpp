// TaskState, ContainmentKind and KillMethod: every value has one spelling, text maps
// back to the same value, and nothing else is accepted.

#include <airssys/watchdog/task_state.hpp>

#include <gtest/gtest.h>

#include <string>

namespace airssys::watchdog {
namespace {

TEST(TaskState, EveryStateRoundTripsThroughItsSpelling) {
  const std::pair<TaskState, const char*> cases[] = {
      {TaskState::starting, "starting"}, {TaskState::running, "running"}, {TaskState::exited, "exited"},
      {TaskState::timed_out, "timed_out"}, {TaskState::killed, "killed"}, {TaskState::failed, "failed"},
  };
  for (const auto& [state, text] : cases) {
    EXPECT_EQ(to_string(state), text);
    EXPECT_EQ(task_state_from_string(text), state) << text;
  }
}

TEST(KillMethod, EveryMethodRoundTripsThroughItsSpelling) {
  const std::pair<KillMethod, const char*> cases[] = {
      {KillMethod::signals, "signals"}, {KillMethod::cgroup_kill, "cgroup.kill"}, {KillMethod::container_stop, "container stop"}};
  for (const auto& [method, text] : cases) {
    EXPECT_EQ(to_string(method), text);
    EXPECT_EQ(kill_method_from_string(text), method) << text;
  }
  for (const char* text : {"", "cgroup_kill", "Signals", "invalid"}) EXPECT_FALSE(kill_method_from_string(text)) << text;
  EXPECT_EQ(to_string(static_cast<KillMethod>(99)), "invalid");
}

TEST(TaskState, OtherTextIsNoState) {
  for (const char* text : {"", "zombie", "Running", "timed-out", "running ", "invalid"}) {
    EXPECT_FALSE(task_state_from_string(text)) << text;
  }
  EXPECT_FALSE(task_state_from_string(std::string("running\0", 8)));
  EXPECT_EQ(to_string(static_cast<TaskState>(99)), "invalid");
}

TEST(TaskState, OnlyEndedStatesAreTerminal) {
  EXPECT_FALSE(is_terminal(TaskState::starting));
  EXPECT_FALSE(is_terminal(TaskState::running));
  for (auto s : {TaskState::exited, TaskState::timed_out, TaskState::killed, TaskState::failed}) EXPECT_TRUE(is_terminal(s));
}

TEST(ContainmentKind, EveryKindRoundTripsThroughItsSpelling) {
  const std::pair<ContainmentKind, const char*> cases[] = {
      {ContainmentKind::none, ""},
      {ContainmentKind::cgroup2, "cgroup2"},
      {ContainmentKind::process_group, "process-group"},
      {ContainmentKind::container, "container"},
  };
  for (const auto& [kind, text] : cases) {
    EXPECT_EQ(to_string(kind), text);
    EXPECT_EQ(containment_kind_from_string(text), kind) << text;
  }
  for (const char* text : {"process_group", "cgroup", "cgroup1", "Container", "none"}) {
    EXPECT_FALSE(containment_kind_from_string(text)) << text;
  }
}

}  // namespace
}  // namespace airssys::watchdog

TEST(TaskState, MessagesListEverySpellingOnce) {
  EXPECT_EQ(airssys::watchdog::task_state_spellings(), "starting, running, exited, timed_out, killed, failed");
  EXPECT_EQ(airssys::watchdog::containment_kind_spellings(), "cgroup2, process-group, container");
}
