#pragma once
// The task-watchdog commands other than start/register (which are in the
// library, runner.hpp). Each parses its arguments, calls the library
// (task_status.hpp, task_kill.hpp, task_cleanup.hpp, task_overview.hpp,
// task_report.hpp),
// prints, and returns the process exit status (docs/task-watchdog.md,
// "Exit codes").

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>
#include <airssys/watchdog/task_status.hpp>  // effective_state, find_task

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>

namespace airssys::watchdog::cli {

int cmd_list(const Registry& reg, bool as_json);
int cmd_status(const Registry& reg, const std::string& id, bool as_json);
int cmd_kill(const Registry& reg, const std::string& id, const std::string& grace_text, const std::string& policy,
             const std::string& sigkill_wait_text = {});
// `--sigkill-wait` of `kill` and `run`: empty is the default (15 s); at least 100ms.
[[nodiscard]] std::expected<std::chrono::milliseconds, Error> parse_sigkill_wait(const std::string& text);
int cmd_logs(const Registry& reg, const std::string& id, bool follow);
int cmd_cleanup(const Registry& reg, const std::string& older_text);
int cmd_rehydrate(const Registry& reg, bool as_json);
int cmd_stats(const Registry& reg, bool as_json);
int cmd_report(const Registry& reg, bool as_json);  // report.cpp

// Shared by the commands (commands.cpp).
std::int64_t now_ms();
int report(const Error& e);  // prints the message, returns its exit code
std::string command_line(const TaskRecord& t);
std::string deadline_text(const TaskRecord& t);

}  // namespace airssys::watchdog::cli
