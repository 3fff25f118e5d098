#include <airssys/osl/utc_time.hpp>

#include <time.h>

#include <algorithm>
#include <array>
#include <string>

namespace airssys::osl {

namespace {

// Writes `v` as `width` decimal digits at `p`; returns the end.
char* put(char* p, unsigned v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// "YYYY-MM-DDTHH:MM:SS" (19 characters) for `secs`, or false outside years 0..9999.
bool date_and_seconds(std::int64_t secs, std::array<char, 19>& text) {
  // Years 0..9999; outside them a time_t may not even hold the value.
  if (secs < -62'167'219'200 || secs > 253'402'300'799) return false;
  const auto t = static_cast<time_t>(secs);
  struct tm tm {};
  if (::gmtime_r(&t, &tm) == nullptr) return false;
  char* p = put(text.data(), static_cast<unsigned>(tm.tm_year + 1900), 4);
  *p++ = '-';
  p = put(p, static_cast<unsigned>(tm.tm_mon + 1), 2);
  *p++ = '-';
  p = put(p, static_cast<unsigned>(tm.tm_mday), 2);
  *p++ = 'T';
  p = put(p, static_cast<unsigned>(tm.tm_hour), 2);
  *p++ = ':';
  p = put(p, static_cast<unsigned>(tm.tm_min), 2);
  *p++ = ':';
  put(p, static_cast<unsigned>(tm.tm_sec), 2);
  return true;
}

}  // namespace

void append_utc_time(std::string& out, std::int64_t unix_seconds, std::uint32_t nanos, int fraction_digits) {
  thread_local std::int64_t cached_secs = 0;
  thread_local bool cached_valid = false;
  thread_local std::array<char, 19> cached{};
  if (!cached_valid || unix_seconds != cached_secs) {
    cached_valid = false;
    if (!date_and_seconds(unix_seconds, cached)) {
      out += '-';
      return;
    }
    cached_secs = unix_seconds;
    cached_valid = true;
  }
  out.append(cached.data(), cached.size());
  fraction_digits = std::clamp(fraction_digits, 0, 9);
  if (fraction_digits > 0) {
    out += '.';
    unsigned frac = std::min<std::uint32_t>(nanos, 999'999'999);
    for (int i = fraction_digits; i < 9; ++i) frac /= 10;
    std::array<char, 9> digits{};
    put(digits.data(), frac, fraction_digits);
    out.append(digits.data(), static_cast<std::size_t>(fraction_digits));
  }
  out += 'Z';
}

void append_utc_time(std::string& out, std::chrono::sys_time<std::chrono::nanoseconds> t, int fraction_digits) {
  const std::int64_t ns = t.time_since_epoch().count();
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  append_utc_time(out, secs, static_cast<std::uint32_t>(frac), fraction_digits);
}

void append_utc_time(std::string& out, std::chrono::sys_time<std::chrono::microseconds> t, int fraction_digits) {
  const std::int64_t us = t.time_since_epoch().count();
  std::int64_t secs = us / 1'000'000;
  std::int64_t frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  append_utc_time(out, secs, static_cast<std::uint32_t>(frac * 1000), fraction_digits);
}

std::string utc_time(std::int64_t unix_seconds) {
  std::string out;
  out.reserve(20);
  append_utc_time(out, unix_seconds, 0, 0);
  return out;
}

}  // namespace airssys::osl
