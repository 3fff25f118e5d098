#pragma once
// util.exec: run a named external tool. The tool name is resolved to a
// program path through the policy's `tools:` allowlist — never through PATH —
// and the policy decides on the tool name. argv only; never a shell.

#include <airssys/osl/process.hpp>

#include <string>
#include <vector>

namespace airssys::osl::util {

struct Exec {
  std::string tool{};               // e.g. "git"
  std::vector<std::string> args{};  // argv[1..]
  process::Options options{};
  using Result = process::Process;
};

}  // namespace airssys::osl::util
