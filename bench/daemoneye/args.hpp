#pragma once
// The command line of the DaemonEye benchmark programs (daemoneye_bench,
// daemoneye_realtime_bench): one loop, one set of messages and exit codes.

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace airssys::daemoneye::bench {

// A whole, non-negative number, nothing after it ("5x" and "1e3" are refused).
template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && out >= 0;
}

// Takes the argument after the flag ("" when there is none).
using NextArg = std::function<std::string_view()>;
// For a flag it knows: whether its value was valid; nullopt: not a flag of the program.
using FlagParser = std::function<std::optional<bool>(std::string_view flag, const NextArg& value)>;

// Reads argv[1..]: flags through `flag`, and the words in `scenario_names`
// into `scenarios` (in the order given). -h/--help prints `usage` to stdout.
// nullopt: go on; otherwise the exit code to stop with (0 after --help, 2 for
// an unknown argument or a bad value, said on stderr with the usage).
inline std::optional<int> parse_args(int argc, char** argv, const char* program, const char* usage,
                                     std::span<const std::string_view> scenario_names,
                                     std::vector<std::string>& scenarios, const FlagParser& flag) {
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    const std::string_view a = arg;
    if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (std::ranges::find(scenario_names, a) != scenario_names.end()) {
      scenarios.emplace_back(a);
      continue;
    }
    const auto ok = flag(a, [&]() -> std::string_view { return i + 1 < argc ? argv[++i] : std::string_view(); });
    if (!ok) {
      std::fprintf(stderr, "%s: unknown argument '%s'\n%s", program, arg, usage);
      return 2;
    }
    if (!*ok) {
      std::fprintf(stderr, "%s: %s needs a valid value\n%s", program, arg, usage);
      return 2;
    }
  }
  return std::nullopt;
}

}  // namespace airssys::daemoneye::bench
