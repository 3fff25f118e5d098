#pragma once
// A value from a file or command line as an error message shows it back.
// For use inside this repository (osl's policy and parsers, DaemonEye's
// config and rules, task-watchdog): a 500 KB value must not come back as a
// 500 KB message, and a control byte must not reach a terminal.

#include <cstddef>
#include <string>
#include <string_view>

namespace airssys::osl::detail {

// `text` with the bytes a terminal could act on written as \xNN: C0
// control bytes (below 0x20, 0x7f), C1 controls U+0080..U+009F (as their
// two UTF-8 bytes, \xc2\x9b), and every byte that is not part of
// well-formed UTF-8 (a raw 0x9b is CSI on an 8-bit terminal); also single
// quotes (messages quote values in them) and backslashes. When longer than
// `max_bytes`, only its first `max_bytes` bytes (not splitting a UTF-8
// character) followed by "… (N bytes)", N its whole length:
// got 'AAAA…AAAA… (500000 bytes)'. The result is valid UTF-8.
[[nodiscard]] std::string shown_text(std::string_view text, std::size_t max_bytes = 64);

// A path or name as osl's errors show it, unquoted (fs operations, the path
// resolver, policy denials and their principal, spawn's program, interpreter
// and working directory, net's socket paths, cgroup directories) and
// DaemonEye's rule file names: escaped as by shown_text, except that ' is
// shown as it is, so /tmp/o'brien can be copied or grepped (\ is still
// \x5c, so every \ in the result starts an escape). Past 256 bytes, its
// first 128 and its last 128 around its whole length:
//   /srv/data/aaaa… (100215 bytes) …aaaa/reports/2026-12-06.csv
// so two long paths that differ only at the end (the file name) read apart.
// A caller that shows a value inside '…' uses shown_text(value,
// kShownPathMax) instead (the first 256 bytes).
inline constexpr std::size_t kShownPathMax = 256;
[[nodiscard]] std::string shown_path(std::string_view path);

}  // namespace airssys::osl::detail
