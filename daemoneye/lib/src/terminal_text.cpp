#include <airssys/daemoneye/terminal_text.hpp>

#include <airssys/osl/detail/utf8.hpp>

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace airssys::daemoneye {

namespace {

// The code point of the well-formed 2- or 3-byte sequence at s[pos].
char32_t code_point(std::string_view s, std::size_t pos, std::size_t len) noexcept {
  const auto at = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(s[pos + i])); };
  if (len == 2) return ((at(0) & 0x1f) << 6) | (at(1) & 0x3f);
  return ((at(0) & 0x0f) << 12) | ((at(1) & 0x3f) << 6) | (at(2) & 0x3f);
}

bool is_control_code_point(char32_t c) noexcept {
  return (c >= 0x80 && c <= 0x9f)         // C1
         || (c >= 0x202a && c <= 0x202e)  // bidi embeddings and overrides
         || (c >= 0x2066 && c <= 0x2069)  // bidi isolates
         || c == 0x2028 || c == 0x2029;   // line and paragraph separators
}

}  // namespace

std::size_t is_terminal_control_at(std::string_view s, std::size_t pos) noexcept {
  const auto c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) return c < 0x20 || c == 0x7f ? 1 : 0;
  const std::size_t len = osl::detail::utf8_sequence_length(s, pos);
  if (len == 0) return 1;  // not UTF-8: one byte at a time
  if (len == 4) return 0;
  return is_control_code_point(code_point(s, pos, len)) ? len : 0;
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (const std::size_t n = is_terminal_control_at(s, i); n > 0) {
      out += '?';
      i += n;
      continue;
    }
    // Safe text runs to the next control: copied whole.
    const std::size_t start = i;
    do {
      i += std::max<std::size_t>(1, osl::detail::utf8_sequence_length(s, i));
    } while (i < s.size() && is_terminal_control_at(s, i) == 0);
    out.append(s.substr(start, i - start));
  }
  return out;
}

std::string terminal_safe_json(std::string json) {
  const std::string_view s = json;
  std::string out;  // stays empty while nothing needed an escape
  std::size_t copied = 0;  // s[0, copied) is in `out`
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    // ASCII other than DEL is never escaped here (C0 in a string is
    // escaped by the writer already; outside one it is layout).
    if (c < 0x7f) {
      ++i;
      continue;
    }
    const std::size_t n = is_terminal_control_at(s, i);
    if (n == 0) {
      i += osl::detail::utf8_sequence_length(s, i);
      continue;
    }
    out.append(s.substr(copied, i - copied));
    if (c == 0x7f) out += "\\u007f";
    else if (n == 1) out += "\\ufffd";  // not UTF-8 (the caller's writer replaces these first): as that writer would
    else out += fmt::format("\\u{:04x}", static_cast<unsigned>(code_point(s, i, n)));
    i += n;
    copied = i;
  }
  if (copied == 0) return json;  // most documents: as they are, without a copy
  out.append(s.substr(copied));
  return out;
}

std::size_t terminal_width() {
  winsize ws{};
  if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const long v = std::strtol(c, nullptr, 10);
    if (v > 0 && v < 100000) return static_cast<std::size_t>(v);
  }
  return 0;
}

}  // namespace airssys::daemoneye
