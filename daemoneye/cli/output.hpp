#pragma once
// daemoneye-cli's output: aligned tables for people at a terminal, JSON and
// CSV for scripts. Text that came from a monitored process (names, command
// lines, rule rows) is made inert before it reaches a terminal, by the one
// rule of terminal_text.hpp: in text and CSV each terminal control (C0,
// DEL, C1, bidi overrides and isolates, U+2028/U+2029, bytes that are not
// UTF-8) becomes '?' (printable()); in JSON it is a \uXXXX escape
// (json_text(), terminal_safe_json()), so JSON stays lossless.

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/terminal_text.hpp>
#include <airssys/osl/detail/stdout_write.hpp>

#include <nlohmann/json.hpp>

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

// An RFC 4180 field of printable(s): terminal controls as '?' as in the
// table (CR and LF among them, so a field never spans lines); a field with
// a comma or quote is quoted, quotes doubled.
[[nodiscard]] std::string csv_field(std::string_view s);

// A JSON document for stdout: nlohmann's dump (`indent` as dump's; invalid
// UTF-8 as U+FFFD) with terminal controls as \uXXXX (terminal_safe_json).
template <class Json>
[[nodiscard]] std::string json_text(const Json& j, int indent = -1) {
  return terminal_safe_json(j.dump(indent, ' ', false, Json::error_handler_t::replace));
}

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

// Text for stdout, written in pieces of about 64 KiB: a long listing or
// result is neither held whole a second time nor written a line per system
// call.
class Printer {
 public:
  // False once a write failed (the command stops; main says why).
  bool add(std::string_view text);
  bool flush();

 private:
  static constexpr std::size_t kPiece = 64 * 1024;
  std::string pending_;
};

}  // namespace airssys::daemoneye::cli
