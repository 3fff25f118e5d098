#include <airssys/daemoneye/terminal_text.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

namespace airssys::daemoneye {

namespace {

// The code point of the valid UTF-8 sequence of `len` bytes at s[i] (2 to
// 4), or nullopt: a cut-off, overlong or surrogate sequence, a stray
// continuation byte, or 0xf5..0xff.
std::optional<char32_t> utf8_at(std::string_view s, std::size_t i, std::size_t& len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  char32_t cp = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    cp = b0 & 0x1fU;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    cp = b0 & 0x0fU;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    cp = b0 & 0x07U;
  } else {
    return std::nullopt;
  }
  if (i + len > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0U) != 0x80U) return std::nullopt;
    cp = (cp << 6) | (b & 0x3fU);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return std::nullopt;
  return cp;
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    // A byte that is not part of valid UTF-8 (0x9b alone is CSI to a
    // terminal reading 8-bit controls), and U+0080..U+009F written as UTF-8
    // (xterm-like terminals act on them as C1 controls: U+009B is CSI,
    // U+009D OSC), as on ESC: one '?' each.
    std::size_t len = 1;
    const auto cp = utf8_at(s, i, len);
    if (!cp) {
      out += '?';
      ++i;
    } else if (*cp <= 0x9f) {
      out += '?';
      i += len;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
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
