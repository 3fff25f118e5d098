#pragma once
// The inner loop of reading a JSON string: skip the bytes that need no look
// (printable ASCII other than '"' and '\\') eight at a time, and check the
// UTF-8 of the rest one sequence at a time. Internal.
//
// Why: the registry reader (registry_fast.cpp) spent most of `list`'s time
// going through ~86 KB of registry text byte by byte, twice (once to check
// its UTF-8, once to find the ends of its strings). Outside strings a JSON
// text is ASCII, so checking the UTF-8 inside strings while they are read
// checks the whole text; and most string bytes are plain ASCII, which a
// 64-bit word tests eight at a time.

#include <airssys/osl/detail/utf8.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace airssys::watchdog::detail {

// A word with the high bit set in every byte of `w` that is '"', '\\', below
// 0x20 or at/above 0x80. Bits above the lowest one may be false alarms (a
// borrow from a byte that matched runs into the next), so only the lowest
// set bit names a byte: the first one that needs a look.
[[nodiscard]] constexpr std::uint64_t json_special_bytes(std::uint64_t w) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t high = 0x8080808080808080ULL;
  const auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & high; };
  return zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\')) | ((w - ones * 0x20) & ~w & high) | (w & high);
}

// The first byte in [p, end) that is '"', '\\', a control character or not
// ASCII; `end` when there is none.
[[nodiscard]] inline const char* json_skip_plain(const char* p, const char* end) noexcept {
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if (const std::uint64_t m = json_special_bytes(w)) {
      if constexpr (std::endian::native == std::endian::little) return p + std::countr_zero(m) / 8;
      else return p + std::countl_zero(m) / 8;
    }
    p += 8;
  }
  while (p < end) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
    ++p;
  }
  return p;
}

// One UTF-8 sequence of two to four bytes at p (*p >= 0x80), as RFC 3629
// allows it (osl::detail::utf8_sequence_length, the repository's one check):
// no overlong forms, no surrogates, nothing above U+10FFFF, no sequence cut
// short by `end`. The byte after it, or nullptr when it is not one (which
// nlohmann, the other reader, refuses too; an ASCII byte gives nullptr).
[[nodiscard]] inline const char* json_utf8_sequence(const char* p, const char* end) noexcept {
  const std::size_t n = osl::detail::utf8_sequence_length(std::string_view(p, static_cast<std::size_t>(end - p)), 0);
  return n >= 2 ? p + n : nullptr;
}

// Appends code point `cp` (at most U+10FFFF and no surrogate, which the
// reader checks first) as UTF-8.
inline void json_append_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace airssys::watchdog::detail
