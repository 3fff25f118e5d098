#pragma once
// Whether a JSON text is already exactly what the registry writes for it,
// so a reader may keep an unknown key's value as the text it read instead
// of parsing and re-encoding it on every load (TaskRecord::extra holds
// compact JSON text; the writer copies it out unchanged). Internal.

#include <string_view>

namespace airssys::watchdog::detail {

// True only when `text` is one JSON value that nlohmann::json::dump() (the
// DOM reader's encoding) reproduces byte for byte: no whitespace outside
// strings; strings of printable ASCII without escapes; integers of at most
// 18 digits and no "-0"; object keys in strictly increasing byte order
// (nlohmann keeps objects sorted and drops duplicates). Anything else —
// floats, exponents, escapes, non-ASCII, whitespace, unsorted keys, bad
// syntax — is false, and the caller parses and re-encodes as before; false
// is always safe. Linear in the text, no recursion; nesting deeper than
// `max_depth` is false.
[[nodiscard]] bool is_compact_dump(std::string_view text, int max_depth) noexcept;

}  // namespace airssys::watchdog::detail
