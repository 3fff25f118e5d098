#pragma once
// What the broker does when a subscription's bounded queue is full
// (docs/bus.md "Backpressure").

#include <cstdint>
#include <optional>
#include <string_view>

namespace airssys::bus {

enum class Policy : std::uint32_t {
  drop_newest = 0,  // the arriving message is dropped (counted)
  drop_oldest = 1,  // the oldest queued message is dropped (counted) to make room
  disconnect = 2,   // the subscriber's connection is closed as a slow consumer
};

[[nodiscard]] std::string_view to_string(Policy p) noexcept;
// "drop-newest", "drop-oldest", "disconnect"
[[nodiscard]] std::optional<Policy> parse_policy(std::string_view s) noexcept;

}  // namespace airssys::bus
