#pragma once
// The bound on a rule's name, shared by native rules (`name`) and Sigma
// rules (`title`): the name is copied into every alert (JSON, ledger,
// sinks), so a 900 KB one made every alert about 900 KB, and past the NATS
// server's 1 MiB max_payload the nats sink dropped them. Sigma's schema
// allows 256 characters; native names get the same bound.

#include <airssys/osl/detail/utf8.hpp>

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace airssys::daemoneye::detail {

inline constexpr std::size_t kMaxRuleNameChars = 256;

// Characters, not bytes: a valid UTF-8 sequence counts one (so 256
// two-byte letters fit), and every byte that is not part of one -- a stray
// continuation byte 0x80-0xBF, a lead byte without its continuations, 0xC0,
// 0xC1, 0xF5-0xFF, an overlong form or a surrogate -- counts one too
// (osl's utf8_sequence_length decides). yaml-cpp passes invalid UTF-8
// through, and counting only lead bytes let "x" + 500,000 bytes 0x80 pass
// as one character. So a name within the bound is at most 4 x 256 = 1,024
// bytes.
[[nodiscard]] inline std::size_t name_chars(std::string_view name) noexcept {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < name.size(); ++chars)
    i += std::max<std::size_t>(osl::detail::utf8_sequence_length(name, i), 1);
  return chars;
}

}  // namespace airssys::daemoneye::detail
