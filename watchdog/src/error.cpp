#include <airssys/watchdog/error.hpp>

#include <array>
#include <cstring>
#include <utility>

namespace airssys::watchdog {

namespace {

constexpr std::array<std::pair<ErrorCategory, std::string_view>, 9> kNames{{
    {ErrorCategory::failure, "failure"},
    {ErrorCategory::usage, "usage"},
    {ErrorCategory::not_found, "not_found"},
    {ErrorCategory::registry_corrupt, "registry_corrupt"},
    {ErrorCategory::already_exists, "already_exists"},
    {ErrorCategory::spawn_failed, "spawn_failed"},
    {ErrorCategory::stale, "stale"},
    {ErrorCategory::program_not_found, "program_not_found"},
    {ErrorCategory::not_executable, "not_executable"},
}};

}  // namespace

std::string_view to_string(ErrorCategory c) noexcept {
  for (const auto& [cat, name] : kNames) {
    if (cat == c) return name;
  }
  return "failure";
}

std::optional<ErrorCategory> error_category_from_string(std::string_view s) noexcept {
  for (const auto& [cat, name] : kNames) {
    if (name == s) return cat;
  }
  return std::nullopt;
}

std::string Error::to_string() const {
  std::string out(watchdog::to_string(category));
  out += ": ";
  out += message;
  return out;
}

Error Error::make(ErrorCategory c, std::string message) { return Error{c, std::move(message), 0}; }

Error Error::from_errno(int err, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  return Error{ErrorCategory::failure, std::move(message), err};
}

}  // namespace airssys::watchdog
