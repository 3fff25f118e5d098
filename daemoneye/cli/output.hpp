#pragma once
// daemoneye-cli's output: aligned tables for people at a terminal, JSON and
// CSV for scripts. Text that came from a monitored process (names, command
// lines, rule rows) is made inert before it reaches a terminal: control
// bytes become '?', so a hostile process name cannot drive the operator's
// terminal (printable() and terminal_width() come from terminal_text.hpp).

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/terminal_text.hpp>
#include <airssys/osl/detail/stdout_write.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::cli {

// Columns padded to their widest cell (numbers right-aligned when every cell
// of the column is a number), two spaces apart, a header line first; each
// line cut to `width` bytes (0: whole lines), never inside a UTF-8 character.
// Header and cells are passed through printable().
[[nodiscard]] std::string format_table(const std::vector<std::string>& header,
                                       const std::vector<std::vector<std::string>>& rows, std::size_t width);

// One result value as text: NULL as "NULL", numbers as fmt prints them,
// strings as they are (format_table makes them printable).
[[nodiscard]] std::string cell_text(const Value& v);

// RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled.
[[nodiscard]] std::string csv_field(std::string_view s);

// UTC ISO 8601 with a Z: 2026-12-04T14:00:00Z; "-" for 0 or earlier (never
// set) and for years past 9999.
[[nodiscard]] std::string utc_time(std::int64_t unix_seconds);
// "5s", "3m 20s", "2h 5m", "3d 4h".
[[nodiscard]] std::string age_text(std::int64_t seconds);

// Output goes to stdout through osl's detail::write_stdout: straight to fd
// 1, the first failure kept (with its errno), nothing written after it;
// main ends the command by it (main.cpp). note_stdout_failure(EPIPE):
// `alerts --follow` saw stdout's reader go away (poll) before a write
// failed.
using osl::detail::note_stdout_failure;
using osl::detail::stdout_write_failure;
using osl::detail::write_stdout;

}  // namespace airssys::daemoneye::cli
