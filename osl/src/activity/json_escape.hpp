#pragma once
#include <string>
#include <string_view>

namespace airssys::osl::detail {
// Appends `s` as a JSON string literal. Bytes that are not valid UTF-8 are
// written as U+FFFD so every line stays valid JSON (documented in docs/osl.md).
void append_json_string(std::string& out, std::string_view s);
}  // namespace airssys::osl::detail
