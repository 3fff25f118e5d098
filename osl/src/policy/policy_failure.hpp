#pragma once
// Internal exception used while reading and compiling a policy. It never
// leaves this folder: Policy::parse catches it and returns a PolicyError.

#include <string>
#include <utility>

#include "policy/policy_document.hpp"

namespace airssys::osl::detail {

struct PolicyFailure {
  SourcePos pos;
  std::string message;
};

[[noreturn]] inline void fail(SourcePos pos, std::string message) {
  throw PolicyFailure{pos, std::move(message)};
}

}  // namespace airssys::osl::detail
