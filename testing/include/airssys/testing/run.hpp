#pragma once
// Runs a program to its end and captures stdout, stderr and its exit status.
// Output goes to memory files (memfd), not pipes: a daemon the program
// leaves behind that kept stdout open cannot make the test hang.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace airssys::testing {

struct RunResult {
  int status = -1;        // the code, or 128 + signal; -1 if it overran `timeout` (then killed)
  std::string out;
  std::string err;
};

struct RunOptions {
  std::vector<std::string> env;         // "NAME=value", added to (or replacing in) the test's environment
  std::filesystem::path cwd;            // empty: the test's own
  std::string input;                    // what the program reads on stdin (empty: /dev/null)
  std::chrono::milliseconds timeout = std::chrono::seconds(120);  // ends a hung run (a test failure), not a timing check
};

// argv[0] is searched in PATH when it has no '/'.
[[nodiscard]] RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

}  // namespace airssys::testing
