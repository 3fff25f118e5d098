#include <airssys/watchdog/units.hpp>

#include <airssys/osl/duration.hpp>

#include <fmt/format.h>

#include <charconv>
#include <limits>

namespace airssys::watchdog {

namespace {

struct NumberSuffix {
  std::uint64_t number = 0;
  std::string_view suffix;
};

std::expected<NumberSuffix, Error> split(std::string_view text, std::string_view what) {
  std::uint64_t n = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, n);
  if (ec == std::errc::result_out_of_range) {
    return std::unexpected(Error{ErrorCategory::usage, fmt::format("{} '{}' is too large", what, text)});
  }
  if (ec != std::errc{} || p == text.data()) {
    return std::unexpected(Error{ErrorCategory::usage, fmt::format("invalid {} '{}': expected a whole number with a unit", what, text)});
  }
  return NumberSuffix{n, std::string_view(p, static_cast<std::size_t>(end - p))};
}

std::expected<std::uint64_t, Error> scaled(std::uint64_t n, std::uint64_t unit, std::string_view text, std::string_view what) {
  if (n > std::numeric_limits<std::uint64_t>::max() / unit) {
    return std::unexpected(Error{ErrorCategory::usage, fmt::format("{} '{}' is too large", what, text)});
  }
  return n * unit;
}

}  // namespace

std::expected<std::chrono::milliseconds, Error> parse_duration(std::string_view text, std::string_view what) {
  // osl's one parser (airssys/osl/duration.hpp): a bare number is seconds;
  // 0 passes here because each flag decides what 0 means.
  auto d = osl::parse_duration(text, {.what = what, .allow_zero = true});
  if (!d) return std::unexpected(Error{ErrorCategory::usage, d.error().message});
  return *d;
}

std::expected<std::uint64_t, Error> parse_size(std::string_view text) {
  auto ns = split(text, "size");
  if (!ns) return std::unexpected(ns.error());
  std::string_view s = ns->suffix;
  if (s.size() == 2 && (s[1] == 'B' || s[1] == 'b')) s = s.substr(0, 1);  // "512MB" = "512M"
  std::uint64_t unit = 0;
  if (s.empty() || s == "B" || s == "b") unit = 1;
  else if (s == "K" || s == "k") unit = 1ULL << 10;
  else if (s == "M" || s == "m") unit = 1ULL << 20;
  else if (s == "G" || s == "g") unit = 1ULL << 30;
  else if (s == "T" || s == "t") unit = 1ULL << 40;
  else {
    return std::unexpected(Error{ErrorCategory::usage, fmt::format("invalid size '{}': unit must be K, M, G or T (e.g. 512M, 2G)", text)});
  }
  return scaled(ns->number, unit, text, "size");
}

std::string format_duration(std::chrono::milliseconds d) { return osl::format_duration(d); }

bool valid_task_id(std::string_view id) noexcept {
  // Not "-x": every command line would take it for an option.
  if (id.empty() || id.size() > 64 || id.front() == '-') return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::expected<Limits, Error> parse_limits(std::string_view memory, std::string_view cpus, std::string_view pids) {
  Limits l;
  auto bad = [](std::string m) { return std::unexpected(Error{ErrorCategory::usage, std::move(m)}); };
  if (!memory.empty()) {
    auto m = parse_size(memory);
    if (!m) return std::unexpected(m.error());
    if (*m < (1ULL << 20)) return bad(fmt::format("--memory '{}' is below the minimum of 1M", memory));
    l.memory_bytes = *m;
  }
  if (!cpus.empty()) {
    double v = 0;
    const auto* end = cpus.data() + cpus.size();
    auto [p, ec] = std::from_chars(cpus.data(), end, v);
    if (ec != std::errc{} || p != end || !(v >= 0.01) || v > 4096) {
      return bad(fmt::format("invalid --cpus '{}': expected a number of CPUs from 0.01 to 4096, e.g. 0.5 or 2", cpus));
    }
    l.cpus = v;
  }
  if (!pids.empty()) {
    std::uint64_t v = 0;
    const auto* end = pids.data() + pids.size();
    auto [p, ec] = std::from_chars(pids.data(), end, v);
    if (ec != std::errc{} || p != end || v < 1 || v > (1ULL << 32)) {
      return bad(fmt::format("invalid --pids '{}': expected a whole number of processes, at least 1", pids));
    }
    l.pids = v;
  }
  return l;
}

}  // namespace airssys::watchdog
