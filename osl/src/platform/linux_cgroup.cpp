#include "platform/linux_cgroup.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cmath>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/unique_fd.hpp>

namespace airssys::osl {

namespace {

// A cgroup directory or control file as messages show it: its name may come
// from a caller or a registry record, so escaped and cut (detail::shown_path).
std::string shown(const std::filesystem::path& p) { return detail::shown_path(p.native()); }

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

// Beyond any real cgroup.procs (a million pids is ~8 MiB) or mountinfo.
constexpr std::size_t kMaxFileBytes = std::size_t{16} << 20;

// The whole of a /proc or cgroup file. Opened O_CLOEXEC, so a process
// another thread spawns meanwhile inherits no descriptor (std::ifstream
// cannot say so), O_NOFOLLOW, and O_NONBLOCK with a regular-file check
// (procfs and cgroupfs files are regular): a cgroup directory may come from
// a registry record, and a FIFO or device planted at its cgroup.procs must
// not hang the reader. At most kMaxFileBytes.
std::expected<std::string, Error> read_file(const std::filesystem::path& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd) return std::unexpected(Error::from_errno(errno, fmt::format("cannot read {}", shown(path))));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(Error::from_errno(errno, fmt::format("cannot read {}", shown(path))));
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("cannot read {}: not a regular file", shown(path))));
  }
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(Error::from_errno(errno, fmt::format("cannot read {}", shown(path))));
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > kMaxFileBytes) {
      return std::unexpected(Error::make(ErrorCategory::io, fmt::format("cannot read {}: larger than {} bytes", shown(path), kMaxFileBytes)));
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// As read_file, "" when the file cannot be read.
std::string slurp(const std::filesystem::path& path) { return read_file(path).value_or(std::string()); }

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

namespace cgroup {

Layout parse_layout(std::string_view mountinfo, std::string_view self_cgroup) {
  Layout layout;
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

std::string layout_name(const Layout& layout) {
  if (layout.v2_mount) return layout.v1_mounts.empty() ? "cgroup2" : "hybrid";
  return layout.v1_mounts.empty() ? "none" : "cgroup1";
}

std::optional<std::filesystem::path> own_v2_dir(const Layout& layout) {
  if (!layout.v2_mount) return std::nullopt;
  return own_dir(*layout.v2_mount, layout.v2_root, layout.v2_self);
}

std::optional<std::filesystem::path> own_v1_dir(const Layout& layout, const std::string& controller) {
  const auto m = layout.v1_mounts.find(controller);
  if (m == layout.v1_mounts.end()) return std::nullopt;
  const auto self = layout.v1_self.find(controller);
  const auto root = layout.v1_roots.find(controller);
  return own_dir(m->second, root == layout.v1_roots.end() ? "/" : root->second,
                 self == layout.v1_self.end() ? "/" : self->second);
}

Layout detect_layout() { return parse_layout(slurp("/proc/self/mountinfo"), slurp("/proc/self/cgroup")); }

std::vector<pid_t> pids(const std::filesystem::path& dir) { return detail::cgroup_pids(dir).value_or(std::vector<pid_t>{}); }

std::optional<std::string> read_file(const std::filesystem::path& path) {
  auto text = osl::read_file(path);
  if (!text) return std::nullopt;
  return std::move(*text);
}

std::string cpu_max_line(double cpus) {
  // The kernel refuses quotas below 1 ms.
  const auto quota = std::max<std::uint64_t>(1000, static_cast<std::uint64_t>(std::llround(cpus * static_cast<double>(kCpuPeriodUsec))));
  return fmt::format("{} {}", quota, kCpuPeriodUsec);
}

std::vector<std::filesystem::path> Group::dirs() const {
  std::vector<std::filesystem::path> out;
  if (v2) out.push_back(*v2);
  for (const auto& [ctl, dir] : v1) out.push_back(dir);
  return out;
}

}  // namespace cgroup

namespace detail {

std::expected<void, Error> cgroup_write(const std::filesystem::path& file, std::string_view text) {
  // O_NONBLOCK: a FIFO planted at a control file fails (ENXIO with no
  // reader, else refused as not regular) instead of hanging the writer.
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return std::unexpected(Error::from_errno(errno, fmt::format("cannot open {}", shown(file))));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("cannot write to {}: not a regular file", shown(file))));
  }
  const ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n < 0) return std::unexpected(Error::from_errno(errno, fmt::format("cannot write '{}' to {}", detail::shown_text(text), shown(file))));
  if (n != static_cast<ssize_t>(text.size())) {
    return std::unexpected(Error::make(ErrorCategory::io, fmt::format("cannot write '{}' to {}: short write", detail::shown_text(text), shown(file))));
  }
  return {};
}

std::expected<std::vector<pid_t>, Error> cgroup_pids(const std::filesystem::path& dir) {
  const auto file = dir / "cgroup.procs";
  auto text = read_file(file);
  if (!text) {
    struct stat st{};
    if (text.error().errno_value == ENOENT && ::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) return std::vector<pid_t>{};
    return std::unexpected(std::move(text.error()));
  }
  std::vector<pid_t> out;
  for (const auto line : split(*text, '\n')) {
    if (line.empty()) continue;
    pid_t pid = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec != std::errc{} || end != line.data() + line.size() || pid < 0) break;  // as a stream read stopped at the first non-number
    if (pid == 0) continue;  // a process outside the reader's pid namespace: no pid to reach it by
    out.push_back(pid);
  }
  return out;
}

std::set<std::string> cgroup_words(const std::filesystem::path& file) {
  std::istringstream in(slurp(file));
  std::set<std::string> out;
  std::string w;
  while (in >> w) out.insert(w);
  return out;
}

std::expected<bool, Error> cgroup_mkdir(const std::filesystem::path& dir, bool reuse_empty) {
  if (::mkdir(dir.c_str(), 0755) == 0) return true;
  const int err = errno;
  if (err == EEXIST && reuse_empty) {
    struct stat st{};
    if (::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && cgroup::pids(dir).empty()) return false;
    return std::unexpected(Error{ErrorCategory::already_exists, EBUSY, 0,
                                 fmt::format("cannot create {}: it exists and is in use", shown(dir))});
  }
  return std::unexpected(Error::from_errno(err, fmt::format("cannot create {}", shown(dir))));
}

std::expected<void, Error> cgroup_rmdir(const std::filesystem::path& dir) {
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
  return std::unexpected(Error::from_errno(errno, fmt::format("cannot remove {}", shown(dir))));
}

namespace {

// SIGKILL to each member still listed after its pidfd pinned it. A
// cgroup.procs that cannot be read (EACCES, not a cgroup, a planted FIFO) is
// an error, not an empty cgroup: the caller must not report the kill done.
std::expected<std::size_t, Error> kill_members(const std::filesystem::path& dir) {
  auto listed = cgroup_pids(dir);  // a directory gone holds nothing
  if (!listed) return std::unexpected(std::move(listed.error()));
  std::vector<std::pair<pid_t, UniqueFd>> pinned;
  for (pid_t pid : *listed) {
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (fd) pinned.emplace_back(pid, std::move(fd));
  }
  if (pinned.empty()) return 0;
  const auto still = cgroup_pids(dir);
  if (!still) return std::unexpected(still.error());
  std::size_t n = 0;
  for (const auto& [pid, fd] : pinned) {
    if (std::find(still->begin(), still->end(), pid) == still->end()) continue;
    if (::syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0) == 0) ++n;
  }
  return n;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::expected<cgroup::KillResult, Error> cgroup_kill_all(const std::filesystem::path& dir) {
  cgroup::KillResult r;
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return r;  // gone: nothing left in it
    return std::unexpected(Error::from_errno(errno, fmt::format("cannot kill in {}", shown(dir))));
  }
  if (::access((dir / "cgroup.kill").c_str(), F_OK) == 0) {
    r.method = "cgroup.kill";
    if (auto w = cgroup_write(dir / "cgroup.kill", "1"); !w) return std::unexpected(w.error());
    return r;
  }
  const auto state = dir / "freezer.state";
  if (::access(state.c_str(), F_OK) == 0) {
    // Frozen, nothing in it can fork between the listing and the kill; the
    // SIGKILLs are delivered once it thaws.
    r.method = "freezer";
    if (auto w = cgroup_write(state, "FROZEN"); !w) return std::unexpected(w.error());
    for (int i = 0; i < 200 && trim(slurp(state)) != "FROZEN"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto killed = kill_members(dir);
    // Thawed whatever the listing said: a cgroup left frozen would hold its
    // members stopped for good.
    if (auto w = cgroup_write(state, "THAWED"); !w) return std::unexpected(w.error());
    if (!killed) return std::unexpected(killed.error());
    r.signalled = *killed;
    return r;
  }
  r.method = "signals";
  for (int round = 0; round < 10; ++round) {
    const auto n = kill_members(dir);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    r.signalled += *n;
  }
  return r;
}

std::expected<cgroup::KillResult, Error> cgroup_signal_all(const std::vector<std::filesystem::path>& dirs, int signo) {
  cgroup::KillResult r{.signalled = 0, .method = "signals"};
  // Every directory is looked at before anyone is signalled: an error then
  // means nobody was, and a caller may fall back to other means without a
  // member getting the signal twice.
  // A directory whose cgroup.procs cannot be read (EACCES, not a cgroup, a
  // planted FIFO) is an error, not an empty cgroup.
  const auto list_all = [&dirs]() -> std::expected<std::set<pid_t>, Error> {
    std::set<pid_t> all;
    for (const auto& dir : dirs) {
      auto listed = cgroup_pids(dir);  // a directory gone holds nothing
      if (!listed) return std::unexpected(std::move(listed.error()));
      all.insert(listed->begin(), listed->end());
    }
    return all;
  };
  // One pidfd per pid listed anywhere: a process in several directories (v2
  // and v1 hierarchies) is one target, signalled once. A second SIGTERM
  // means "quit now" to many programs.
  const auto listed = list_all();
  if (!listed) return std::unexpected(listed.error());
  std::vector<std::pair<pid_t, UniqueFd>> pinned;
  for (const pid_t pid : *listed) {
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (fd) pinned.emplace_back(pid, std::move(fd));
  }
  if (pinned.empty()) return r;
  // Still listed once pinned: the pidfd holds a member, not a stranger that
  // took a recycled pid.
  const auto still = list_all();
  if (!still) return std::unexpected(still.error());
  for (const auto& [pid, fd] : pinned) {
    if (still->contains(pid) && ::syscall(SYS_pidfd_send_signal, fd.get(), signo, nullptr, 0) == 0) ++r.signalled;
  }
  return r;
}

}  // namespace detail
}  // namespace airssys::osl
