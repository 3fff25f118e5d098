#include "mount_table.hpp"

#include <airssys/daemoneye/kernel_events.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace airssys::daemoneye {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      const auto r = std::from_chars(s.data() + i + 1, s.data() + i + 4, v, 8);
      if (r.ec == std::errc{} && r.ptr == s.data() + i + 4) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// The next space-separated field of `line` from `at`.
std::string_view field(std::string_view line, std::size_t& at) {
  const std::size_t end = std::min(line.find(' ', at), line.size());
  std::string_view f = line.substr(at, end - at);
  at = end + 1;
  return f;
}

std::optional<std::uint64_t> dev_of(std::string_view majmin) {
  const auto colon = majmin.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  unsigned major = 0, minor = 0;
  const char* end = majmin.data() + majmin.size();
  auto a = std::from_chars(majmin.data(), majmin.data() + colon, major);
  auto b = std::from_chars(majmin.data() + colon + 1, end, minor);
  if (a.ec != std::errc{} || a.ptr != majmin.data() + colon || b.ec != std::errc{} || b.ptr != end) return std::nullopt;
  return ::makedev(major, minor);
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    std::size_t at = 0;
    field(line, at);  // mount id
    field(line, at);  // parent id
    const auto dev = dev_of(field(line, at));
    if (at > line.size()) continue;
    const std::string_view root = field(line, at);
    if (at > line.size()) continue;
    const std::string_view point = field(line, at);
    if (!dev || root.empty() || root.front() != '/' || point.empty() || point.front() != '/') continue;
    out.push_back(MountEntry{*dev, unescape(root), unescape(point)});
  }
  return out;
}

std::optional<std::string> host_path_of(std::span<const MountEntry> mounts, std::uint64_t dev, std::string_view fs_path,
                                        std::string_view prefer) {
  if (fs_path.empty() || fs_path.front() != '/') return std::nullopt;
  std::optional<std::string> best, temp;
  for (const auto& m : mounts) {
    if (m.dev != dev) continue;
    // The rest of fs_path below the mount's root: "" for the root itself.
    std::string_view rest;
    if (m.root == "/") {
      rest = fs_path == "/" ? std::string_view{} : fs_path;
    } else if (fs_path == m.root) {
      rest = {};
    } else if (fs_path.starts_with(m.root) && fs_path[m.root.size()] == '/') {
      rest = fs_path.substr(m.root.size());
    } else {
      continue;
    }
    std::string path = m.mount_point == "/" ? std::string(rest) : m.mount_point + std::string(rest);
    if (path.empty()) path = "/";
    if (!prefer.empty() && path == prefer) return path;
    if (in_temporary_directory(path)) {
      if (!temp) temp = path;
    } else if (!best || path.size() < best->size()) {
      best = std::move(path);
    }
  }
  return temp ? temp : best;
}

bool in_temporary_directory(std::string_view path) {
  for (const std::string_view dir : {"/tmp/", "/var/tmp/", "/dev/shm/", "/run/lock/", "/var/lock/"}) {
    if (path.starts_with(dir)) return true;
  }
  return false;
}

std::string cut_host_path(const std::optional<std::string>& top) {
  if (!top) return "\u2026";
  return *top == "/" ? "/\u2026" : *top + "/\u2026";
}

std::uint64_t own_mount_namespace() {
  struct stat st {};
  return ::stat("/proc/self/ns/mnt", &st) == 0 ? st.st_ino : 0;
}

std::optional<std::string> MountTable::image_host_path(const KernelEvent& k, std::uint64_t own_mnt_ns) {
  const std::string_view prefer = own_mnt_ns != 0 && k.mnt_ns == own_mnt_ns ? std::string_view(k.exe_path) : "";
  if (k.image_fs_path_cut) {
    return cut_host_path(k.image_fs_path.empty() ? std::nullopt : host_path(k.image_dev, k.image_fs_path, ""));
  }
  if (k.image_fs_path.empty()) return std::nullopt;
  return host_path(k.image_dev, k.image_fs_path, prefer);
}

std::optional<std::string> MountTable::host_path(std::uint64_t dev, std::string_view fs_path, std::string_view prefer) {
  const bool fresh = changed();
  if (fresh) read();
  auto found = host_path_of(mounts_, dev, fs_path, prefer);
  if (!found && !fresh && std::chrono::steady_clock::now() - read_at_ >= reread_) {
    read();
    found = host_path_of(mounts_, dev, fs_path, prefer);
  }
  return found;
}

// True at the first lookup, and when the kernel says the table changed
// since the last poll (which resets the mark).
bool MountTable::changed() {
  if (!fd_) {
    fd_ = osl::UniqueFd(::open(file_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    return true;
  }
  pollfd p{fd_.get(), POLLPRI, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLPRI | POLLERR)) != 0;
}

// The whole table again (at most kMaxBytes; the last line cut there is
// dropped). Unreadable: no mounts, every lookup unknown until it reads.
void MountTable::read() {
  ++reads_;
  read_at_ = std::chrono::steady_clock::now();
  mounts_.clear();
  if (!fd_ || ::lseek(fd_.get(), 0, SEEK_SET) != 0) return;
  std::string text;
  char buf[16384];
  while (text.size() < kMaxBytes) {
    const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  if (text.size() >= kMaxBytes) {
    text.resize(kMaxBytes);
    text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  }
  mounts_ = parse_mountinfo(text);
}

}  // namespace airssys::daemoneye
