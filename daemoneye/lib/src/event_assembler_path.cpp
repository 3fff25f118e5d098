#include "event_assembler_path.hpp"

namespace airssys::daemoneye::exec_path {

std::string collapse(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::string(path);
  std::string out;
  out.reserve(path.size());
  std::size_t i = 0;
  while (i < path.size()) {
    // At a '/': skip it and any run of "/" and "./" that follows.
    while (i < path.size() && path[i] == '/') {
      if (i + 1 < path.size() && path[i + 1] == '/') {
        ++i;
      } else if (i + 1 < path.size() && path[i + 1] == '.' && (i + 2 == path.size() || path[i + 2] == '/')) {
        i += 2;
      } else {
        break;
      }
    }
    if (i >= path.size()) break;
    const std::size_t next = path.find('/', i + 1);
    const std::size_t end = next == std::string_view::npos ? path.size() : next;
    out.append(path.substr(i, end - i));
    i = end;
  }
  // push_back, not `out = "/"`: g++ 12 at -O2 warns (-Wrestrict, a false
  // positive of its own, GCC PR 105329) on that assignment, and the package
  // preset builds with -Werror.
  if (out.empty()) out.push_back('/');
  return out;
}

bool needs_kernel_path(std::string_view p) {
  if (p.empty()) return false;
  if (p.front() != '/') return true;
  if (p.starts_with("/proc/") || p.starts_with("/dev/fd/") || p.starts_with("/dev/std")) return true;
  for (std::size_t at = p.find("/.."); at != std::string_view::npos; at = p.find("/..", at + 1)) {
    if (at + 3 == p.size() || p[at + 3] == '/') return true;
  }
  return false;
}

}  // namespace airssys::daemoneye::exec_path
