#pragma once
// Single-name glob matching ('*' any run of characters, '?' one character),
// the building block of path segments, host names and tool names.

#include <string_view>

namespace airssys::osl::detail {

enum class CaseMode : bool { exact, fold_ascii };

// True when `text` matches `pattern`. '*' matches any run of bytes (including
// none), '?' exactly one byte; there is no escaping and no character class, so
// every other byte is literal. Linear in practice (greedy with one backtrack
// point), never allocates.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text,
                              CaseMode mode = CaseMode::exact) noexcept;

[[nodiscard]] constexpr bool has_glob_chars(std::string_view s) noexcept {
  return s.find_first_of("*?") != std::string_view::npos;
}

}  // namespace airssys::osl::detail
