#include <airssys/daemoneye/terminal_text.hpp>

#include <airssys/osl/detail/utf8.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>

namespace airssys::daemoneye {

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
    const std::size_t len = osl::detail::utf8_sequence_length(s, i);
    if (len == 0) {
      out += '?';
      ++i;
    } else if (len == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) {  // U+0080..U+009F
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
