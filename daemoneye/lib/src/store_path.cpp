#include "store_path.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/osl/unique_fd.hpp>
#include <cerrno>

namespace airssys::daemoneye {

namespace {

// mkdir -p with mode 0700 for each level it creates (std::filesystem's
// create_directories would use 0777 & ~umask).
Result<void> make_dirs(const std::filesystem::path& dir) {
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return fail_errno(errno, fmt::format("cannot create directory {}", partial.string()));
    }
  }
  return {};
}

Result<void> check_not_symlink(const std::filesystem::path& p, bool must_exist) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) {
    if (errno == ENOENT && !must_exist) return {};
    return fail_errno(errno, p.string());
  }
  if (S_ISLNK(st.st_mode)) return fail(ErrorCategory::denied, fmt::format("refusing {}: it is a symbolic link", p.string()));
  if (!S_ISREG(st.st_mode))
    return fail(ErrorCategory::invalid_input, fmt::format("refusing {}: not a regular file", p.string()));
  return {};
}

}  // namespace

Result<void> prepare_database_dir(const std::filesystem::path& db) {
  if (db.empty()) return fail(ErrorCategory::invalid_input, "database path is empty");
  if (!db.has_filename())
    return fail(ErrorCategory::invalid_input, fmt::format("database path {} names a directory", db.string()));
  std::filesystem::path dir = db.parent_path();
  if (dir.empty()) dir = ".";

  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) {
    if (errno != ENOENT) return fail_errno(errno, dir.string());
    if (auto r = make_dirs(dir); !r) return r;
    if (::stat(dir.c_str(), &dst) != 0) return fail_errno(errno, dir.string());
  }
  if (!S_ISDIR(dst.st_mode)) return fail(ErrorCategory::invalid_input, fmt::format("{}: not a directory", dir.string()));
  if ((dst.st_mode & S_IWOTH) != 0) {
    return fail(ErrorCategory::denied, fmt::format(
        "refusing database directory {}: it is writable by everyone (mode {:04o}); use a directory only its "
        "owner can write",
        dir.string(), dst.st_mode & 07777));
  }
  if (dst.st_uid != ::geteuid() && dst.st_uid != 0) {
    return fail(ErrorCategory::denied,
                fmt::format("refusing database directory {}: owned by uid {}, not by us ({}) or root", dir.string(),
                            dst.st_uid, ::geteuid()));
  }
  return {};
}

Result<void> prepare_database_path(const std::filesystem::path& db) {
  if (auto r = prepare_database_dir(db); !r) return r;
  if (auto r = check_not_symlink(db, /*must_exist=*/false); !r) return r;
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    if (auto r = check_not_symlink(db.string() + suffix, false); !r) return r;
  }

  osl::UniqueFd fd(::open(db.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600));
  if (!fd) return fail_errno(errno, fmt::format("cannot open {}", db.string()));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(errno, db.string());
  if (!S_ISREG(st.st_mode))
    return fail(ErrorCategory::invalid_input, fmt::format("refusing {}: not a regular file", db.string()));
  // The database holds command lines and alerts: owner only.
  if ((st.st_mode & 077) != 0 && ::fchmod(fd.get(), 0600) != 0) {
    return fail_errno(errno, fmt::format("{} has mode {:04o} and cannot be narrowed to 0600", db.string(),
                                         st.st_mode & 07777));
  }
  return {};
}

}  // namespace airssys::daemoneye
