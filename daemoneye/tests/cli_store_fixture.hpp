#pragma once
// A fixture for daemoneye-cli tests over a store of their own: a temp dir
// with var/ (0700, as the agent makes it) holding daemoneye.db, made by the
// library (Store::open) and filled by the test; cli() runs the real
// daemoneye-cli (DAEMONEYE_CLI_BIN) with --db on it; rule() writes a rule file.
// curl_process() is the process the tests' rules look for.

#include "harness.hpp"

#include <airssys/daemoneye/store.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace detest {

// /usr/bin/curl running `cmdline` as pid `pid` (parent 1), started at `start_time`.
inline airssys::daemoneye::ProcessRecord curl_process(std::int64_t pid, std::string cmdline, std::int64_t start_time) {
  airssys::daemoneye::ProcessRecord r;
  r.pid = pid;
  r.parent = 1;
  r.name = "curl";
  r.path = "/usr/bin/curl";
  r.cmdline = std::move(cmdline);
  r.start_time = start_time;
  return r;
}

class CliStoreTest : public ::testing::Test {
 protected:
  // The open store (SetUp made it): tests add rows, then close it with store_.reset().
  void SetUp() override {
    ASSERT_FALSE(cli_bin().empty()) << "DAEMONEYE_CLI_BIN is not set: run this test through ctest";
    fs::create_directories(var_);
    ::chmod(var_.c_str(), 0700);
    auto store = airssys::daemoneye::Store::open({.path = db_});
    ASSERT_TRUE(store) << store.error();
    store_ = std::move(*store);
  }

  Outcome cli(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--db", db_.string()});
    return run_cli(std::move(args), dir_.path());
  }

  // A rule file in rules/ (0700, made at the first), 0600 as the agent wants it.
  fs::path rule(const std::string& name, const std::string& text) const {
    if (!fs::exists(rules_)) {
      fs::create_directories(rules_);
      ::chmod(rules_.c_str(), 0700);
    }
    const fs::path p = rules_ / name;
    write_file(p, text);
    ::chmod(p.c_str(), 0600);
    return p;
  }

  TempDir dir_;
  fs::path var_ = dir_.path() / "var";
  fs::path db_ = var_ / "daemoneye.db";
  fs::path rules_ = dir_.path() / "rules";
  std::unique_ptr<airssys::daemoneye::Store> store_;
};

}  // namespace detest
