// bytes_equal agrees with string_view == for every length up to 40 and a
// difference at every position (the word-compare cases are 8 to 16 bytes).

#include "bytes_equal.hpp"

#include <gtest/gtest.h>

#include <string>

namespace airssys::bus::detail {
namespace {

TEST(BytesEqual, AgreesWithEqualityForEveryLengthAndPosition) {
  for (std::size_t n = 0; n <= 40; ++n) {
    std::string a(n, 'x');
    for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + i % 26);
    const std::string same = a;
    EXPECT_TRUE(bytes_equal(a, same)) << n;
    EXPECT_FALSE(bytes_equal(a, a + "y")) << n;
    for (std::size_t i = 0; i < n; ++i) {
      std::string b = a;
      b[i] = '\x80';
      EXPECT_FALSE(bytes_equal(a, b)) << n << " at " << i;
      EXPECT_FALSE(bytes_equal(b, a)) << n << " at " << i;
    }
  }
}

}  // namespace
}  // namespace airssys::bus::detail
