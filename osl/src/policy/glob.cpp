#include "policy/glob.hpp"

#include <cstddef>

namespace airssys::osl::detail {

namespace {

constexpr char fold(char c, CaseMode mode) noexcept {
  if (mode == CaseMode::fold_ascii && c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  return c;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, CaseMode mode) noexcept {
  // Classic wildcard matching: on a mismatch, let the most recent '*' absorb
  // one more character and retry. One backtrack point suffices because '*'
  // is the only variable-length element.
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star_p = std::string_view::npos;  // pattern index just after the last '*'
  std::size_t star_t = 0;                       // text index that '*' matched up to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = ++p;
      star_t = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || fold(pattern[p], mode) == fold(text[t], mode))) {
      ++p;
      ++t;
    } else if (star_p != std::string_view::npos) {
      p = star_p;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace airssys::osl::detail
