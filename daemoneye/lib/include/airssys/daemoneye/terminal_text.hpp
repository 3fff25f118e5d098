#pragma once
// Text for an operator's terminal (procmond --once, daemoneye-cli, the human
// alert line): names, command lines and rule rows come from monitored
// processes, so what a terminal would act on is made inert before it is
// printed. One rule for every output (is_terminal_control_at): the code
// points
//   U+0000..U+001F (C0: ESC, BEL, CR, LF, TAB ...) and U+007F (DEL);
//   U+0080..U+009F (C1 written as UTF-8: U+009B is CSI, U+009D OSC to
//     xterm-like terminals);
//   U+202A..U+202E (bidi embeddings and overrides: U+202E shows
//     "exe.txt" for "txt.exe") and U+2066..U+2069 (bidi isolates);
//   U+2028, U+2029 (line and paragraph separators: a second line inside
//     one field for some terminals and viewers);
// and every byte that is not part of valid UTF-8 (a bare 0x9b is CSI to a
// terminal taking 8-bit controls).
//   printable()          text (tables, events, rules list, CSV, logs): '?' each;
//   terminal_safe_json() JSON (every --json, procmond --format json): \uXXXX
//                        each, so the document stays valid and lossless.
//
// Thread safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>

namespace airssys::daemoneye {

// The length in bytes of the terminal control at s[pos] (1 for a C0, DEL or
// an invalid byte, 2 for C1, 3 for the bidi and separator code points), or
// 0 when s[pos] starts text that is safe to print. `pos` < s.size().
[[nodiscard]] std::size_t is_terminal_control_at(std::string_view s, std::size_t pos) noexcept;

// Each terminal control above → '?' (one per code point, one per invalid
// byte). Other text (valid UTF-8) is kept.
[[nodiscard]] std::string printable(std::string_view s);

// `json` (a JSON text, valid UTF-8, as nlohmann's dump with the replace
// handler writes it) with every non-ASCII terminal control and DEL written
// as a \uXXXX escape (\u009b, \u202e, \u2028, \u007f): they can only stand
// inside strings, where the escape means the same character, so the
// document parses to the same value. C0 controls inside strings are
// escaped by every JSON writer already; C0 outside strings is the layout's
// whitespace and is kept.
[[nodiscard]] std::string terminal_safe_json(std::string json);

// The width to cut lines to: the terminal's when stdout is one, else
// $COLUMNS when set, else 0 (whole lines, e.g. into a pipe or file).
[[nodiscard]] std::size_t terminal_width();

}  // namespace airssys::daemoneye
