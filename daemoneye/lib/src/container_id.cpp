#include <airssys/daemoneye/container_id.hpp>

#include <array>

namespace airssys::daemoneye {

namespace {

bool is_id(std::string_view s) noexcept {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

constexpr std::array<std::string_view, 5> kPrefixes = {"docker-", "libpod-", "cri-containerd-", "crio-", "containerd-"};

// The id a path component names, or "".
std::string_view id_of(std::string_view part) noexcept {
  if (part.ends_with(".scope")) part.remove_suffix(6);
  for (std::string_view p : kPrefixes) {
    if (part.starts_with(p)) {
      part.remove_prefix(p.size());
      break;
    }
  }
  return is_id(part) ? part : std::string_view();
}

}  // namespace

std::string container_id_from_cgroup(std::string_view path) {
  while (!path.empty()) {
    const auto slash = path.rfind('/');
    const std::string_view part = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (const auto id = id_of(part); !id.empty()) return std::string(id);
    if (slash == std::string_view::npos) break;
    path = path.substr(0, slash);
  }
  return {};
}

}  // namespace airssys::daemoneye
