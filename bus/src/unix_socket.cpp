#include "unix_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace airssys::bus::detail {

namespace {

std::expected<sockaddr_un, Error> make_addr(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& s = path.native();
  if (s.empty() || s.size() >= sizeof(addr.sun_path))
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, "socket path '" + s + "' is empty or longer than " +
                                                                   std::to_string(sizeof(addr.sun_path) - 1) +
                                                                   " bytes"));
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

// The directory open at `fd` (named `d` in errors) must be ours and closed
// to others (and to the group unless `group`).
std::expected<void, Error> check_dir_fd(const UniqueFd& fd, const std::string& d, std::optional<gid_t> group,
                                        struct stat& st) {
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(Error::from_errno(errno, "stat " + d));
  if (!S_ISDIR(st.st_mode))
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, "socket directory " + d + " is not a directory"));
  if (st.st_uid != ::geteuid())
    return std::unexpected(Error::make(ErrorCategory::unsafe_directory, "socket directory " + d + " is owned by uid " +
                                                                   std::to_string(st.st_uid) + ", not by us"));
  const mode_t forbidden = group ? 007 : 077;
  if ((st.st_mode & forbidden) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::unexpected(Error::make(ErrorCategory::unsafe_directory,
                                       "socket directory " + d + " has mode " + mode + "; it must be " +
                                           (group ? "0770 or stricter (no access for others)"
                                                  : "0700 (no group/other access)")));
  }
  return {};
}

std::string dir_name(const std::filesystem::path& dir) { return dir.empty() ? std::string(".") : dir.native(); }

// Checked and changed through one fd, so a swapped path cannot redirect it.
UniqueFd open_dir(const std::string& d) { return UniqueFd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)); }

}  // namespace

std::expected<void, Error> ensure_private_dir(const std::filesystem::path& dir, std::optional<gid_t> group) {
  const std::string d = dir_name(dir);
  if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return std::unexpected(Error::from_errno(errno, "mkdir " + d));
  const UniqueFd fd = open_dir(d);
  if (!fd) return std::unexpected(Error::from_errno(errno, "open directory " + d));
  struct stat st {};
  if (auto c = check_dir_fd(fd, d, group, st); !c) return c;
  if (group) {
    if (st.st_gid != *group && ::fchown(fd.get(), static_cast<uid_t>(-1), *group) != 0)
      return std::unexpected(Error::from_errno(errno, "chown " + d + " to gid " + std::to_string(*group)));
    if ((st.st_mode & 07777) != 0770 && ::fchmod(fd.get(), 0770) != 0)
      return std::unexpected(Error::from_errno(errno, "chmod 0770 " + d));
  }
  return {};
}

std::expected<void, Error> check_private_dir(const std::filesystem::path& dir, std::optional<gid_t> group) {
  const std::string d = dir_name(dir);
  const UniqueFd fd = open_dir(d);
  if (!fd) {
    const int err = errno;
    struct stat dst {};
    if ((err == ENOENT || err == ENOTDIR) && ::lstat(d.c_str(), &dst) != 0) {
      // Missing: passes only where ensure_private_dir's one mkdir would work
      // (an existing parent directory we may write), else fails as it would.
      const std::string parent = dir_name(std::filesystem::path(d).parent_path());
      struct stat pst {};
      if (::stat(parent.c_str(), &pst) != 0) return std::unexpected(Error::from_errno(errno, "mkdir " + d));
      if (!S_ISDIR(pst.st_mode)) return std::unexpected(Error::from_errno(ENOTDIR, "mkdir " + d));
      if (::faccessat(AT_FDCWD, parent.c_str(), W_OK | X_OK, AT_EACCESS) != 0)
        return std::unexpected(Error::from_errno(errno, "mkdir " + d));
      return {};
    }
    return std::unexpected(Error::from_errno(err, "open directory " + d));
  }
  struct stat st {};
  return check_dir_fd(fd, d, group, st);
}

std::expected<UniqueFd, Error> listen_unix(const std::filesystem::path& path, int backlog,
                                          std::optional<gid_t> group) {
  auto addr = make_addr(path);
  if (!addr) return std::unexpected(addr.error());
  const std::string& p = path.native();
  struct stat st {};
  if (::lstat(p.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return std::unexpected(Error::make(ErrorCategory::invalid_argument, p + " exists and is not a socket"));
    if (connect_unix(path)) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "a broker is already listening on " + p));
    if (::unlink(p.c_str()) != 0) return std::unexpected(Error::from_errno(errno, "unlink stale socket " + p));
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return std::unexpected(Error::from_errno(errno, "socket"));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return std::unexpected(Error::from_errno(errno, "bind " + p));
  // The directory already keeps others out; the socket's mode says the same.
  // Not listening yet, so nobody connects before the mode is final.
  if (group && ::lchown(p.c_str(), static_cast<uid_t>(-1), *group) != 0)
    return std::unexpected(Error::from_errno(errno, "chown " + p + " to gid " + std::to_string(*group)));
  if (::chmod(p.c_str(), group ? 0660 : 0600) != 0) return std::unexpected(Error::from_errno(errno, "chmod " + p));
  if (::listen(fd.get(), backlog) != 0) return std::unexpected(Error::from_errno(errno, "listen " + p));
  return fd;
}

std::expected<UniqueFd, Error> connect_unix(const std::filesystem::path& path) {
  auto addr = make_addr(path);
  if (!addr) return std::unexpected(addr.error());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return std::unexpected(Error::from_errno(errno, "socket"));
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int e = errno;
    Error err = Error::from_errno(e, "connect " + path.native());
    err.category = ErrorCategory::not_connected;
    return std::unexpected(std::move(err));
  }
  return fd;
}

}  // namespace airssys::bus::detail
