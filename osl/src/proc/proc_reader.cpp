// osl::proc::Reader — the I/O half of osl::proc (parsers in proc_parse.cpp).

#include <airssys/osl/proc.hpp>

#include "platform/linux_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace airssys::osl::proc {

namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

// The exited-process case gets its own wording; everything else is strerror.
Error io_error(int err, pid_t pid, std::string_view file) {
  if (err == ESRCH || (err == ENOENT && pid > 0)) {
    return Error{ErrorCategory::not_found, err, 0,
                 fmt::format("process {} is gone or has no {} ({})", pid, file, std::strerror(err))};
  }
  return Error::from_errno(err, pid > 0 ? fmt::format("/proc/{}/{}", pid, file) : fmt::format("/proc/{}", file));
}

Error parse_error(pid_t pid, const Error& e) {
  return Error{e.category, 0, 0, fmt::format("/proc/{}/{}", pid, e.message)};
}

std::string_view link_name(LinkKind k) noexcept {
  switch (k) {
    case LinkKind::exe: return "exe";
    case LinkKind::cwd: return "cwd";
    case LinkKind::root: return "root";
  }
  return "exe";
}

template <class T>
bool to_number(std::string_view s, T& out) noexcept {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

}  // namespace

Reader::Reader(ReaderOptions options, UniqueFd root) noexcept : options_(std::move(options)), root_(std::move(root)) {}

std::expected<Reader, Error> Reader::open(ReaderOptions options) {
  const int fd = ::open(options.proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(Error::from_errno(errno, fmt::format("open {}", options.proc_root.string())));
  Reader r(std::move(options), UniqueFd(fd));
  r.buf_.resize(4096);
  r.dents_.resize(32 * 1024);
  return r;
}

std::expected<std::string_view, Error> Reader::read_file(int dir, const char* name, pid_t pid, std::size_t max,
                                                         bool* truncated, bool until_eof) {
  // O_NOFOLLOW: none of the files read this way is a link, and with a test
  // proc_root nobody can redirect us through one.
  UniqueFd fd(::openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!fd) return std::unexpected(io_error(errno, pid, name));
  // One byte more than `max` tells "exactly max" from "more than max".
  const std::size_t limit = max + 1;
  std::size_t total = 0;
  for (;;) {
    if (total == buf_.size()) {
      if (buf_.size() >= limit) break;
      buf_.resize(std::min(buf_.size() * 2, limit));
    }
    const std::size_t want = buf_.size() - total;
    const ssize_t n = ::read(fd.get(), buf_.data() + total, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error(errno, pid, name));
    }
    total += static_cast<std::size_t>(n);
    if (n == 0) break;
    // /proc files (seq_file, cmdline) fill the buffer as far as they have
    // data: a short read is the end, which saves the read() that returns 0.
    if (static_cast<std::size_t>(n) < want && !until_eof) break;
  }
  const bool cut = total > max;
  if (truncated) *truncated = cut;
  return std::string_view(buf_.data(), cut ? max : total);
}

std::expected<void, Error> Reader::list_pids(std::vector<pid_t>& out) {
  out.clear();
  if (::lseek(root_.get(), 0, SEEK_SET) < 0) return std::unexpected(Error::from_errno(errno, "rewind /proc"));
  for (;;) {
    const ssize_t n = ::getdents64(root_.get(), dents_.data(), dents_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno(errno, "getdents64 /proc"));
    }
    if (n == 0) return {};
    for (ssize_t off = 0; off < n;) {
      // struct linux_dirent64 { ino64_t d_ino; off64_t d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; }
      const char* rec = dents_.data() + off;
      unsigned short reclen = 0;
      std::memcpy(&reclen, rec + offsetof(struct dirent64, d_reclen), sizeof reclen);
      const char* name = rec + offsetof(struct dirent64, d_name);
      off += reclen;
      if (name[0] < '1' || name[0] > '9') continue;  // ".", "self", "sys", …; pids never start with 0
      pid_t pid = 0;
      if (to_number(std::string_view(name), pid)) out.push_back(pid);
    }
  }
}

std::expected<Process, Error> Reader::open_process(pid_t pid) {
  if (pid <= 0) return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("invalid pid {}", pid)));
  std::array<char, 16> name{};
  const auto r = std::to_chars(name.data(), name.data() + name.size() - 1, pid);
  *r.ptr = '\0';
  const int fd = ::openat(root_.get(), name.data(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ESRCH) {
      return std::unexpected(Error{ErrorCategory::not_found, err, 0, fmt::format("no process with pid {}", pid)});
    }
    return std::unexpected(Error::from_errno(err, fmt::format("open /proc/{}", pid)));
  }
  return Process(pid, UniqueFd(fd));
}

std::expected<Stat, Error> Reader::stat(const Process& p) {
  auto text = read_file(p.dir_fd(), "stat", p.pid(), 64 * 1024);
  if (!text) return std::unexpected(std::move(text.error()));
  auto st = parse_stat(*text);
  if (!st) return std::unexpected(parse_error(p.pid(), st.error()));
  return st;
}

std::expected<Status, Error> Reader::status(const Process& p) {
  auto text = read_file(p.dir_fd(), "status", p.pid(), 64 * 1024);
  if (!text) return std::unexpected(std::move(text.error()));
  auto st = parse_status(*text);
  if (!st) return std::unexpected(parse_error(p.pid(), st.error()));
  return st;
}

std::expected<Io, Error> Reader::io(const Process& p) {
  auto text = read_file(p.dir_fd(), "io", p.pid(), 4096);
  if (!text) return std::unexpected(std::move(text.error()));
  auto io = parse_io(*text);
  if (!io) return std::unexpected(parse_error(p.pid(), io.error()));
  return io;
}

std::expected<Cmdline, Error> Reader::cmdline(const Process& p) {
  Cmdline c;
  auto text = read_file(p.dir_fd(), "cmdline", p.pid(), options_.cmdline_max, &c.truncated);
  if (!text) return std::unexpected(std::move(text.error()));
  c.args.assign(*text);
  return c;
}

std::expected<std::string, Error> Reader::cgroup(const Process& p) {
  auto text = read_file(p.dir_fd(), "cgroup", p.pid(), 256 * 1024);
  if (!text) return std::unexpected(std::move(text.error()));
  return std::string(parse_cgroup_path(*text));
}

std::expected<std::uint32_t, Error> Reader::loginuid(const Process& p) {
  auto text = read_file(p.dir_fd(), "loginuid", p.pid(), 64);
  if (!text) return std::unexpected(std::move(text.error()));
  std::string_view t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.remove_suffix(1);
  std::uint32_t v = 0;
  if (!to_number(t, v)) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument,
                                       fmt::format("/proc/{}/loginuid: not a number: '{}'", p.pid(), t)));
  }
  return v;
}

std::expected<Link, Error> Reader::link(const Process& p, LinkKind kind) {
  const std::string_view name = link_name(kind);
  // PATH_MAX plus room for the suffix; the kernel fails longer paths itself.
  if (buf_.size() < 4096 + 64) buf_.resize(4096 + 64);
  const ssize_t n = ::readlinkat(p.dir_fd(), name.data(), buf_.data(), buf_.size());
  if (n < 0) return std::unexpected(io_error(errno, p.pid(), name));
  if (static_cast<std::size_t>(n) == buf_.size()) return std::unexpected(io_error(ENAMETOOLONG, p.pid(), name));
  std::string_view target(buf_.data(), static_cast<std::size_t>(n));
  Link l;
  if (target.ends_with(kDeletedSuffix)) {
    l.deleted = true;
    target.remove_suffix(kDeletedSuffix.size());
  }
  l.path.assign(target);
  return l;
}

std::expected<struct ::stat, Error> Reader::exe_stat(const Process& p) {
  struct ::stat st{};
  if (::fstatat(p.dir_fd(), "exe", &st, 0) != 0) return std::unexpected(io_error(errno, p.pid(), "exe"));
  return st;
}

std::expected<UniqueFd, Error> Reader::open_exe(const Process& p) {
  // Deliberately without O_NOFOLLOW: "exe" is a magic link, and O_NOFOLLOW
  // would refuse it (ELOOP). Following it is not a path walk: the kernel
  // hands back the very file the process has mapped (its mm's exe_file), so
  // nobody can plant a symlink or swap a path in between. O_NONBLOCK keeps a
  // non-regular file (impossible for an executable image) from blocking us.
  const int fd = ::openat(p.dir_fd(), "exe", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return std::unexpected(io_error(errno, p.pid(), "exe"));
  return UniqueFd(fd);
}

std::expected<struct ::stat, Error> Reader::stat_in_root(const Process& p, std::string_view path) {
  if (!path.starts_with('/') || path.find('\0') != std::string_view::npos) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("not an absolute path: '{}'", path)));
  }
  UniqueFd root(::openat(p.dir_fd(), "root", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return std::unexpected(io_error(errno, p.pid(), "root"));
  // "." for "/" itself; otherwise the path relative to that root.
  std::string rel(path.size() == 1 ? std::string_view(".") : path.substr(1));
  // No symlink is followed: the process (or whoever owns its filesystem) can
  // plant one anywhere on the path, and the callers compare against a
  // kernel-resolved path, which has none. O_PATH | O_NOFOLLOW yields a final
  // symlink itself (so its own inode is what gets compared);
  // RESOLVE_NO_SYMLINKS refuses one in a directory component with ELOOP.
  UniqueFd file(detail::sys_openat2(root.get(), rel.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
                                    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS));
  if (!file) return std::unexpected(Error::from_errno(errno, fmt::format("{} under the root of process {}", path, p.pid())));
  struct ::stat st{};
  if (::fstat(file.get(), &st) != 0) return std::unexpected(Error::from_errno(errno, fmt::format("fstat {}", path)));
  return st;
}

std::expected<std::int64_t, Error> Reader::boot_time() {
  // /proc/stat holds per-CPU and interrupt lines before btime: read it whole.
  auto text = read_file(root_.get(), "stat", 0, 4 * 1024 * 1024);
  if (!text) return std::unexpected(std::move(text.error()));
  auto bt = parse_boot_time(*text);
  if (!bt) return std::unexpected(Error::make(bt.error().category, "/proc/" + bt.error().message));
  return bt;
}

std::expected<Stat, Error> read_stat(pid_t pid) {
  if (pid <= 0) return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("invalid pid {}", pid)));
  std::array<char, 32> path{};
  fmt::format_to_n(path.data(), path.size() - 1, "/proc/{}/stat", pid);
  UniqueFd fd(::open(path.data(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT || err == ESRCH) {
      return std::unexpected(Error{ErrorCategory::not_found, err, 0, fmt::format("no process with pid {}", pid)});
    }
    return std::unexpected(Error::from_errno(err, path.data()));
  }
  // One read: the kernel produces the line whole (it is far below a page).
  std::array<char, 4096> buf{};
  ssize_t n = 0;
  do {
    n = ::read(fd.get(), buf.data(), buf.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return std::unexpected(io_error(errno, pid, "stat"));
  auto st = parse_stat(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  if (!st) return std::unexpected(parse_error(pid, st.error()));
  return st;
}

long clock_ticks_per_second() noexcept {
  static const long v = ::sysconf(_SC_CLK_TCK);
  return v > 0 ? v : 100;
}

long page_size() noexcept {
  static const long v = ::sysconf(_SC_PAGESIZE);
  return v > 0 ? v : 4096;
}

}  // namespace airssys::osl::proc
