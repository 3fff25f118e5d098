#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <random>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/file_io.hpp>

#include "fs/fs_ops.hpp"
#include "platform/linux_fs.hpp"

namespace airssys::osl::detail {

std::expected<UniqueFd, Error> open_beneath(const ResolvedPath& p, int flags, mode_t mode) {
  const int fd = sys_openat2(p.parent.get(), p.name.c_str(), static_cast<std::uint64_t>(flags) | O_CLOEXEC, mode,
                             kStrictResolve);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP || err == EXDEV) {
      return std::unexpected(Error{ErrorCategory::permission, err, 0,
                                   fmt::format("{}: changed into a symbolic link after the policy check; refused", shown_path(p.path))});
    }
    return std::unexpected(Error::from_errno(err, shown_path(p.path)));
  }
  return UniqueFd(fd);
}

namespace {
std::expected<void, Error> write_all(int fd, std::string_view data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = io::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno(errno, fmt::format("writing {}", shown_path(path))));
    }
    off += static_cast<std::size_t>(n);
  }
  return {};
}

std::string temp_name(const std::string& name) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format(".{}.airssys-{:016x}", name.size() > 200 ? name.substr(0, 200) : name, rng());
}
}  // namespace

std::expected<std::string, Error> exec_read(const ResolvedPath& p, const fs::Read& op) {
  auto fd = open_beneath(p, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  if (!fd) return std::unexpected(fd.error());
  return read_open_file(fd->get(), p.path, op);
}

std::expected<std::string, Error> read_open_file(int fd, const std::string& path, const fs::Read& op) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(Error::from_errno(errno, shown_path(path)));
  if (S_ISDIR(st.st_mode)) {
    return std::unexpected(Error{ErrorCategory::invalid_argument, EISDIR, 0, fmt::format("{}: is a directory; use fs.list", shown_path(path))});
  }
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("{}: not a regular file", shown_path(path))));
  }
  if (static_cast<std::uint64_t>(st.st_size) > op.max_bytes) {
    return std::unexpected(Error::make(ErrorCategory::resource_exhausted,
                                       fmt::format("{}: {} bytes exceeds the read limit of {} bytes", shown_path(path),
                                                   st.st_size, op.max_bytes)));
  }
  // Read the size fstat reported; a file that reports 0 (procfs, sysfs) is
  // read to end of file, in a buffer doubled up to max_bytes. Data appended
  // after the fstat is not included. The buffer is not zeroed first: the
  // string ends where the reads ended.
  const auto expected = static_cast<std::size_t>(st.st_size);
  std::string out;
  std::size_t off = 0;
  int read_errno = 0;
  bool at_end = false;
  std::size_t want = expected != 0 ? expected : std::min<std::size_t>(4096, op.max_bytes);
  const auto fill = [&](char* p, std::size_t room) {
    // Never past `want`: libstdc++ 12 passes the grown capacity as `room`.
    const std::size_t n = std::min(room, want);
    while (off < n) {
      const ssize_t got = ::read(fd, p + off, n - off);
      if (got < 0) {
        if (errno == EINTR) continue;
        read_errno = errno;
        break;
      }
      if (got == 0) {
        at_end = true;
        break;
      }
      off += static_cast<std::size_t>(got);
    }
    return off;
  };
  for (;;) {
    out.resize_and_overwrite(want, fill);
    if (read_errno != 0) return std::unexpected(Error::from_errno(read_errno, fmt::format("reading {}", shown_path(path))));
    if (expected != 0 || at_end || want >= op.max_bytes) break;
    want = std::min<std::size_t>(want * 2, op.max_bytes);
  }
  return out;
}

std::expected<fs::Write::Result, Error> exec_write(const ResolvedPath& p, const fs::Write& op) {
  if (!op.atomic) {
    const int flags = O_WRONLY | O_CREAT | O_NOCTTY | O_NONBLOCK | (op.mode == fs::WriteMode::append ? O_APPEND : O_TRUNC);
    auto fd = open_beneath(p, flags, op.create_mode);
    if (!fd) return std::unexpected(fd.error());
    struct stat st {};
    if (::fstat(fd->get(), &st) == 0 && !S_ISREG(st.st_mode)) {
      return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("{}: not a regular file", shown_path(p.path))));
    }
    if (auto r = write_all(fd->get(), op.data, p.path); !r) return std::unexpected(r.error());
    if (op.fsync && io::fsync(fd->get()) != 0) return std::unexpected(Error::from_errno(errno, fmt::format("fsync {}", shown_path(p.path))));
    return fs::Write::Result{op.data.size()};
  }
  if (op.mode == fs::WriteMode::append) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, "atomic replace cannot be combined with append"));
  }
  // Keep an existing file's permissions; a new file gets create_mode.
  mode_t mode = op.create_mode;
  struct stat existing {};
  if (::fstatat(p.parent.get(), p.name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISREG(existing.st_mode)) {
      return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("{}: not a regular file", shown_path(p.path))));
    }
    mode = existing.st_mode & 07777;
  }
  ResolvedPath tmp;
  tmp.parent.reset(::fcntl(p.parent.get(), F_DUPFD_CLOEXEC, 0));
  tmp.name = temp_name(p.name);
  tmp.path = p.path + ".tmp";
  auto fd = open_beneath(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY, mode);
  if (!fd) return std::unexpected(fd.error());
  auto cleanup = [&] { ::unlinkat(p.parent.get(), tmp.name.c_str(), 0); };
  if (::fchmod(fd->get(), mode) != 0 && errno != EPERM) {
    cleanup();
    return std::unexpected(Error::from_errno(errno, fmt::format("chmod temporary file for {}", shown_path(p.path))));
  }
  if (auto r = write_all(fd->get(), op.data, p.path); !r) {
    cleanup();
    return std::unexpected(r.error());
  }
  if (io::fsync(fd->get()) != 0) {
    const int err = errno;
    cleanup();
    return std::unexpected(Error::from_errno(err, fmt::format("fsync {}", shown_path(p.path))));
  }
  if (io::renameat(p.parent.get(), tmp.name.c_str(), p.parent.get(), p.name.c_str()) != 0) {
    const int err = errno;
    cleanup();
    return std::unexpected(Error::from_errno(err, fmt::format("replacing {}", shown_path(p.path))));
  }
  // Make the rename itself durable.
  const int dirfd = sys_openat2(p.parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, kStrictResolve);
  if (dirfd >= 0) {
    UniqueFd d(dirfd);
    (void)io::fsync(d.get());
  }
  return fs::Write::Result{op.data.size()};
}

}  // namespace airssys::osl::detail
