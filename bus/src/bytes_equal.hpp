#pragma once
// bytes_equal: string_view equality inlined for short strings. The hot
// paths compare a subject with the one used last (the broker per PUB, the
// client per publish); for a subject of a few bytes, a call into libc's
// memcmp was a fifth of the broker's publish-only time (perf,
// docs/BENCHMARKS.md). Same result as `a == b`.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace airssys::bus::detail {

[[nodiscard]] inline bool bytes_equal(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 16) {
    // Two overlapping 8-byte words cover every byte.
    std::uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a.data(), 8);
    std::memcpy(&b0, b.data(), 8);
    std::memcpy(&a1, a.data() + n - 8, 8);
    std::memcpy(&b1, b.data() + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  return std::memcmp(a.data(), b.data(), n) == 0;
}

}  // namespace airssys::bus::detail
