#include <airssys/bus/policy.hpp>

namespace airssys::bus {

std::string_view to_string(Policy p) noexcept {
  switch (p) {
    case Policy::drop_newest: return "drop-newest";
    case Policy::drop_oldest: return "drop-oldest";
    case Policy::disconnect: return "disconnect";
  }
  return "unknown";
}

std::optional<Policy> parse_policy(std::string_view s) noexcept {
  for (const Policy p : {Policy::drop_newest, Policy::drop_oldest, Policy::disconnect})
    if (to_string(p) == s) return p;
  return std::nullopt;
}

}  // namespace airssys::bus
