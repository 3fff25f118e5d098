// YAML aliases cannot make a small policy file expand into a huge policy:
// the expanded node count is bounded (kMaxPolicyNodes), not only the file size.

#include <airssys/osl/policy.hpp>
#include <gtest/gtest.h>

#include <array>
#include <string>

namespace airssys::osl {
namespace {

// One rule anchors a list of `patterns` resources; `rules - 1` more rules use it by alias.
std::string aliased_policy(int patterns, int rules) {
  std::string y = "version: 1\nprincipals:\n  alice: {}\nrules:\n";
  y += "  - id: r0\n    effect: allow\n    principals: [alice]\n    operations: [fs.read]\n    resources: &p\n";
  for (int i = 0; i < patterns; ++i) y += "      - /srv/data/p" + std::to_string(i) + "/**\n";
  for (int r = 1; r < rules; ++r) {
    y += "  - {id: r" + std::to_string(r) + ", effect: allow, principals: [alice], operations: [fs.read], resources: *p}\n";
  }
  return y;
}

TEST(PolicyAliases, AmplificationIsRefusedNamingTheLimit) {
  const std::string y = aliased_policy(10'000, 1'000);  // the outside probe's file: 10 M patterns
  ASSERT_LT(y.size(), 400'000u);
  const auto p = Policy::parse(y, "p.yaml");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message,
            "a policy file expands to more than 200000 YAML nodes (keys, values and list items; an alias counts again "
            "at every use): the limit is 200000");
  // It points into the anchored list (lines 10..10009), reached again through an alias.
  EXPECT_GE(p.error().line, 10) << p.error().to_string();
  EXPECT_LE(p.error().line, 10'009) << p.error().to_string();
}

TEST(PolicyAliases, NestedAliasesAreCountedWithoutWalkingThemAll) {
  // Each level doubles: 2^40 nodes if expanded. Refused after the limit, not after the walk.
  std::string y = "version: 1\nroles:\n  a0: {description: &l0 [x, x]}\n";
  for (int i = 1; i <= 40; ++i)
    y += "  a" + std::to_string(i) + ": {description: &l" + std::to_string(i) + " [*l" + std::to_string(i - 1) +
         ", *l" + std::to_string(i - 1) + "]}\n";
  const auto p = Policy::parse(y, "p.yaml");
  ASSERT_FALSE(p.has_value());
  EXPECT_TRUE(p.error().message.starts_with("a policy file expands to more than 200000 YAML nodes")) << p.error().to_string();
}

TEST(PolicyAliases, AliasesWithinTheLimitStillWork) {
  const auto p = Policy::parse(aliased_policy(100, 50), "p.yaml");  // 5,000 patterns
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  EXPECT_EQ(p->rule_count(), 50u);
  const std::array refs{ResourceRef{"/srv/data/p99/x"}};
  EXPECT_TRUE(p->decide("alice", OpKind::fs_read, refs).allowed);
}

}  // namespace
}  // namespace airssys::osl
