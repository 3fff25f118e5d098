#pragma once
// The one UTF-8 check of this repository (osl's audit JSON and shown_text,
// task-watchdog's registry reader, DaemonEye's printable()): header-only and
// inline because task-watchdog's registry scan calls it per non-ASCII byte
// on `list`'s path.

#include <cstddef>
#include <string_view>

namespace airssys::osl::detail {

// The length of the well-formed UTF-8 sequence at bytes[pos] (1 for ASCII,
// 2 to 4 otherwise), or 0 when there is none: a stray continuation byte,
// 0xC0, 0xC1 or 0xF5..0xFF, a sequence cut short by the end of `bytes`, an
// overlong form, a surrogate or a code point past U+10FFFF (RFC 3629).
// `pos` must be less than bytes.size().
[[nodiscard]] constexpr std::size_t utf8_sequence_length(std::string_view bytes, std::size_t pos) noexcept {
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char c = at(pos);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  // The range of the second byte; the others are any continuation byte.
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // past U+10FFFF
  } else {
    return 0;
  }
  if (bytes.size() - pos < n || at(pos + 1) < lo || at(pos + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((at(pos + k) & 0xc0) != 0x80) return 0;
  return n;
}

}  // namespace airssys::osl::detail
