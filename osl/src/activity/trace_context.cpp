// W3C traceparent parsing and the per-thread trace scope (activity_trace.hpp).
#include <airssys/osl/activity_trace.hpp>

#include <algorithm>
#include <type_traits>

#include <fmt/format.h>

namespace airssys::osl {

namespace {

// Trivially destructible (TraceContext is 50 chars): a scope that lives
// until exit (the CLI's) may still read it after thread_local destructors ran.
thread_local std::optional<TraceContext> t_current;
static_assert(std::is_trivially_destructible_v<std::optional<TraceContext>>);

bool lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool upper_hex(char c) { return c >= 'A' && c <= 'F'; }

// Checks one hex field; "" when it is fine, else what is wrong with it.
std::string check_hex(std::string_view field, std::string_view name, std::size_t len, bool nonzero) {
  if (field.size() != len) return fmt::format("{} must be {} hex digits, not {}", name, len, field.size());
  if (std::any_of(field.begin(), field.end(), upper_hex)) return fmt::format("{} must be lowercase hex", name);
  if (!std::all_of(field.begin(), field.end(), lower_hex)) return fmt::format("{} must be hex digits", name);
  if (nonzero && std::all_of(field.begin(), field.end(), [](char c) { return c == '0'; })) {
    return fmt::format("{} must not be all zeros", name);
  }
  return {};
}

}  // namespace

std::expected<TraceContext, Error> TraceContext::parse(std::string_view text) {
  const auto fail = [&](std::string_view why) {
    // The value comes from outside: show a bounded, printable excerpt.
    std::string shown;
    for (const char c : text.substr(0, 64)) shown += (c >= 32 && c < 127) ? c : '?';
    if (text.size() > 64) shown += "...";
    return std::unexpected(Error::make(
        ErrorCategory::invalid_argument,
        fmt::format("'{}' is not a W3C traceparent: {} (expected 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>)",
                    shown, why)));
  };
  if (text.empty()) return fail("it is empty");
  const auto dash1 = text.find('-');
  if (dash1 == std::string_view::npos) return fail("no '-' between its fields");
  const std::string_view version = text.substr(0, dash1);
  if (auto why = check_hex(version, "version", 2, false); !why.empty()) return fail(why);
  if (version != "00") return fail(fmt::format("version {} is not supported (only 00)", version));
  std::string_view rest = text.substr(dash1 + 1);
  std::array<std::string_view, 3> fields;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto dash = rest.find('-');
    if (i < 2) {
      if (dash == std::string_view::npos) return fail("it has fewer than 4 fields");
      fields[i] = rest.substr(0, dash);
      rest = rest.substr(dash + 1);
    } else {
      if (dash != std::string_view::npos) return fail("version 00 has exactly 4 fields");
      fields[i] = rest;
    }
  }
  if (auto why = check_hex(fields[0], "trace-id", 32, true); !why.empty()) return fail(why);
  if (auto why = check_hex(fields[1], "parent-id", 16, true); !why.empty()) return fail(why);
  if (auto why = check_hex(fields[2], "flags", 2, false); !why.empty()) return fail(why);
  TraceContext c;
  std::copy(fields[0].begin(), fields[0].end(), c.trace_id_.begin());
  std::copy(fields[1].begin(), fields[1].end(), c.parent_id_.begin());
  std::copy(fields[2].begin(), fields[2].end(), c.flags_.begin());
  return c;
}

bool TraceContext::sampled() const noexcept {
  const char low = flags_[1];
  const int v = low <= '9' ? low - '0' : low - 'a' + 10;
  return (v & 1) != 0;
}

std::string TraceContext::traceparent() const {
  return fmt::format("00-{}-{}-{}", trace_id(), parent_id(), flags());
}

TraceScope::TraceScope(const TraceContext& context) noexcept : previous_(t_current) { t_current = context; }

TraceScope::~TraceScope() { t_current = previous_; }

std::optional<TraceContext> TraceScope::current() noexcept { return t_current; }

}  // namespace airssys::osl
