// libFuzzer target for osl::parse_duration and parse_whole_number: any
// bytes, under each kind of rules a CLI uses. Beyond "no crash, no
// sanitizer report", every accepted value must respect the rules, and a
// whole-millisecond result must read back the same when spelled in ms.

#include <airssys/osl/duration.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using airssys::osl::DurationRules;

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
  return 0;
}
