#pragma once
// Shared pieces of the airssys-osl command line: exit codes, the options
// every acting command takes (--policy, --principal, audit sinks), and how a
// System is built from them.

#include <airssys/osl/system.hpp>

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace airssys::osl::cli {

// Exit codes (also in the --help footer and docs/osl.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;        // the operation ran and failed; explain: denied
inline constexpr int kExitUsage = 2;         // bad command line, invalid policy, audit log cannot be opened
inline constexpr int kExitTimeout = 124;     // exec --timeout fired
inline constexpr int kExitInternal = 125;    // exec: airssys-osl failed after the program started
inline constexpr int kExitDenied = 126;      // the policy refused (exec: or the program could not be started)
inline constexpr int kExitNotFound = 127;    // exec: the program, its interpreter, its loader or --cwd does not exist or a path component is no directory

// --policy / --principal / --audit-log / --audit-ledger / --audit-syslog /
// --audit-stderr / --traceparent.
struct CommonOptions {
  std::string policy;
  std::string principal;
  std::string audit_log;
  std::string audit_ledger;  // airssys-ledger directory: tamper-evident audit trail
  bool audit_stderr = false;
  std::string audit_syslog;  // "/dev/log", "udp://HOST:PORT" or "tcp://HOST:PORT"
  std::string audit_syslog_facility = "authpriv";
  std::string traceparent;  // W3C; "" = take $TRACEPARENT, if set
};

void add_common_options(CLI::App& cmd, CommonOptions& o);

// Loads the policy and opens the audit sinks. On failure the message is
// already on stderr and the error holds the exit code (kExitUsage).
// The policy and --audit-log must be regular files (a FIFO would block the
// open; /dev/full would swallow the records). Every sink is write-through
// (an operation runs only once its start record is written, the file sink
// fsyncs each batch): if the start record cannot be made durable within
// kAuditStall, nothing runs. A --traceparent (or $TRACEPARENT) is put in
// force for the rest of the program; a malformed one is a usage error.
[[nodiscard]] std::expected<SystemOptions, int> make_system_options(const CommonOptions& o);
[[nodiscard]] std::expected<System, int> make_system(const CommonOptions& o);

inline constexpr std::chrono::milliseconds kAuditStall{2000};

// Flushes the audit log (warning on stderr if it cannot) and returns `code`.
[[nodiscard]] int finish(System& system, int code);

// Prints "airssys-osl: <category>: <message> (op N)" on stderr.
void print_error(const Error& e);
// 126 for denied, 1 for any other failure of an fs operation.
[[nodiscard]] int fs_exit_code(const Error& e);

// Writes all of `data` to fd 1; false on a write error (e.g. EPIPE).
[[nodiscard]] bool write_stdout(std::string_view data);

// The command groups, each in its own file.
void add_policy_commands(CLI::App& app, int& exit_code);
void add_exec_command(CLI::App& app, int& exit_code);
void add_fs_commands(CLI::App& app, int& exit_code);

}  // namespace airssys::osl::cli
