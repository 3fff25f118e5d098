// rule_changes / describe: what a reload tells the operator it changed.

#include <airssys/daemoneye/rule_changes.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace airssys::daemoneye {
namespace {

Rule rule(std::string id, std::string query = "SELECT pid, start_time FROM processes") {
  return Rule{.id = std::move(id), .name = "n", .severity = Severity::low, .query = std::move(query)};
}

TEST(RuleChanges, AddedChangedAndRemovedAreToldApartAndSorted) {
  const std::vector<Rule> before{rule("keep"), rule("edit"), rule("gone-b"), rule("gone-a")};
  std::vector<Rule> after{rule("new-z"), rule("keep"), rule("edit", "SELECT pid, start_time FROM processes WHERE 0"),
                          rule("new-a")};
  const RuleChanges c = rule_changes(before, after);
  EXPECT_EQ(c.added, (std::vector<std::string>{"new-a", "new-z"}));
  EXPECT_EQ(c.changed, (std::vector<std::string>{"edit"}));
  EXPECT_EQ(c.removed, (std::vector<std::string>{"gone-a", "gone-b"}));
  EXPECT_EQ(describe(c), "added: new-a, new-z; changed: edit; removed: gone-a, gone-b");
}

TEST(RuleChanges, WhatDecidesTheAlertsIsAChangeTheDescriptionIsNot) {
  const Rule base = rule("r");
  auto changed = [&](auto edit) {
    Rule r = base;
    edit(r);
    return rule_changes({base}, {r}).changed == std::vector<std::string>{"r"};
  };
  EXPECT_TRUE(changed([](Rule& r) { r.severity = Severity::high; }));
  EXPECT_TRUE(changed([](Rule& r) { r.enabled = false; }));
  EXPECT_TRUE(changed([](Rule& r) { r.name = "other"; }));
  EXPECT_TRUE(changed([](Rule& r) { r.tags = {"attack.t1059"}; }));
  EXPECT_TRUE(changed([](Rule& r) { r.key_columns = {"pid"}; }));
  EXPECT_TRUE(changed([](Rule& r) { r.query += " WHERE 1"; }));
  EXPECT_FALSE(changed([](Rule& r) { r.description = "why"; }));
  EXPECT_FALSE(changed([](Rule& r) { r.file = "elsewhere.yaml"; }));
}

TEST(RuleChanges, NothingChangedIsSaidSoAndLongListsAreCut) {
  EXPECT_EQ(describe(rule_changes({rule("a")}, {rule("a")})), "no rule added, changed or removed");
  std::vector<Rule> many;
  for (int i = 0; i < 25; ++i) many.push_back(rule(fmt::format("r{:02}", i)));
  EXPECT_EQ(describe(rule_changes({}, many), 3), "added: r00, r01, r02 and 22 more");
  EXPECT_EQ(describe(rule_changes(many, {}), 30).substr(0, 22), "removed: r00, r01, r02");
}

}  // namespace
}  // namespace airssys::daemoneye
