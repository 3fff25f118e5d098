#pragma once
// Durations ("500ms", "90s", "15m", "2h", "1d"; a bare number is seconds)
// and sizes ("512K", "512M", "2G", "1T"; binary multiples; a bare number is
// bytes) as the CLI accepts them.

#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace airssys::watchdog {

// Durations go through osl::parse_duration; `what` (a flag such as
// "--timeout") leads the message when given:
//   --timeout: '5x' is not a duration; use e.g. 30s, 5m, 1h
[[nodiscard]] std::expected<std::chrono::milliseconds, Error> parse_duration(std::string_view text,
                                                                             std::string_view what = {});
// Sizes go through osl::parse_size, KB/MB/GB/TB read as K/M/G/T:
//   --memory: '12Q' is not a size; use e.g. 512M, 2G
[[nodiscard]] std::expected<std::uint64_t, Error> parse_size(std::string_view text, std::string_view what = {});
// The shortest exact spelling: 90000ms → "1m30s", 500ms → "500ms".
[[nodiscard]] std::string format_duration(std::chrono::milliseconds d);

// The --memory/--cpus/--pids texts (empty: not given) as Limits. Memory is a
// size of at least 1M, CPUs a positive decimal number (at least 0.01), pids a
// whole number of at least 1.
[[nodiscard]] std::expected<Limits, Error> parse_limits(std::string_view memory, std::string_view cpus, std::string_view pids);

// Task ids: [A-Za-z0-9_][A-Za-z0-9_-]{0,63} (no leading '-': it would read as an option).
[[nodiscard]] bool valid_task_id(std::string_view id) noexcept;

}  // namespace airssys::watchdog
