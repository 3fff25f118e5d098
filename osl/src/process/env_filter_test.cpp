// build_child_env: the order and override rules, and that it stays linear in
// the number of entries (a quadratic version took minutes for the sizes
// below; this test has no timing assertion, only the ctest timeout).

#include "process/env_filter.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace airssys::osl::detail {
namespace {

// A null-terminated char** over `entries`, as `environ` is.
struct Environ {
  explicit Environ(std::vector<std::string> e) : entries(std::move(e)) {
    for (auto& s : entries) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  char** get() { return ptrs.data(); }
  std::vector<std::string> entries;
  std::vector<char*> ptrs;
};

TEST(BuildChildEnv, ALaterKeyReplacesAnEarlierOneAndTakesItsPlaceAtTheEnd) {
  Environ inherited({"PATH=/bin", "HOME=/h", "SECRET=x", "LD_PRELOAD=/evil.so", "LANG=C"});
  const std::vector<std::string> given{"A=1", "HOME=/given", "B=2"};
  const std::vector<std::string> extra{"A=3", "PATH=/usr/bin", "C=", "B=4"};
  const std::vector<std::string> allow{"PATH", "HOME", "LANG"};
  const ChildEnv out = build_child_env(inherited.get(), given, extra, allow);
  EXPECT_EQ(out.env, (std::vector<std::string>{"LANG=C", "HOME=/given", "A=3", "PATH=/usr/bin", "C=", "B=4"}));
  EXPECT_EQ(out.removed, (std::vector<std::string>{"LD_PRELOAD"})) << "an ordinary variable not inherited is not listed";
}

TEST(BuildChildEnv, AnUnnamedLoaderVariableRemovesEveryValueOfItAndIsListedOnce) {
  Environ inherited({"LD_LIBRARY_PATH=/inherited", "GCONV_PATH=/g", "X=1"});
  const std::vector<std::string> extra{"LD_LIBRARY_PATH=/given", "GCONV_PATH=/h", "LD_AUDIT=/a", "GCONV_PATH=/i"};
  // LD_* is a pattern, so it admits no loader variable; LD_LIBRARY_PATH is named.
  const ChildEnv named = build_child_env(inherited.get(), {}, extra, std::vector<std::string>{"X", "LD_LIBRARY_PATH"});
  EXPECT_EQ(named.env, (std::vector<std::string>{"X=1", "LD_LIBRARY_PATH=/given"}));
  EXPECT_EQ(named.removed, (std::vector<std::string>{"GCONV_PATH", "LD_AUDIT"}));

  const ChildEnv wide = build_child_env(inherited.get(), {}, extra, std::vector<std::string>{"*", "LD_*", "GCONV_PATH"});
  EXPECT_EQ(wide.env, (std::vector<std::string>{"X=1", "GCONV_PATH=/i"}))
      << "GCONV_PATH is named: its last value, where that was put";
  EXPECT_EQ(wide.removed, (std::vector<std::string>{"LD_LIBRARY_PATH", "LD_AUDIT"}));
}

TEST(BuildChildEnv, NoInheritedEnvironment) {
  const std::vector<std::string> given{"K=1", "K=2"};
  const ChildEnv out = build_child_env(nullptr, given, {}, std::vector<std::string>{"*"});
  EXPECT_EQ(out.env, (std::vector<std::string>{"K=2"}));
  EXPECT_TRUE(out.removed.empty());
}

// 50,000 inherited, 50,000 given (half replacing inherited ones) and 50,000
// distinct loader variables: the quadratic version compared about 10^10
// names here (minutes under the dev preset); a linear one takes well under
// a second.
TEST(BuildChildEnv, ManyEntriesStayLinear) {
  constexpr int kN = 50'000;
  std::vector<std::string> inherited_entries;
  std::vector<std::string> given;
  std::vector<std::string> extra;
  for (int i = 0; i < kN; ++i) {
    inherited_entries.push_back(fmt::format("V{}=inherited", i));
    given.push_back(fmt::format("V{}=given", 2 * i));  // even ones replace, the rest are new
    extra.push_back(fmt::format("LD_X{}=1", i));
  }
  Environ inherited(std::move(inherited_entries));
  const ChildEnv out = build_child_env(inherited.get(), given, extra, std::vector<std::string>{"V*"});
  ASSERT_EQ(out.env.size(), static_cast<std::size_t>(kN + kN / 2));
  // Odd inherited ones keep their order, then every given one in its order.
  for (int i = 0; i < kN / 2; ++i) EXPECT_EQ(out.env[i], fmt::format("V{}=inherited", 2 * i + 1)) << i;
  for (int i = 0; i < kN; ++i) EXPECT_EQ(out.env[kN / 2 + i], fmt::format("V{}=given", 2 * i)) << i;
  ASSERT_EQ(out.removed.size(), static_cast<std::size_t>(kN));
  EXPECT_EQ(out.removed.front(), "LD_X0");
  EXPECT_EQ(out.removed.back(), fmt::format("LD_X{}", kN - 1));
}

}  // namespace
}  // namespace airssys::osl::detail
