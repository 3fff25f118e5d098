#include <airssys/daemoneye/terminal_text.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>

namespace airssys::daemoneye {

std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
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
