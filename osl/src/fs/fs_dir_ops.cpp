#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/file_io.hpp>

#include "fs/fs_ops.hpp"
#include "fs/tree_ops.hpp"
#include "platform/linux_fs.hpp"

namespace airssys::osl::detail {

namespace {

fs::FileType type_of(mode_t m) {
  if (S_ISREG(m)) return fs::FileType::regular;
  if (S_ISDIR(m)) return fs::FileType::directory;
  if (S_ISLNK(m)) return fs::FileType::symlink;
  if (S_ISFIFO(m)) return fs::FileType::fifo;
  if (S_ISSOCK(m)) return fs::FileType::socket;
  if (S_ISBLK(m)) return fs::FileType::block;
  if (S_ISCHR(m)) return fs::FileType::character;
  return fs::FileType::unknown;
}

fs::FileType type_of_dirent(unsigned char t) {
  switch (t) {
    case DT_REG: return fs::FileType::regular;
    case DT_DIR: return fs::FileType::directory;
    case DT_LNK: return fs::FileType::symlink;
    case DT_FIFO: return fs::FileType::fifo;
    case DT_SOCK: return fs::FileType::socket;
    case DT_BLK: return fs::FileType::block;
    case DT_CHR: return fs::FileType::character;
    default: return fs::FileType::unknown;
  }
}

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

}  // namespace

std::expected<Done, Error> exec_create_dir(const ResolvedPath& p, const fs::CreateDir& op) {
  if (!op.recursive) {
    if (::mkdirat(p.parent.get(), p.name.c_str(), op.mode) != 0) {
      return std::unexpected(Error::from_errno(errno, fmt::format("creating directory {}", shown_path(p.path))));
    }
    return Done{};
  }
  UniqueFd cur(::fcntl(p.parent.get(), F_DUPFD_CLOEXEC, 0));
  if (!cur) return std::unexpected(Error::from_errno(errno, "dup"));
  for (const auto& part : p.missing) {
    if (::mkdirat(cur.get(), part.c_str(), op.mode) != 0 && errno != EEXIST) {
      return std::unexpected(Error::from_errno(errno, fmt::format("creating directory {}", shown_path(p.path))));
    }
    const int next = sys_openat2(cur.get(), part.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kStrictResolve);
    if (next < 0) {
      const int err = errno;
      if (err == ENOTDIR) {
        return std::unexpected(Error{ErrorCategory::already_exists, err, 0,
                                     fmt::format("{}: a path component exists and is not a directory", shown_path(p.path))});
      }
      return std::unexpected(Error::from_errno(err, shown_path(p.path)));
    }
    cur.reset(next);
  }
  return Done{};
}

std::expected<fs::List::Result, Error> exec_list(const ResolvedPath& p) {
  auto fd = open_beneath(p, O_RDONLY | O_DIRECTORY);
  if (!fd) return std::unexpected(fd.error());
  const int raw = fd->release();
  DirPtr dir(::fdopendir(raw));
  if (!dir) {
    const int err = errno;
    ::close(raw);
    return std::unexpected(Error::from_errno(err, shown_path(p.path)));
  }
  fs::List::Result out;
  errno = 0;
  while (dirent* e = ::readdir(dir.get())) {
    const std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    fs::FileType t = type_of_dirent(e->d_type);
    if (t == fs::FileType::unknown) {
      struct stat st {};
      if (::fstatat(::dirfd(dir.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) t = type_of(st.st_mode);
    }
    out.push_back(fs::DirEntry{std::string(n), t});
  }
  if (errno != 0) return std::unexpected(Error::from_errno(errno, fmt::format("listing {}", shown_path(p.path))));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::expected<fs::FileInfo, Error> exec_stat(const ResolvedPath& p) {
  struct stat st {};
  // The resolver already followed a final symlink when asked to; what is
  // left is the object itself (and the resolver may have stat'ed it already).
  if (p.final_stat) {
    st = *p.final_stat;
  } else if (::fstatat(p.parent.get(), p.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return std::unexpected(Error::from_errno(errno, shown_path(p.path)));
  }
  return file_info(st);
}

fs::FileInfo file_info(const struct ::stat& st) {
  fs::FileInfo info;
  info.type = type_of(st.st_mode);
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.inode = st.st_ino;
  info.nlink = st.st_nlink;
  info.mtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  return info;
}

std::expected<Done, Error> exec_delete(const ResolvedPath& p, const fs::Delete& op, const EntryVeto& veto) {
  if (p.path == "/") return std::unexpected(Error::make(ErrorCategory::invalid_argument, "refusing to delete /"));
  struct stat st {};
  if (::fstatat(p.parent.get(), p.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return std::unexpected(Error::from_errno(errno, shown_path(p.path)));
  }
  if (S_ISDIR(st.st_mode)) {
    if (op.recursive) {
      auto fd = open_beneath(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (!fd) return std::unexpected(fd.error());
      std::vector<KeptEntry> kept;
      if (auto r = remove_contents(fd->release(), p.path, veto, kept); !r) return std::unexpected(r.error());
      if (!kept.empty()) {
        return std::unexpected(Error{ErrorCategory::denied, 0, 0,
                                     fmt::format("{}: kept {} {} the policy does not allow deleting (everything else "
                                                 "was removed): {}",
                                                 shown_path(p.path), kept.size(), kept.size() == 1 ? "entry" : "entries",
                                                 describe_kept(kept))});
      }
    }
    if (::unlinkat(p.parent.get(), p.name.c_str(), AT_REMOVEDIR) != 0) {
      const int err = errno;
      if (err == ENOTEMPTY || err == EEXIST) {
        return std::unexpected(Error{ErrorCategory::invalid_argument, err, 0,
                                     fmt::format("{}: directory not empty; delete it with the recursive flag", shown_path(p.path))});
      }
      return std::unexpected(Error::from_errno(err, fmt::format("removing {}", shown_path(p.path))));
    }
    return Done{};
  }
  if (::unlinkat(p.parent.get(), p.name.c_str(), 0) != 0) {
    return std::unexpected(Error::from_errno(errno, fmt::format("removing {}", shown_path(p.path))));
  }
  return Done{};
}

std::expected<Done, Error> exec_set_permissions(const ResolvedPath& p, const fs::SetPermissions& op) {
  if ((op.mode & ~07777u) != 0) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, fmt::format("mode {:o} has bits outside 07777", op.mode)));
  }
  const auto swapped = [&] {
    return Error{ErrorCategory::permission, ELOOP, 0,
                 fmt::format("{}: changed into a symbolic link after the policy check; refused", shown_path(p.path))};
  };
  // fchmodat2 (Linux 6.6) with AT_SYMLINK_NOFOLLOW: one call on the name
  // beneath the pinned parent, no /proc needed; a symlink swapped in is
  // refused by the kernel (EOPNOTSUPP), never followed.
  if (sys_fchmodat2(p.parent.get(), p.name.c_str(), op.mode, AT_SYMLINK_NOFOLLOW) == 0) return Done{};
  if (errno == EOPNOTSUPP) return std::unexpected(swapped());
  if (errno != ENOSYS) return std::unexpected(Error::from_errno(errno, fmt::format("chmod {}", shown_path(p.path))));

  // Older kernels: chmod through the pinned fd (fchmod refuses O_PATH fds,
  // /proc/self/fd does not) ...
  auto fd = open_beneath(p, O_PATH);
  if (!fd) return std::unexpected(fd.error());
  const auto proc = fmt::format("/proc/self/fd/{}", fd->get());
  if (::chmod(proc.c_str(), op.mode) == 0) return Done{};
  if (errno != ENOENT) return std::unexpected(Error::from_errno(errno, fmt::format("chmod {}", shown_path(p.path))));
  // ... and without /proc, fchmod on a real fd: files and directories can be
  // opened for reading without side effects (O_NONBLOCK: no FIFO wait).
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return std::unexpected(Error::from_errno(errno, shown_path(p.path)));
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    return std::unexpected(Error{ErrorCategory::unsupported, ENOSYS, 0,
                                 fmt::format("{}: changing the mode of a {} needs fchmodat2 (Linux 6.6) or /proc", shown_path(p.path),
                                             S_ISLNK(st.st_mode) ? "symbolic link" : "special file")});
  }
  auto rd = open_beneath(p, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
  if (!rd) return std::unexpected(rd.error());
  if (::fchmod(rd->get(), op.mode) != 0) return std::unexpected(Error::from_errno(errno, fmt::format("chmod {}", shown_path(p.path))));
  return Done{};
}

std::expected<Done, Error> exec_rename(const ResolvedPath& from, const ResolvedPath& to, const fs::Rename& op,
                                       const EntryVeto& veto) {
  if (from.path == "/" || to.path == "/") return std::unexpected(Error::make(ErrorCategory::invalid_argument, "cannot rename /"));
  struct stat st {};
  const bool from_is_dir = ::fstatat(from.parent.get(), from.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
  if (to.names_directory && !from_is_dir) {
    return std::unexpected(Error{ErrorCategory::not_found, ENOTDIR, 0,
                                 fmt::format("{}/: not a directory (a trailing '/' on the target asks for one, and {} is not)",
                                             shown_path(to.path), shown_path(from.path))});
  }
  if (veto && from_is_dir) {
    // A rename moves the whole tree at once, so it cannot keep what a deny
    // rule protects: one objection refuses it. Entries created between this
    // walk and renameat2 are not seen (the kernel offers no atomic check).
    auto fd = open_beneath(from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd) return std::unexpected(fd.error());
    auto vetoed = find_vetoed(fd->release(), from.path, veto, 100);
    if (!vetoed) return std::unexpected(vetoed.error());
    if (!vetoed->empty()) {
      return std::unexpected(Error{ErrorCategory::denied, 0, 0,
                                   fmt::format("{}: not renamed: the policy does not allow moving {}{}", shown_path(from.path),
                                               describe_kept(*vetoed), vetoed->size() >= 100 ? " (search stopped at 100)" : "")});
    }
  }
  const unsigned flags = op.replace ? 0u : RENAME_NOREPLACE;
  if (io::renameat(from.parent.get(), from.name.c_str(), to.parent.get(), to.name.c_str(), flags) != 0) {
    return std::unexpected(Error::from_errno(errno, fmt::format("renaming {} to {}", shown_path(from.path), shown_path(to.path))));
  }
  return Done{};
}

}  // namespace airssys::osl::detail

namespace airssys::osl::fs {
std::string_view to_string(FileType t) noexcept {
  switch (t) {
    case FileType::regular: return "file";
    case FileType::directory: return "dir";
    case FileType::symlink: return "symlink";
    case FileType::fifo: return "fifo";
    case FileType::socket: return "socket";
    case FileType::block: return "block";
    case FileType::character: return "char";
    case FileType::unknown: return "unknown";
  }
  return "unknown";
}

}  // namespace airssys::osl::fs
