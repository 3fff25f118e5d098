#pragma once
// A test fixture for the rule tests: a Store and a QueryEngine (default
// limits) over one database, d.db in a temporary directory of the test's
// own, both opened in SetUp. A test fills the store through store_ and runs
// rules or queries through engine_, as the agent does with its two
// connections. Tests that fill the store before the engine opens, or want
// other limits, keep their own SetUp.

#include <gtest/gtest.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/store.hpp>
#include <memory>

#include "test_temp_dir.hpp"

namespace airssys::daemoneye::test {

class StoreAndEngine : public ::testing::Test {
 protected:
  // A subclass with more to set up calls this first, then returns if
  // HasFatalFailure().
  void SetUp() override {
    auto s = Store::open({.path = tmp_ / "d.db"});
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
    auto e = QueryEngine::open(tmp_ / "d.db");
    ASSERT_TRUE(e) << e.error();
    engine_ = std::move(*e);
  }

  testing::TempDir tmp_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<QueryEngine> engine_;
};

}  // namespace airssys::daemoneye::test
