// parse_duration and parse_size (config.hpp): the spellings a person writes
// in the config file, the environment and on the command line. Both go
// through osl's one parser (airssys/osl/duration.hpp).
#include <airssys/daemoneye/config.hpp>
#include <airssys/osl/duration.hpp>

#include <chrono>

namespace airssys::daemoneye {

namespace {

// Longer than any sane setting and far from overflow in time_point arithmetic.
constexpr std::chrono::milliseconds kMaxDuration{36'500LL * 86'400'000};

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  // osl's one parser; the caller puts the key or flag in front of the message.
  // A bare number is refused (seconds? milliseconds?) except 0, the same in every unit.
  auto d = osl::parse_duration(text, {.bare_number_is_seconds = false, .allow_zero = true, .max = kMaxDuration});
  if (!d) return fail(ErrorCategory::invalid_input, d.error().message);
  return *d;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  // osl's one parser: KB, MB, GB, TB are SI (1000), K/KiB, M/MiB... binary.
  auto n = osl::parse_size(text);
  if (!n) return fail(ErrorCategory::invalid_input, n.error().message);
  return *n;
}

}  // namespace airssys::daemoneye
