#pragma once
// regexp(pattern, value [, at_limit]): PCRE2 matching as an SQL function,
// for Sigma's `re` modifier (and `value REGEXP pattern` in native rules).
//
// - 1 when `pattern` matches anywhere in `value` (unanchored, as Sigma's
//   re), 0 when not, NULL when `value` is NULL.
// - UTF-8 patterns; a value that is not valid UTF-8 (a command line is what
//   the kernel held) is still searched (PCRE2_MATCH_INVALID_UTF).
// - Bounded work per call: kMatchLimit backtracking steps, kDepthLimit
//   nesting, kHeapLimitKib of heap. PCRE2 keeps that heap in the call
//   site's match data until the statement ends, outside SQLite's heap
//   limit: a query holds up to kHeapLimitKib per regexp() call in it, which
//   is why a connection holds at most kMaxCallSites compiled patterns and a
//   Sigma rule has at most sigma::kMaxRegexes of them. A value that reaches a limit gives
//   `at_limit` (1 when omitted, 0 only when it is 0): a rule must not be
//   silenced by a process that makes its regex expensive, so the Sigma
//   translator passes 1 where the regex counts for the rule and 0 under a
//   NOT (a filter), and the undecidable row is reported either way.
// - The pattern is compiled once per statement (SQLite keeps it with the
//   constant argument); a pattern that does not compile is an SQL error.
//   Sigma rules compile theirs at load (regex_error), so only a native rule
//   can meet that error at run time.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

inline constexpr std::uint32_t kMatchLimit = 1'000'000;
inline constexpr std::uint32_t kDepthLimit = 10'000;
inline constexpr std::uint32_t kHeapLimitKib = 1024;
// Compiled patterns a connection may hold at once (each with up to
// kHeapLimitKib of match heap). The next call that would compile one fails
// with an SQL error (SQLITE_AUTH) naming the limit. The authorizer refuses
// a statement that writes more calls than this, earlier and with a clear
// message; this bound also covers the call sites SQLite copies (an alias
// used in WHERE or HAVING), which the authorizer never sees.
inline constexpr int kMaxCallSites = 32;

// Registers regexp() on `db` (SQLITE_DIRECTONLY: not usable from schema
// objects), with its own kMaxCallSites budget. SQLITE_OK or SQLite's error
// code.
[[nodiscard]] int register_regexp(sqlite3* db);

// The PCRE2 compiler's message for `pattern` with regexp()'s options, or
// empty when it compiles.
[[nodiscard]] std::string regex_compile_error(std::string_view pattern);

}  // namespace airssys::daemoneye::detail
