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

// Characters, not bytes: UTF-8 bytes that do not continue a sequence (so
// 256 two-byte letters fit; invalid UTF-8 counts a byte a character).
[[nodiscard]] inline std::size_t name_chars(std::string_view name) noexcept {
  return static_cast<std::size_t>(std::ranges::count_if(name, [](unsigned char c) { return (c & 0xc0) != 0x80; }));
}

}  // namespace airssys::daemoneye::detail
