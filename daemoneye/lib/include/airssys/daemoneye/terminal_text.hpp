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
// → '?': a hostile process name cannot send escape sequences to the
// terminal. Other bytes (the rest of UTF-8 included) are kept.
[[nodiscard]] std::string printable(std::string_view s);

// The width to cut lines to: the terminal's when stdout is one, else
// $COLUMNS when set, else 0 (whole lines, e.g. into a pipe or file).
[[nodiscard]] std::size_t terminal_width();

}  // namespace airssys::daemoneye
