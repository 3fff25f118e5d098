// libFuzzer target for osl::parse_duration, parse_whole_number and
// parse_size: any bytes, under each kind of rules a CLI or config uses
// (every CLI's numbers, durations and sizes go through these three). Beyond
// "no crash, no sanitizer report", every accepted value must respect the
// rules, a duration must read back the same when spelled in ms, and a size
// the same when spelled by format_size.

#include <airssys/osl/duration.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using airssys::osl::DurationRules;
using airssys::osl::SizeRules;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace std::chrono_literals;
  const DurationRules rules[] = {
      {.what = "--timeout"},
      {.what = "--timeout", .allow_fraction = true, .max = 365 * 24h},
      {.what = "interval", .bare_number_is_seconds = false, .allow_zero = true},
      {.what = "--grace", .allow_fraction = true, .allow_zero = true, .max = 1000s},
  };
  for (const DurationRules& r : rules) {
    const auto d = airssys::osl::parse_duration(text, r);
    if (!d) {
      if (d.error().message.empty() || d.error().message.size() > 400) std::abort();
      continue;
    }
    if (d->count() < 0 || *d > r.max || (d->count() == 0 && !r.allow_zero)) std::abort();
    const auto again = airssys::osl::parse_duration(std::to_string(d->count()) + "ms", r);
    if (!again || *again != *d) std::abort();
  }
  const auto n = airssys::osl::parse_whole_number(text, {.what = "--count", .min = 1, .max = 1'000'000});
  if (n && (*n < 1 || *n > 1'000'000 || std::to_string(*n).size() > text.size())) std::abort();
  const SizeRules sizes[] = {
      {.what = "hash_max_size"},                                     // DaemonEye's config: KB = 1000
      {.what = "--memory", .min = 1ULL << 20, .kb_is_1000 = false},  // task-watchdog: KB = 1024
  };
  for (const SizeRules& r : sizes) {
    const auto s = airssys::osl::parse_size(text, r);
    if (!s) {
      if (s.error().message.empty() || s.error().message.size() > 400) std::abort();
      continue;
    }
    if (*s < r.min || *s > r.max) std::abort();
    const auto again = airssys::osl::parse_size(airssys::osl::format_size(*s), r);
    if (!again || *again != *s) std::abort();
  }
  return 0;
}
