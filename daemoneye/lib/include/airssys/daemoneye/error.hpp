#pragma once
// daemoneye::Error — the one error type DaemonEye's library, agent, CLI and
// procmond return (docs/architecture.md "Errors: one shape").
//
// Callers branch on `category`; `message` is one sentence for a person (it
// names the file, line, key, rule or socket) and is never parsed.
// `errno_value` is the failed system call's errno, 0 when none failed.
// Nothing in the library throws across its boundary (allocation failure
// aside): yaml-cpp, nlohmann and SQLite failures are caught where they happen
// and returned as an Error. Fallible calls return Result<T>.
//
//   to_string(): "invalid_input: ./de.yaml:2: scan.interval: '10' needs a unit
//                 (ms, s, m, h or d); use e.g. 10s"

#include <expected>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>

namespace airssys::daemoneye {

enum class ErrorCategory {
  // Something a person or a peer supplied is malformed or out of range: a
  // configuration value or file, a rule file, SQL text that does not
  // compile, a bus message, a status file's JSON, a command-line value. Fix
  // the input; retrying unchanged fails the same way. The agent and the CLI
  // exit 2 when their configuration fails this way.
  invalid_input,
  // A file, directory, program, rule or socket that was named does not
  // exist (ENOENT, ENOTDIR).
  not_found,
  // Refused on purpose: the kernel (EACCES, EPERM), or one of DaemonEye's
  // own safety checks — a rule file owned by another user or writable by
  // others, a symlink or hard link where none may be, a statement the
  // guarded SQL engine does not allow (`not allowed: DELETE from alerts`).
  denied,
  // Another process holds what is needed (SQLite's lock, EWOULDBLOCK on a
  // lock file); retrying later may succeed.
  busy,
  // A deadline expired: a query past `rules.timeout`, a kernel
  // acknowledgement or a peer that did not answer in time.
  timeout,
  // A bound was reached: a query's `rules.max_bytes`, a size limit on a file
  // read, no space or memory left (ENOSPC, EMFILE, ENOMEM).
  resource_exhausted,
  // A service, peer or kernel feature this call needs is not there or not
  // answering: no kernel BTF or eBPF support, no proc connector, an agent
  // that is not running, a connection refused. A caller may fall back (the
  // collector tries the next event source) or retry.
  unavailable,
  // Stored data contradicts itself: a damaged database, a schema that is not
  // DaemonEye's, a status file cut short.
  corrupt,
  // Another I/O failure (read, write, fsync, socket, SQLite I/O).
  io,
  // A bug or an impossible state; please report.
  internal,
};

[[nodiscard]] std::string_view to_string(ErrorCategory c) noexcept;

struct Error {
  ErrorCategory category = ErrorCategory::internal;
  int errno_value = 0;  // 0 when no system call failed
  std::string message;

  // "<category>: <message>", e.g. "not_found: rules.dir: /etc/daemoneye/rules: No such file or directory"
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] static Error make(ErrorCategory c, std::string message);
  // Maps an errno to its category; the message is "<what>: <strerror>".
  [[nodiscard]] static Error from_errno(int err, std::string_view what);

  // The same error with "<where>: " in front of its message: how a caller
  // adds the file, key or sink it was working on.
  [[nodiscard]] Error prefixed(std::string_view where) const;

  // The whole value: category, errno and message. To ask "is this a
  // timeout?", compare `category`.
  friend bool operator==(const Error&, const Error&) = default;
};

// Writes to_string(); lets tests stream an Error (`ASSERT_TRUE(r) << r.error()`).
std::ostream& operator<<(std::ostream& os, const Error& e);

template <class T>
using Result = std::expected<T, Error>;

// Shorthand for `return fail(ErrorCategory::x, "...")` in functions returning Result<T>.
[[nodiscard]] inline std::unexpected<Error> fail(ErrorCategory c, std::string message) {
  return std::unexpected(Error::make(c, std::move(message)));
}

// The same with an errno: `return fail_errno(errno, "open " + path)`.
[[nodiscard]] inline std::unexpected<Error> fail_errno(int err, std::string_view what) {
  return std::unexpected(Error::from_errno(err, what));
}

}  // namespace airssys::daemoneye
