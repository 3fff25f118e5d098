// parse_duration and parse_size (config.hpp): the spellings a person writes
// in the config file, the environment and on the command line. Durations go
// through osl's one parser (airssys/osl/duration.hpp).
#include <airssys/daemoneye/config.hpp>
#include <airssys/osl/duration.hpp>

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <optional>

namespace airssys::daemoneye {

namespace {

// Longer than any sane setting and far from overflow in time_point arithmetic.
constexpr std::chrono::milliseconds kMaxDuration{36'500LL * 86'400'000};

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

// K/M/G/T are binary, as in systemd and most tools; a B after a decimal
// prefix (KB, MB, ...) is the SI meaning.
constexpr std::uint64_t kKi = 1024;
constexpr std::array kSizeUnits{Unit{"b", 1},
                                Unit{"k", kKi},
                                Unit{"kib", kKi},
                                Unit{"kb", 1000},
                                Unit{"m", kKi * kKi},
                                Unit{"mib", kKi * kKi},
                                Unit{"mb", 1000ull * 1000},
                                Unit{"g", kKi * kKi * kKi},
                                Unit{"gib", kKi * kKi * kKi},
                                Unit{"gb", 1000ull * 1000 * 1000},
                                Unit{"t", kKi * kKi * kKi * kKi},
                                Unit{"tib", kKi * kKi * kKi * kKi},
                                Unit{"tb", 1000ull * 1000 * 1000 * 1000}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

struct NumberAndSuffix {
  std::uint64_t number = 0;
  std::string_view suffix;
  bool overflow = false;
};

// Leading decimal digits (no sign, no fraction) and what follows them.
std::optional<NumberAndSuffix> split(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  NumberAndSuffix out;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + digits, out.number);
  out.overflow = ec == std::errc::result_out_of_range;
  out.suffix = text.substr(digits);
  return out;
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  // osl's one parser; the caller puts the key or flag in front of the message.
  // A bare number is refused (seconds? milliseconds?) except 0, the same in every unit.
  auto d = osl::parse_duration(text, {.bare_number_is_seconds = false, .allow_zero = true, .max = kMaxDuration});
  if (!d) return fail(ErrorCategory::invalid_input, d.error().message);
  return *d;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  constexpr std::string_view kExpected =
      "a whole number of bytes, optionally followed by KiB, MiB, GiB, TiB, KB, MB, GB or TB, e.g. 512MiB";
  if (text.empty()) return fail(ErrorCategory::invalid_input, fmt::format("empty size (expected {})", kExpected));
  const auto ns = split(text);
  if (!ns) return fail(ErrorCategory::invalid_input, fmt::format("invalid size '{}' (expected {})", text, kExpected));
  std::uint64_t factor = 0;
  if (ns->suffix.empty()) {
    factor = 1;
  } else {
    for (const Unit& u : kSizeUnits) {
      if (iequals(ns->suffix, u.name)) factor = u.factor;
    }
  }
  if (factor == 0) return fail(ErrorCategory::invalid_input, fmt::format("invalid size '{}' (expected {})", text, kExpected));
  if (ns->overflow || ns->number > std::numeric_limits<std::uint64_t>::max() / factor) {
    return fail(ErrorCategory::invalid_input, fmt::format("size '{}' is too large", text));
  }
  return ns->number * factor;
}

}  // namespace airssys::daemoneye
