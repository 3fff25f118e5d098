#pragma once
// The one parser for durations, sizes and whole numbers a person types: every CLI
// flag (--timeout, --grace, --interval …) and config value goes through it,
// so "5x" gets the same clear answer everywhere.
//
// It lives in osl because every program and library with a command line or
// a config file already links airssys::osl (bus, ledger's CLI, task-watchdog,
// DaemonEye); a component of its own would add a library to install and
// package for two functions.
//
// Accepted: a number and a unit — ms, s, m, h, d ("500ms", "90s", "15m",
// "2h", "1d"). What else is accepted is the caller's call (DurationRules):
// a bare number as seconds ("30") or refused (only "0" then passes),
// fractions ("1.5s", rounded to the nearest millisecond), zero, and the
// largest value. Messages name the flag and say what to type instead:
//   --timeout: '5x' is not a duration; use e.g. 30s, 5m, 1h

#include <airssys/osl/error.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace airssys::osl {

struct DurationRules {
  // Names the value at the start of messages: a flag ("--timeout") or a
  // config key. Empty: no name (for a caller that puts its own in front).
  std::string_view what{};
  // "30" means 30s; false: a unit is required (a bare "0" still passes
  // where zero is allowed, as it is the same in every unit).
  bool bare_number_is_seconds = true;
  bool allow_fraction = false;  // "1.5s", "0.25m"
  bool allow_zero = false;      // "0s"; refused otherwise (a 0 timeout is almost always a mistake)
  // At most this (inclusive); the default, 36500 days, is beyond any real
  // setting yet far from overflow in time_point arithmetic.
  std::chrono::milliseconds max = std::chrono::milliseconds(36'500LL * 86'400'000);
};

// Errors are ErrorCategory::invalid_argument; `message` is the whole text to
// show a person ("<what>: " first unless `what` is empty).
[[nodiscard]] std::expected<std::chrono::milliseconds, Error> parse_duration(std::string_view text,
                                                                             const DurationRules& rules = {});

// The shortest exact spelling: 90000ms → "1m30s", 500ms → "500ms", 0 → "0s".
[[nodiscard]] std::string format_duration(std::chrono::milliseconds d);

struct NumberRules {
  std::string_view what{};  // as DurationRules::what
  std::uint64_t min = 0;
  std::uint64_t max = UINT64_MAX;
};

// A whole decimal number (no sign, no spaces, no unit) within [min, max]:
//   --count: 'ten' is not a whole number; use e.g. 10
//   --count: 0 is too small (at least 1)
[[nodiscard]] std::expected<std::uint64_t, Error> parse_whole_number(std::string_view text, const NumberRules& rules = {});

struct SizeRules {
  std::string_view what{};  // as DurationRules::what
  std::uint64_t min = 0;
  std::uint64_t max = UINT64_MAX;
  // How KB, MB, GB, TB read: true, as multiples of 1000 (SI, as DaemonEye's
  // config reads them); false, as K, M, G, T (1024; task-watchdog's
  // --memory has always read "512MB" as 512M).
  bool kb_is_1000 = true;
};

// A size in bytes: a whole number and an optional unit, any case — B; K, M,
// G, T and KiB, MiB, GiB, TiB (multiples of 1024); KB, MB, GB, TB (see
// SizeRules::kb_is_1000). A bare number is bytes. Within [min, max]:
//   --memory: '12Q' is not a size; use e.g. 512M, 2G
//   --memory: '512K' is too small (at least 1M)
//   --memory: '99999999999T' is too large (at most 18446744073709551615)
[[nodiscard]] std::expected<std::uint64_t, Error> parse_size(std::string_view text, const SizeRules& rules = {});

// The shortest exact spelling in binary units: 1048576 → "1M", 1536 → "1536", 3 << 30 → "3G".
[[nodiscard]] std::string format_size(std::uint64_t bytes);

}  // namespace airssys::osl
