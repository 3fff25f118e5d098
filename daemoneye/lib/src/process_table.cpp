#include <airssys/daemoneye/process_table.hpp>

#include <airssys/daemoneye/snapshot_chunks.hpp>
#include <airssys/daemoneye/terminal_text.hpp>

#include <fmt/format.h>

namespace airssys::daemoneye {

std::string human_bytes(std::int64_t bytes) {
  if (bytes < 0) return "-";
  if (bytes < 1024) return fmt::format("{}", bytes);
  constexpr const char* kUnits = "KMGTPE";
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  return v < 10.0 ? fmt::format("{:.1f}{}", v, kUnits[u]) : fmt::format("{:.0f}{}", v, kUnits[u]);
}

std::string format_process_table(std::span<const ProcessRecord> processes, std::size_t width) {
  std::string out;
  out.reserve((processes.size() + 1) * (width ? width + 1 : 120));
  auto line = [&](std::string text) {
    if (width > 0) truncate_utf8(text, width);
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out.append(text).push_back('\n');
  };
  line(fmt::format("{:>7} {:>7} {:<8} {} {:>5} {:>6} {:<15} {}", "PID", "PARENT", "USER", "S", "CPU%", "RSS", "NAME",
                   "CMDLINE"));
  for (const auto& p : processes) {
    std::string user = p.username.empty() ? (p.uid >= 0 ? fmt::format("{}", p.uid) : std::string("-")) : printable(p.username);
    if (user.size() > 8) user = user.substr(0, 7) + "+";
    const std::string name = printable(p.name);
    const std::string cmd = p.cmdline.empty() ? "[" + name + "]" : printable(p.cmdline);
    line(fmt::format("{:>7} {:>7} {:<8} {:1} {:>5.1f} {:>6} {:<15} {}", p.pid, p.parent, user,
                     p.state.empty() ? std::string("?") : printable(p.state.substr(0, 1)), p.cpu_percent,
                     human_bytes(p.resident_size), name, cmd));
  }
  return out;
}

}  // namespace airssys::daemoneye
