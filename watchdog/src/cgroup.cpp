#include <airssys/watchdog/cgroup.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace airssys::watchdog {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      if (std::from_chars(s.data() + i + 1, s.data() + i + 4, v, 8).ec == std::errc{}) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string slurp(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CgroupLayout parse_cgroup_layout(std::string_view mountinfo, std::string_view self_cgroup) {
  CgroupLayout layout;
  for (auto line : split(mountinfo, '\n')) {
    auto dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    auto left = split(line.substr(0, dash), ' ');
    auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    const std::string mount_point = unescape(left[4]);
    const std::string root = unescape(left[3]);
    if (right[0] == "cgroup2") {
      // Prefer the conventional location if several are mounted.
      if (!layout.v2_mount || mount_point == "/sys/fs/cgroup" || mount_point == "/sys/fs/cgroup/unified") {
        layout.v2_mount = mount_point;
        layout.v2_root = root;
      }
    } else if (right[0] == "cgroup") {
      for (auto opt : split(right[2], ',')) {
        static constexpr std::string_view kControllers[] = {"memory", "cpu", "cpuacct", "pids", "freezer", "cpuset", "blkio", "devices"};
        for (auto c : kControllers) {
          if (opt == c && layout.v1_mounts.emplace(std::string(c), mount_point).second) {
            layout.v1_roots.emplace(std::string(c), root);
          }
        }
      }
    }
  }
  for (auto line : split(self_cgroup, '\n')) {
    auto parts = split(line, ':');
    if (parts.size() < 3) continue;
    std::string path(line.substr(parts[0].size() + parts[1].size() + 2));
    if (parts[0] == "0" && parts[1].empty()) {
      layout.v2_self = path;
    } else {
      for (auto c : split(parts[1], ',')) layout.v1_self.emplace(std::string(c), path);
    }
  }
  return layout;
}

std::string layout_name(const CgroupLayout& layout) {
  if (layout.v2_mount) return layout.v1_mounts.empty() ? "cgroup2" : "hybrid";
  return layout.v1_mounts.empty() ? "none" : "cgroup1";
}

namespace {

// mount + (own path relative to the mount's root); nullopt on "..".
std::optional<std::filesystem::path> own_dir(const std::filesystem::path& mount, const std::string& root, std::string self) {
  if (root != "/" && self.starts_with(root) && (self.size() == root.size() || self[root.size()] == '/')) {
    self.erase(0, root.size());
  }
  while (!self.empty() && self.front() == '/') self.erase(0, 1);
  if (self.find("..") != std::string::npos) return std::nullopt;
  return self.empty() ? mount : mount / self;
}

}  // namespace

std::optional<std::filesystem::path> own_v2_dir(const CgroupLayout& layout) {
  if (!layout.v2_mount) return std::nullopt;
  return own_dir(*layout.v2_mount, layout.v2_root, layout.v2_self);
}

std::optional<std::filesystem::path> own_v1_dir(const CgroupLayout& layout, const std::string& controller) {
  const auto m = layout.v1_mounts.find(controller);
  if (m == layout.v1_mounts.end()) return std::nullopt;
  const auto self = layout.v1_self.find(controller);
  const auto root = layout.v1_roots.find(controller);
  return own_dir(m->second, root == layout.v1_roots.end() ? "/" : root->second,
                 self == layout.v1_self.end() ? "/" : self->second);
}

CgroupLayout detect_cgroup_layout() {
  return parse_cgroup_layout(slurp("/proc/self/mountinfo"), slurp("/proc/self/cgroup"));
}

std::expected<std::filesystem::path, std::string> create_task_cgroup(const CgroupLayout& layout, std::string_view id,
                                                                     pid_t monitor) {
  if (const char* off = std::getenv("TASK_WATCHDOG_NO_CGROUP"); off && std::string_view(off) == "1") {
    return std::unexpected("cgroups disabled by TASK_WATCHDOG_NO_CGROUP=1");
  }
  if (!layout.v2_mount) return std::unexpected("no cgroup v2 hierarchy is mounted");
  const auto base = own_v2_dir(layout);
  if (!base) return std::unexpected(fmt::format("unexpected own cgroup path '{}'", layout.v2_self));
  return make_task_cgroup_dir(*base, id, monitor);
}

std::expected<std::filesystem::path, std::string> make_task_cgroup_dir(const std::filesystem::path& base, std::string_view id,
                                                                       pid_t monitor) {
  const auto parent = base / "task-watchdog";
  if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
    return std::unexpected(fmt::format("cannot create {}: {}", parent.string(), std::strerror(errno)));
  }
  const auto dir = parent / fmt::format("{}-{}", id, monitor);
  if (::mkdir(dir.c_str(), 0755) != 0) {
    // A leftover of an earlier monitor with the same pid is reused if empty.
    if (errno != EEXIST || !cgroup_pids(dir).empty()) {
      return std::unexpected(fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno == EEXIST ? EBUSY : errno)));
    }
  }
  if (::access((dir / "cgroup.procs").c_str(), W_OK) != 0) {
    const int err = errno;
    ::rmdir(dir.c_str());
    return std::unexpected(fmt::format("cannot write {}/cgroup.procs: {}", dir.string(), std::strerror(err)));
  }
  return dir;
}

std::vector<pid_t> cgroup_pids(const std::filesystem::path& dir) {
  std::vector<pid_t> out;
  std::ifstream in(dir / "cgroup.procs");
  pid_t pid = 0;
  while (in >> pid) out.push_back(pid);
  return out;
}

bool cgroup_kill(const std::filesystem::path& dir) {
  const auto path = dir / "cgroup.kill";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "1", 1) == 1;
  ::close(fd);
  return ok;
}

bool remove_cgroup(const std::filesystem::path& dir) { return ::rmdir(dir.c_str()) == 0 || errno == ENOENT; }

}  // namespace airssys::watchdog
