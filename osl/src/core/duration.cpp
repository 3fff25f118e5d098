#include <airssys/osl/duration.hpp>

#include <airssys/osl/detail/shown_text.hpp>

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <string>
#include <utility>

namespace airssys::osl {

namespace {

struct Unit {
  std::string_view name;
  std::int64_t ms;
};
// Longest name first where one is a prefix of another ("ms" before "m").
constexpr std::array kUnits{Unit{"ms", 1}, Unit{"s", 1000}, Unit{"m", 60'000}, Unit{"h", 3'600'000},
                            Unit{"d", 86'400'000}};

// 128 bits hold every intermediate value of the exact arithmetic below.
__extension__ using u128 = unsigned __int128;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "what: " before a message, or nothing when the caller names the value itself.
std::string lead(std::string_view what) { return what.empty() ? std::string() : std::string(what) + ": "; }

Error bad(std::string message) { return Error::make(ErrorCategory::invalid_argument, std::move(message)); }

// Text as a person can read it back (detail/shown_text.hpp): escaped, and
// long input shortened.
std::string shown(std::string_view text) { return detail::shown_text(text, 40); }

}  // namespace

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;  // callers pass real durations; INT64_MIN is not one
  }
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (ms >= it->ms) {
      out += fmt::format("{}{}", ms / it->ms, it->name);
      ms %= it->ms;
    }
  }
  return out;
}

std::expected<std::chrono::milliseconds, Error> parse_duration(std::string_view text, const DurationRules& rules) {
  const std::string_view example = rules.allow_fraction ? "30s, 1.5m, 1h" : "30s, 5m, 1h";
  const auto not_a_duration = [&] {
    return std::unexpected(bad(fmt::format("{}'{}' is not a duration; use e.g. {}", lead(rules.what), shown(text), example)));
  };
  if (text.empty()) return std::unexpected(bad(fmt::format("{}no value given; use e.g. {}", lead(rules.what), example)));
  if (text.front() == '-') {
    return std::unexpected(bad(fmt::format("{}'{}' is negative; use e.g. {}", lead(rules.what), shown(text), example)));
  }
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i])) ++i;
  const std::string_view whole = text.substr(0, i);
  if (whole.empty()) return not_a_duration();
  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    const std::size_t start = ++i;
    while (i < text.size() && is_digit(text[i])) ++i;
    fraction = text.substr(start, i - start);
    if (fraction.empty()) return not_a_duration();
    if (!rules.allow_fraction) {
      return std::unexpected(bad(fmt::format("{}'{}' is not a whole number of a unit; use e.g. 1500ms or 90s",
                                             lead(rules.what), shown(text))));
    }
  }
  const std::string_view suffix = text.substr(i);

  const Unit* unit = nullptr;
  if (suffix.empty()) {
    const bool zero = whole.find_first_not_of('0') == std::string_view::npos && fraction.find_first_not_of('0') == std::string_view::npos;
    if (!rules.bare_number_is_seconds && !(zero && rules.allow_zero)) {
      return std::unexpected(bad(fmt::format("{}'{}' needs a unit (ms, s, m, h or d); use e.g. {}s", lead(rules.what),
                                             shown(text), shown(text))));
    }
    unit = &kUnits[1];
  } else {
    for (const Unit& u : kUnits) {
      if (suffix == u.name) unit = &u;
    }
    if (unit == nullptr) return not_a_duration();
  }

  const auto too_large = [&] {
    return std::unexpected(
        bad(fmt::format("{}'{}' is too large (at most {})", lead(rules.what), shown(text), format_duration(rules.max))));
  };
  // Exact integer arithmetic: whole * unit + fraction * unit / 10^digits,
  // rounded half up.
  std::uint64_t w = 0;
  const auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), w);
  if (ec == std::errc::result_out_of_range) return too_large();
  if (ec != std::errc() || p != whole.data() + whole.size()) return not_a_duration();
  u128 total = static_cast<u128>(w) * static_cast<u128>(unit->ms);
  if (!fraction.empty()) {
    // Digits beyond the 18th cannot change a millisecond count of any unit here.
    const std::string_view used = fraction.substr(0, 18);
    u128 num = 0, den = 1;
    for (char c : used) {
      num = num * 10 + static_cast<unsigned>(c - '0');
      den *= 10;
    }
    total += (num * static_cast<u128>(unit->ms) * 2 + den) / (den * 2);
  }
  if (total > static_cast<u128>(rules.max.count())) return too_large();
  const auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(total));
  if (ms.count() == 0 && !rules.allow_zero) {
    return std::unexpected(
        bad(fmt::format("{}'{}' is zero; give a duration above 0, e.g. {}", lead(rules.what), shown(text), example)));
  }
  return ms;
}

std::expected<std::uint64_t, Error> parse_whole_number(std::string_view text, const NumberRules& rules) {
  const std::uint64_t example = rules.min > 10 || rules.max < 10 ? rules.min : 10;
  if (text.empty()) return std::unexpected(bad(fmt::format("{}no value given; use e.g. {}", lead(rules.what), example)));
  if (!is_digit(text.front())) {
    return std::unexpected(
        bad(fmt::format("{}'{}' is not a whole number; use e.g. {}", lead(rules.what), shown(text), example)));
  }
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && p == text.data() + text.size() && v > rules.max)) {
    return std::unexpected(bad(fmt::format("{}'{}' is too large (at most {})", lead(rules.what), shown(text), rules.max)));
  }
  if (ec != std::errc() || p != text.data() + text.size()) {
    return std::unexpected(
        bad(fmt::format("{}'{}' is not a whole number; use e.g. {}", lead(rules.what), shown(text), example)));
  }
  if (v < rules.min) {
    return std::unexpected(bad(fmt::format("{}{} is too small (at least {})", lead(rules.what), v, rules.min)));
  }
  return v;
}

namespace {

struct SizeUnit {
  std::string_view name;  // lower case; matched in any case
  std::uint64_t factor;
  std::uint64_t factor_if_kb_is_1024;  // differs for KB, MB, GB, TB only (SizeRules::kb_is_1000)
};
constexpr std::uint64_t kKi = 1024;
constexpr std::uint64_t kMi = kKi * kKi;
constexpr std::uint64_t kGi = kMi * kKi;
constexpr std::uint64_t kTi = kGi * kKi;
constexpr std::array kSizeUnits{
    SizeUnit{"b", 1, 1},
    SizeUnit{"k", kKi, kKi}, SizeUnit{"kib", kKi, kKi}, SizeUnit{"kb", 1000, kKi},
    SizeUnit{"m", kMi, kMi}, SizeUnit{"mib", kMi, kMi}, SizeUnit{"mb", 1000ULL * 1000, kMi},
    SizeUnit{"g", kGi, kGi}, SizeUnit{"gib", kGi, kGi}, SizeUnit{"gb", 1000ULL * 1000 * 1000, kGi},
    SizeUnit{"t", kTi, kTi}, SizeUnit{"tib", kTi, kTi}, SizeUnit{"tb", 1000ULL * 1000 * 1000 * 1000, kTi},
};

bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char c = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

std::string format_size(std::uint64_t bytes) {
  constexpr std::array<std::pair<std::uint64_t, char>, 4> kBinary{{{kTi, 'T'}, {kGi, 'G'}, {kMi, 'M'}, {kKi, 'K'}}};
  for (const auto& [factor, name] : kBinary) {
    if (bytes != 0 && bytes % factor == 0) return fmt::format("{}{}", bytes / factor, name);
  }
  return std::to_string(bytes);
}

std::expected<std::uint64_t, Error> parse_size(std::string_view text, const SizeRules& rules) {
  constexpr std::string_view kExample = "512M, 2G";
  const auto not_a_size = [&] {
    return std::unexpected(bad(fmt::format("{}'{}' is not a size; use e.g. {}", lead(rules.what), shown(text), kExample)));
  };
  if (text.empty()) return std::unexpected(bad(fmt::format("{}no value given; use e.g. {}", lead(rules.what), kExample)));
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i])) ++i;
  if (i == 0) return not_a_size();
  const std::string_view suffix = text.substr(i);
  std::uint64_t factor = suffix.empty() ? 1 : 0;
  for (const SizeUnit& u : kSizeUnits) {
    if (!suffix.empty() && iequals(suffix, u.name)) factor = rules.kb_is_1000 ? u.factor : u.factor_if_kb_is_1024;
  }
  if (factor == 0) return not_a_size();
  const auto too_large = [&] {
    return std::unexpected(bad(fmt::format("{}'{}' is too large (at most {})", lead(rules.what), shown(text), format_size(rules.max))));
  };
  std::uint64_t n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + i, n);
  if (ec == std::errc::result_out_of_range) return too_large();
  if (ec != std::errc() || p != text.data() + i) return not_a_size();
  if (n > rules.max / factor) return too_large();
  if (n * factor < rules.min) {
    return std::unexpected(bad(fmt::format("{}'{}' is too small (at least {})", lead(rules.what), shown(text), format_size(rules.min))));
  }
  return n * factor;
}

}  // namespace airssys::osl
