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

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

std::expected<sockaddr_un, Error> make_addr(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& s = path.native();
  if (s.empty() || s.size() >= sizeof(addr.sun_path))
    return std::unexpected(Error::make(Errc::invalid_argument, "socket path '" + s + "' is empty or longer than " +
                                                                   std::to_string(sizeof(addr.sun_path) - 1) +
                                                                   " bytes"));
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

}  // namespace

std::expected<void, Error> ensure_private_dir(const std::filesystem::path& dir) {
  const std::string d = dir.empty() ? std::string(".") : dir.native();
  if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return std::unexpected(Error::from_errno(errno, "mkdir " + d));
  struct stat st {};
  if (::lstat(d.c_str(), &st) != 0) return std::unexpected(Error::from_errno(errno, "stat " + d));
  if (!S_ISDIR(st.st_mode))
    return std::unexpected(Error::make(Errc::invalid_argument, "socket directory " + d + " is not a directory"));
  if (st.st_uid != ::geteuid())
    return std::unexpected(Error::make(Errc::invalid_argument, "socket directory " + d + " is owned by uid " +
                                                                   std::to_string(st.st_uid) + ", not by us"));
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::unexpected(Error::make(Errc::invalid_argument, "socket directory " + d + " has mode " + mode +
                                                                   "; it must be 0700 (no group/other access)"));
  }
  return {};
}

std::expected<UniqueFd, Error> listen_unix(const std::filesystem::path& path, int backlog) {
  auto addr = make_addr(path);
  if (!addr) return std::unexpected(addr.error());
  const std::string& p = path.native();
  struct stat st {};
  if (::lstat(p.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return std::unexpected(Error::make(Errc::invalid_argument, p + " exists and is not a socket"));
    if (connect_unix(path)) return std::unexpected(Error::make(Errc::invalid_argument, "a broker is already listening on " + p));
    if (::unlink(p.c_str()) != 0) return std::unexpected(Error::from_errno(errno, "unlink stale socket " + p));
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return std::unexpected(Error::from_errno(errno, "socket"));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0)
    return std::unexpected(Error::from_errno(errno, "bind " + p));
  // The 0700 directory already keeps others out; 0600 on the socket too.
  if (::chmod(p.c_str(), 0600) != 0) return std::unexpected(Error::from_errno(errno, "chmod " + p));
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
    err.code = Errc::not_connected;
    return std::unexpected(std::move(err));
  }
  return fd;
}

}  // namespace airssys::bus::detail
