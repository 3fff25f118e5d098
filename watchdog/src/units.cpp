#include <airssys/watchdog/units.hpp>

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/duration.hpp>

#include <fmt/format.h>

#include <charconv>
#include <limits>

namespace airssys::watchdog {

namespace {

// task-watchdog has always read "512MB" as 512M (docs/task-watchdog.md).
constexpr osl::SizeRules kSizeRules{.kb_is_1000 = false};

}  // namespace

std::expected<std::chrono::milliseconds, Error> parse_duration(std::string_view text, std::string_view what) {
  // osl's one parser (airssys/osl/duration.hpp): a bare number is seconds;
  // 0 passes here because each flag decides what 0 means.
  auto d = osl::parse_duration(text, {.what = what, .allow_zero = true});
  if (!d) return std::unexpected(Error{ErrorCategory::usage, d.error().message});
  return *d;
}

std::expected<std::uint64_t, Error> parse_size(std::string_view text, std::string_view what) {
  // osl's one parser (airssys/osl/duration.hpp), as for durations.
  auto rules = kSizeRules;
  rules.what = what;
  auto n = osl::parse_size(text, rules);
  if (!n) return std::unexpected(Error{ErrorCategory::usage, n.error().message});
  return *n;
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
    auto rules = kSizeRules;
    rules.what = "--memory";
    rules.min = 1ULL << 20;
    auto m = osl::parse_size(memory, rules);
    if (!m) return bad(m.error().message);
    l.memory_bytes = *m;
  }
  if (!cpus.empty()) {
    double v = 0;
    const auto* end = cpus.data() + cpus.size();
    auto [p, ec] = std::from_chars(cpus.data(), end, v);
    if (ec != std::errc{} || p != end || !(v >= 0.01) || v > 4096) {
      return bad(fmt::format("invalid --cpus '{}': expected a number of CPUs from 0.01 to 4096, e.g. 0.5 or 2",
                             osl::detail::shown_text(cpus)));
    }
    l.cpus = v;
  }
  if (!pids.empty()) {
    std::uint64_t v = 0;
    const auto* end = pids.data() + pids.size();
    auto [p, ec] = std::from_chars(pids.data(), end, v);
    if (ec != std::errc{} || p != end || v < 1 || v > (1ULL << 32)) {
      return bad(fmt::format("invalid --pids '{}': expected a whole number of processes, at least 1",
                             osl::detail::shown_text(pids)));
    }
    l.pids = v;
  }
  return l;
}

}  // namespace airssys::watchdog
