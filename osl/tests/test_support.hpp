#pragma once
// Shared helpers for osl integration tests: a real temporary directory, a
// policy built from YAML text, and a sink that keeps records in memory.

#include <airssys/osl/system.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace airssys::osl::test {

using TempDir = airssys::testing::TempDir;

inline Policy policy_from(const std::string& yaml) {
  auto p = Policy::parse(yaml, "test-policy");
  if (!p) {
    ADD_FAILURE() << p.error().to_string();
    return Policy{};
  }
  return *p;
}

// Keeps every record; optionally fails the next N writes (a real sink whose
// storage is temporarily broken, e.g. a full disk).
class RecordingSink final : public ActivitySink {
 public:
  std::expected<void, Error> write(std::span<const ActivityRecord> batch) override {
    std::lock_guard lock(mu_);
    if (fail_next_ > 0) {
      --fail_next_;
      return std::unexpected(Error::make(ErrorCategory::io, "injected sink failure"));
    }
    records_.insert(records_.end(), batch.begin(), batch.end());
    return {};
  }
  std::string name() const override { return "recording"; }
  std::vector<ActivityRecord> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }
  void fail_next(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<ActivityRecord> records_;
  int fail_next_ = 0;
};

// A System with the policy in `yaml`, its records also going to `sink` (when given).
inline std::unique_ptr<System> system_with(const std::string& yaml, std::shared_ptr<ActivitySink> sink = nullptr) {
  SystemOptions o;
  o.policy = policy_from(yaml);
  if (sink) o.audit.sinks.push_back(std::move(sink));
  return std::make_unique<System>(std::move(o));
}

// Runs `s` as `who` to its end (bounded by a 20 s deadline) and returns what
// it printed; records a failure and returns nullopt unless it started, was
// collected and exited 0.
inline std::optional<process::Output> run_to_end(System& sys, const std::string& who, process::Spawn s) {
  s.options.deadline = std::chrono::seconds(20);
  auto p = sys.run(who, s);
  EXPECT_TRUE(p) << p.error().to_string();
  if (!p) return std::nullopt;
  auto out = p->communicate();
  EXPECT_TRUE(out) << out.error().to_string();
  if (!out) return std::nullopt;
  EXPECT_EQ(out->status.code, 0);
  return std::move(*out);
}

using airssys::testing::read_file;
using airssys::testing::write_file;

// A System whose policy lets "alice" do fs.* under <dir>/work, except under
// <dir>/work/secret (denied to everyone); its records go to `sink`.
// Subclasses that need more directories make them in their own SetUp()
// after calling this one.
class WorkDirSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir / "work");
    sink = std::make_shared<RecordingSink>();
    sys = system_with(fmt::format(R"(
version: 1
rules:
  - id: work-all
    effect: allow
    principals: ["alice"]
    operations: ["fs.*"]
    resources: ["{0}/work/**"]
  - id: no-secret
    effect: deny
    principals: ["*"]
    operations: ["*"]
    resources: ["{0}/work/secret/**"]
)", dir.str()), sink);
  }
  std::string w(const std::string& rel) const { return (dir / "work" / rel).string(); }

  TempDir dir;
  std::shared_ptr<RecordingSink> sink;
  std::unique_ptr<System> sys;
};

}  // namespace airssys::osl::test
