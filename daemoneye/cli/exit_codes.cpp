#include "exit_codes.hpp"

#include "commands.hpp"

#include <fmt/format.h>

namespace airssys::daemoneye::cli {

int exit_code(ErrorCategory c) noexcept {
  switch (c) {
    case ErrorCategory::invalid_input: return kExitUsage;
    case ErrorCategory::not_found: return kExitNotFound;
    case ErrorCategory::denied: return kExitDenied;
    case ErrorCategory::corrupt: return kExitCorrupt;
    case ErrorCategory::busy:
    case ErrorCategory::timeout:
    case ErrorCategory::unavailable: return kExitTryLater;
    case ErrorCategory::resource_exhausted:
    case ErrorCategory::io:
    case ErrorCategory::internal: return kExitFailed;
  }
  return kExitFailed;
}

int fail_with(const Error& e, std::string_view context) {
  say(context.empty() ? e.message : fmt::format("{}: {}", context, e.message));
  return exit_code(e.category);
}

}  // namespace airssys::daemoneye::cli
