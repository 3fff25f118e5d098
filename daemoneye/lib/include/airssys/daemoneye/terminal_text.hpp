#pragma once
// Text for an operator's terminal (procmond --once --format table,
// daemoneye-cli): names, command lines and rule rows come from monitored
// processes, so control bytes are made inert before they are printed.
//
// Thread safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>

namespace airssys::daemoneye {

// Control characters (C0, DEL, and C1 as UTF-8: U+0080..U+009F, two bytes)
// and each byte that is not part of valid UTF-8 (a bare 0x9b is CSI to a
// terminal taking 8-bit controls) → '?': a hostile process name cannot send
// escape sequences to the terminal. Other text (valid UTF-8) is kept.
[[nodiscard]] std::string printable(std::string_view s);

// The width to cut lines to: the terminal's when stdout is one, else
// $COLUMNS when set, else 0 (whole lines, e.g. into a pipe or file).
[[nodiscard]] std::size_t terminal_width();

}  // namespace airssys::daemoneye
