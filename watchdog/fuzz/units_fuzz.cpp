// libFuzzer target for task-watchdog's own number parsing: the
// --memory/--cpus/--pids texts (parse_limits; --cpus and --pids are read
// here by std::from_chars, --memory and every duration by osl's parser,
// which osl_duration_fuzz covers) and task ids. The input is split at the
// first two newlines into the three flag texts.
// Beyond "no crash, no sanitizer report":
// - an accepted limit lies in the documented range (memory >= 1M, cpus in
//   [0.01, 4096], pids in [1, 2^32]) and an empty text sets nothing;
// - a refusal names the flag it refuses;
// - valid_task_id accepts exactly [A-Za-z0-9_][A-Za-z0-9_-]{0,63}.

#include <airssys/watchdog/units.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace wd = airssys::watchdog;

namespace {

std::string_view take_line(std::string_view& rest) {
  const auto nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  return line;
}

bool id_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || (!first && c == '-');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  std::string_view rest = all;
  const std::string_view memory = take_line(rest);
  const std::string_view cpus = take_line(rest);
  const std::string_view pids = rest;

  const auto limits = wd::parse_limits(memory, cpus, pids);
  if (limits) {
    if (memory.empty() != !limits->memory_bytes) std::abort();
    if (cpus.empty() != !limits->cpus) std::abort();
    if (pids.empty() != !limits->pids) std::abort();
    if (limits->memory_bytes && *limits->memory_bytes < (1ULL << 20)) std::abort();
    if (limits->cpus && !(*limits->cpus >= 0.01 && *limits->cpus <= 4096)) std::abort();
    if (limits->pids && (*limits->pids < 1 || *limits->pids > (1ULL << 32))) std::abort();
  } else {
    const std::string_view m = limits.error().message;
    if (m.find("--memory") == std::string_view::npos && m.find("--cpus") == std::string_view::npos &&
        m.find("--pids") == std::string_view::npos)
      std::abort();
  }

  bool expect = !all.empty() && all.size() <= 64;
  for (std::size_t i = 0; expect && i < all.size(); ++i) expect = id_char(all[i], i == 0);
  if (wd::valid_task_id(all) != expect) std::abort();
  return 0;
}
