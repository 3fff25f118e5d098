#pragma once
// Summaries of repeated measurements, and the JSON-line output every DaemonEye
// benchmark prints (one object per measurement, like the other *_bench).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace airssys::daemoneye::bench {

using Clock = std::chrono::steady_clock;

[[nodiscard]] inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Summary {
  std::size_t n = 0;
  double min = 0, median = 0, p95 = 0, max = 0;
};

// Median: the mean of the two middle values for even n. p95: nearest rank.
[[nodiscard]] inline Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.n = v.size();
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  const auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(v.size())));
  s.p95 = v[std::max<std::size_t>(rank, 1) - 1];
  return s;
}

// `"<prefix>_median":..,"<prefix>_p95":..` etc. with 3 decimals.
[[nodiscard]] inline std::string json_summary(const std::string& prefix, const Summary& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "\"%s_n\":%zu,\"%s_min\":%.3f,\"%s_median\":%.3f,\"%s_p95\":%.3f,\"%s_max\":%.3f",
                prefix.c_str(), s.n, prefix.c_str(), s.min, prefix.c_str(), s.median, prefix.c_str(), s.p95,
                prefix.c_str(), s.max);
  return buf;
}

// Prints one JSON object line on stdout and flushes (the run may be long).
inline void emit(const std::string& body) {
  std::printf("{%s}\n", body.c_str());
  std::fflush(stdout);
}

[[nodiscard]] inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace airssys::daemoneye::bench
