#pragma once
// daemoneye-cli's exit codes: the one place an Error's category becomes the
// process's exit status (table in docs/daemoneye.md "Exit codes"). Codes 2
// and 3 mean what they mean for task-watchdog (usage, not found); a
// command's own "no" — status: the agent is not running; rules check: a
// rule was rejected — is 1, as is any failure without a more specific code.

#include <airssys/daemoneye/error.hpp>

#include <string_view>

namespace airssys::daemoneye::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // the command's answer is no, or an I/O / internal failure
inline constexpr int kExitUsage = 2;        // usage or invalid input: a flag, duration, config, SQL text
inline constexpr int kExitNotFound = 3;     // the database, status file, config or rules directory is missing
inline constexpr int kExitDenied = 4;       // permission, or refused by DaemonEye's guard (a non-SELECT query)
inline constexpr int kExitCorrupt = 5;      // the database or status file is damaged or not DaemonEye's
inline constexpr int kExitTryLater = 6;     // busy, timed out, or a service not answering: a retry may work

[[nodiscard]] int exit_code(ErrorCategory c) noexcept;

// Says `e` ("daemoneye-cli: <context>: <message>" on stderr, no context
// when empty) and returns its exit code.
int fail_with(const Error& e, std::string_view context = {});

}  // namespace airssys::daemoneye::cli
