#pragma once
// Counts on airssys-ledger's command line (--index, --size, --from, --to,
// --size1, --size2): decimal digits only, 0 to 2^64-1. CLI11's own integer
// conversion took hex and octal, clamped 2^64 silently and explained -1 as
// "not in range 0.000000 to 1.79e308"; this says what was wrong.
//
// (A shared number parser for every CLI is being written; when it lands this
// should become a call to it.)

#include <charconv>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace airssys::ledger::cli {

// The message does not name the option; the caller adds it.
[[nodiscard]] inline std::expected<std::uint64_t, std::string> parse_count(std::string_view text) {
  const auto quoted = "'" + std::string(text) + "'";
  if (text.empty()) return std::unexpected("expected a whole number such as 0 or 42, got nothing");
  if (text.front() == '-') return std::unexpected("must not be negative, got " + quoted);
  if (text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::unexpected("expected a whole number in decimal digits such as 0 or 42, got " + quoted);
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range)
    return std::unexpected(quoted + " is too large; the largest allowed is 18446744073709551615 (2^64-1)");
  if (ec != std::errc() || ptr != text.data() + text.size())
    return std::unexpected("expected a whole number in decimal digits, got " + quoted);
  return v;
}

}  // namespace airssys::ledger::cli
