#pragma once
// The bound on a rule's name, shared by native rules (`name`) and Sigma
// rules (`title`): the name is copied into every alert (JSON, ledger,
// sinks), so a 900 KB one made every alert about 900 KB, and past the NATS
// server's 1 MiB max_payload the nats sink dropped them. Sigma's schema
// allows 256 characters; native names get the same bound.

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace airssys::daemoneye::detail {

inline constexpr std::size_t kMaxRuleNameChars = 256;

// Characters, not bytes: a valid UTF-8 sequence counts one (so 256
// two-byte letters fit), and every byte that is not part of one -- a stray
// continuation byte 0x80-0xBF, a lead byte without its continuations, 0xC0,
// 0xC1, 0xF5-0xFF -- counts one too. yaml-cpp passes invalid UTF-8 through,
// and counting only lead bytes let "x" + 500,000 bytes 0x80 pass as one
// character. So a name within the bound is at most 4 x 256 = 1,024 bytes.
[[nodiscard]] inline std::size_t name_chars(std::string_view name) noexcept {
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < name.size()) {
    const auto c = static_cast<unsigned char>(name[i]);
    const std::size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    std::size_t n = 1;  // an invalid byte: one character
    if (len > 1 && i + len <= name.size() &&
        std::all_of(name.begin() + static_cast<std::ptrdiff_t>(i + 1), name.begin() + static_cast<std::ptrdiff_t>(i + len),
                    [](char b) { return (static_cast<unsigned char>(b) & 0xc0) == 0x80; }))
      n = len;
    i += n;
    ++chars;
  }
  return chars;
}

}  // namespace airssys::daemoneye::detail
